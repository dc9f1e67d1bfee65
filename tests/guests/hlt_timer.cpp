// HLT blocks the vCPU until an interrupt: the hypervisor's virtual timer (hypercall
// set_timer) injects vector 64 and wakes it.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

int guest_main(uint32_t, uint32_t) {
    CHECK(call_hypervisor(kSetTimer, 1000, 7) == kErrorInvalid, "a timer on vector 7 is refused");
    CHECK(call_hypervisor(kSetTimer, 120000000, 64) == kErrorInvalid, "a timer beyond 60 s is refused");

    const uint64_t start = rdtsc();
    CHECK(call_hypervisor(kSetTimer, 20000, 64) == 0, "a 20 ms timer on vector 64 is accepted");
    // STI's interrupt shadow covers HLT, so the interrupt cannot slip in between.
    asm volatile("sti; hlt; cli" ::: "memory");
    CHECK(interrupt_count[0] == 1, "HLT returned after exactly one timer interrupt (%u)", interrupt_count[0]);
    const uint64_t cycles = rdtsc() - start;
    CHECK(cycles > 0, "time went on while halted (%llu TSC cycles)", cycles);

    // Far in the future, so it cannot fire before it is cancelled.
    CHECK(call_hypervisor(kSetTimer, 50000000, 65) == 0, "a second timer, on vector 65, in 50 s");
    CHECK(call_hypervisor(kSetTimer, 0, 65) == 0, "cancelled");
    CHECK(call_hypervisor(kSetTimer, 10000, 64) == 0, "a third timer, on vector 64");
    asm volatile("sti; hlt; cli" ::: "memory");
    CHECK(interrupt_count[0] == 2 && interrupt_count[1] == 0, "only the live timer fired (%u, %u)", interrupt_count[0],
          interrupt_count[1]);

    // With interrupts masked the request waits: it arrives at STI.
    CHECK(call_hypervisor(kSetTimer, 1000, 65) == 0, "a timer while IF=0");
    for (int i = 0; i < 2000000 && interrupt_count[1] == 0; ++i) asm volatile("" ::: "memory");
    CHECK(interrupt_count[1] == 0, "nothing arrives while IF=0");
    asm volatile("sti; nop; nop; cli" ::: "memory");
    for (int i = 0; i < 100 && interrupt_count[1] == 0; ++i) asm volatile("sti; hlt; cli" ::: "memory");
    CHECK(interrupt_count[1] == 1, "it arrives once interrupts are enabled");
    return finish("hlt_timer");
}
