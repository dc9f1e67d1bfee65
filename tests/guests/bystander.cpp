// A domain that stays up while the others run and end: it halts between timer ticks and
// passes once it is the only domain left, showing that another domain's end (a Linux
// guest's power-off, a crash) leaves it running.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

int guest_main(uint32_t, uint32_t) {
    CHECK(call_hypervisor(kDomainsAlive) >= 2, "another domain is running beside this one");
    // At most 30 minutes, in 100 ms naps.
    uint32_t naps = 0;
    while (call_hypervisor(kDomainsAlive) > 1 && naps < 18000) {
        call_hypervisor(kSetTimer, 100000, 64);
        asm volatile("sti; hlt; cli" ::: "memory");
        ++naps;
    }
    CHECK(call_hypervisor(kDomainsAlive) == 1, "the other domains ended while this one ran on (%u s)", naps / 10);
    return finish("bystander");
}
