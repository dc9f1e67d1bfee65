// Exit-cost benchmark (not a test): the round trip of an intercepted CPUID and of a null
// hypercall, in guest TSC cycles per operation. Under QEMU `-icount shift=0` the TSC
// counts executed instructions, which makes the figure deterministic.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

namespace {

constexpr uint32_t kIterations = 2000;

uint64_t measure_cpuid() {
    const uint64_t start = rdtsc();
    for (uint32_t i = 0; i < kIterations; ++i) (void)cpuid(0);
    return rdtsc() - start;
}

uint64_t measure_hypercall() {
    const uint64_t start = rdtsc();
    for (uint32_t i = 0; i < kIterations; ++i) (void)call_hypervisor(kVersion);
    return rdtsc() - start;
}

uint64_t measure_baseline() {  // the loop and RDTSC themselves, nothing that exits
    const uint64_t start = rdtsc();
    for (uint32_t i = 0; i < kIterations; ++i) asm volatile("" ::: "memory");
    return rdtsc() - start;
}

// 64-bit by 32-bit division with 32-bit operations only (no libgcc in this guest).
uint32_t per_iteration(uint64_t total) {
    uint32_t hi = uint32_t(total >> 32), lo = uint32_t(total);
    uint32_t q_hi = hi / kIterations, r = hi % kIterations;
    uint64_t rest = (uint64_t(r) << 32) | lo;
    uint32_t q_lo = 0;
    for (int bit = 31; bit >= 0; --bit) {
        const uint64_t chunk = uint64_t(kIterations) << bit;
        if (rest >= chunk) {
            rest -= chunk;
            q_lo |= 1u << bit;
        }
    }
    return q_hi ? 0xffffffffu : q_lo;
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    (void)measure_cpuid();  // warm up
    const uint64_t baseline = measure_baseline();
    const uint64_t cpuid_total = measure_cpuid();
    const uint64_t hypercall_total = measure_hypercall();
    print("bench: %u iterations each\n", kIterations);
    print("bench: loop baseline: %u TSC cycles per iteration\n", per_iteration(baseline));
    print("bench: intercepted CPUID round trip: %u TSC cycles\n", per_iteration(cpuid_total - baseline));
    print("bench: null hypercall round trip: %u TSC cycles\n", per_iteration(hypercall_total - baseline));
    return 0;
}
