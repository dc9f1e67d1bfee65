// XCR0 validity (Intel SDM vol. 1, 13.3; vol. 2, XSETBV): bit 0 (x87) must be 1, AVX
// (bit 2) needs SSE (bit 1), and no bit the processor (here: the guest's CPUID) lacks.
#include "kernel/types.hpp"

bool valid_guest_xcr0(u64 value, u64 supported) {
    constexpr u64 kX87 = 1, kSse = 2, kAvx = 4;
    if (!(value & kX87)) return false;
    if ((value & kAvx) && !(value & kSse)) return false;
    return (value & ~supported) == 0;
}
