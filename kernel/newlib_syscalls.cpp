// newlib's system-call layer. The hypervisor has no files, processes or sbrk heap:
// anything in libc that reaches one of these is a bug, so each one panics by name
// instead of returning an error that libc might quietly swallow. (newlib is built
// with MISSING_SYSCALL_NAMES, so it calls `write`, not `_write`.)
#include <sys/stat.h>
#include <sys/types.h>

#include "kernel/panic.hpp"

#define VIREO_UNSUPPORTED_SYSCALL(name) \
    panic("newlib called the system call '%s', which the hypervisor does not provide", name)

extern "C" {
void* sbrk(ptrdiff_t) { VIREO_UNSUPPORTED_SYSCALL("sbrk"); }
int write(int, const void*, size_t) { VIREO_UNSUPPORTED_SYSCALL("write"); }
int read(int, void*, size_t) { VIREO_UNSUPPORTED_SYSCALL("read"); }
int close(int) { VIREO_UNSUPPORTED_SYSCALL("close"); }
off_t lseek(int, off_t, int) { VIREO_UNSUPPORTED_SYSCALL("lseek"); }
int fstat(int, struct stat*) { VIREO_UNSUPPORTED_SYSCALL("fstat"); }
int isatty(int) { VIREO_UNSUPPORTED_SYSCALL("isatty"); }
int kill(int, int) { VIREO_UNSUPPORTED_SYSCALL("kill"); }
int getpid() { VIREO_UNSUPPORTED_SYSCALL("getpid"); }
[[noreturn]] void _exit(int) { VIREO_UNSUPPORTED_SYSCALL("_exit"); }
void __assert_func(const char* file, int line, const char*, const char* expression) {
    panic("newlib assertion failed: %s at %s:%d", expression, file, line);
}
}
