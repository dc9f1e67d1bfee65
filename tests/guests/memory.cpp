// Nested-paging isolation: a new domain's memory is all zeros (nothing leaks in from
// the hypervisor or from other domains), and touching memory beyond its end kills
// this domain alone (the test expects to die: the harness checks that it did).
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    // Everything from 2 MiB to the end of our 16 MiB is ours and must be zero.
    const uint32_t* p = reinterpret_cast<const uint32_t*>(0x200000);
    const uint32_t* end = reinterpret_cast<const uint32_t*>(16u * 1024 * 1024);
    uint32_t nonzero = 0;
    for (; p < end; ++p) nonzero |= *p;
    CHECK(nonzero == 0, "14 MiB of fresh memory are all zeros");
    // Scribble over it, so a domain that got this memory next would see it.
    for (uint32_t* q = reinterpret_cast<uint32_t*>(0x200000); q < end; q += 1024) *q = 0xdeadbeef;
    finish("memory");
    print("now reading guest-physical 0x2000000, past the end of this domain's memory\n");
    volatile uint32_t outside = *reinterpret_cast<volatile uint32_t*>(0x2000000);
    print("FAIL: still alive after reading %#x from outside memory\n", outside);
    return 3;
}
