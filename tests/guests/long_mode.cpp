// Entry into 64-bit long mode from the multiboot state, then checks in 64-bit mode
// (long_mode_64.S): CPUID, a hypercall with 64-bit arguments, EFER.LMA.
#include "tests/guests/lib/guest.hpp"

extern "C" [[noreturn]] void enter_long_mode();

// long_mode_64.S compares the version hypercall's result with this literal.
static_assert(hypercall::kVersionValue == 12, "update the version in long_mode_64.S");

int guest_main(uint32_t, uint32_t) {
    CHECK(cpuid(0x80000001).edx & (1u << 29), "CPUID says long mode is there");
    print("switching to long mode\n");
    enter_long_mode();
}
