// VIREO_ASSERT: an always-on check of an invariant. In the hypervisor a failed check
// panics (registers, backtrace, all CPUs stopped); in host unit tests it aborts, so
// GoogleTest death tests can observe it. This is the only place that knows the
// difference between the two builds.
#pragma once

#if __STDC_HOSTED__
#include <cstdio>
#include <cstdlib>
#define VIREO_ASSERT(cond)                                                                      \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            std::fprintf(stderr, "assertion failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)
#else
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#define VIREO_ASSERT(cond)                                                              \
    do {                                                                                \
        if (!(cond)) panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__); \
    } while (0)
#endif
