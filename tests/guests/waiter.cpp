// A domain that stays alive for a while, halting between timer interrupts, so that the
// harness can type a debug key on the hypervisor console and read the exit counters.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

int guest_main(uint32_t, uint32_t) {
    CHECK(cpuid(0).eax > 0, "one CPUID, so the counters have one to show");
    print("waiting for the debug key\n");
    for (int i = 0; i < 150; ++i) {
        call_hypervisor(kSetTimer, 10000, 64);
        asm volatile("sti; hlt; cli" ::: "memory");
    }
    CHECK(interrupt_count[0] == 150, "150 timer interrupts (%u)", interrupt_count[0]);
    return finish("waiter");
}
