// The runtime of Vireo's guest test kernels (32-bit, freestanding): port I/O, COM1
// output, a small printf, exceptions caught through the IDT, the hypercall, and the
// CHECK macro that counts failures. A test kernel defines guest_main and returns its
// exit code, which reaches the hypervisor through port 0xf4.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/vm/hypercall_abi.hpp"

extern "C" int guest_main(uint32_t magic, uint32_t info);
extern "C" [[noreturn]] void guest_exit(int code);

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint16_t inw(uint16_t port) {
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint32_t inl(uint16_t port) {
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

struct Cpuid {
    uint32_t eax, ebx, ecx, edx;
};
inline Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    Cpuid r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

// True on Intel CPUs (CPUID vendor GenuineIntel): hypercalls use VMCALL there and
// VMMCALL on AMD; the other one is #UD (docs/hypercalls.md). Set by runtime_init.
extern bool g_intel;

// A hypercall with the ABI of docs/hypercalls.md.
inline int32_t call_hypervisor(uint32_t number, uint32_t a1 = 0, uint32_t a2 = 0, uint32_t a3 = 0) {
    int32_t result;
    if (g_intel)
        asm volatile("vmcall" : "=a"(result) : "a"(number), "b"(a1), "c"(a2), "d"(a3) : "memory");
    else
        asm volatile("vmmcall" : "=a"(result) : "a"(number), "b"(a1), "c"(a2), "d"(a3) : "memory");
    return result;
}

// The same with a fourth argument (ESI), for the control calls.
inline int32_t call_hypervisor4(uint32_t number, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4) {
    int32_t result;
    if (g_intel)
        asm volatile("vmcall" : "=a"(result) : "a"(number), "b"(a1), "c"(a2), "d"(a3), "S"(a4) : "memory");
    else
        asm volatile("vmmcall" : "=a"(result) : "a"(number), "b"(a1), "c"(a2), "d"(a3), "S"(a4) : "memory");
    return result;
}

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// v / base (v becomes the quotient) and v % base (returned), base below 65536, with 32-bit
// arithmetic only: a 32-bit freestanding guest has no libgcc for 64-bit division.
unsigned divide_in_place(uint64_t& v, unsigned base);

// Runs an MSR access; returns the exception vector it raised (13 for #GP) or -1.
int try_rdmsr(uint32_t msr, uint64_t& value);
int try_wrmsr(uint32_t msr, uint64_t value);
// XSETBV; returns the vector it raised or -1. XGETBV of XCR0. CR4.OSXSAVE on.
int try_xsetbv(uint32_t index, uint64_t value);
uint64_t xgetbv();
void enable_osxsave();

// Runs `run`, whose one instruction of `length` bytes is expected to fault; returns the
// vector it raised (the handler steps over it) or -1.
int try_instruction(void (*run)(), uint32_t length);
// A test's own exception handling: called first for every exception; true when it took
// the exception (then EIP and EFLAGS are what the return to the guest restores).
extern bool (*g_exception_hook)(uint32_t vector, uint32_t& eip, uint32_t& eflags);
// The error code of the exception the hook is called for (0 for vectors without one).
extern volatile uint32_t g_exception_error_code;

// Interrupt vectors 64 and 65 have handlers that count here.
extern volatile uint32_t interrupt_count[2];
void enable_interrupts();
void disable_interrupts();

// CR0.MP/NE on, EM off; CR4.OSFXSR and OSXMMEXCPT on: SSE instructions work.
void enable_sse();

extern int g_failures;
#define CHECK(cond, ...)                \
    do {                                \
        if (cond) {                     \
            print("ok   " __VA_ARGS__); \
        } else {                        \
            ++g_failures;               \
            print("FAIL " __VA_ARGS__); \
        }                               \
        print("\n");                    \
    } while (0)

// Prints "RESULT: PASS" or "RESULT: FAIL (n)" and returns the exit code.
int finish(const char* test_name);

inline bool memcmp_equal(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

extern "C" void* memset(void* d, int c, size_t n);
extern "C" void* memcpy(void* d, const void* s, size_t n);
