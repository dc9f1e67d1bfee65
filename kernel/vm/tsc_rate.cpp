#include "kernel/vm/tsc_rate.hpp"

// floor(guest_hz * 2^48 / host_hz) in 64-bit steps (the hypervisor has no 128-bit
// division): the integer part, then three 16-bit digits of the fraction, each from the
// remainder shifted up 16 bits. Rates below 2^47 Hz (140 THz) keep that shift exact.
u64 tsc_multiplier_for(u64 guest_hz, u64 host_hz) {
    constexpr u64 kMaxHz = 1ull << 47;
    if (guest_hz == 0 || host_hz == 0 || guest_hz >= kMaxHz || host_hz >= kMaxHz) return 0;
    u64 multiplier = guest_hz / host_hz, rest = guest_hz % host_hz;
    if (multiplier >> 16) return 0;  // beyond the format's 16 integer bits
    for (int digit = 0; digit < 3; ++digit) {
        rest <<= 16;
        multiplier = (multiplier << 16) | (rest / host_hz);
        rest %= host_hz;
    }
    return multiplier;
}

bool tsc_rates_match(u64 a_hz, u64 b_hz) {
    const u64 difference = a_hz > b_hz ? a_hz - b_hz : b_hz - a_hz;
    const u64 larger = a_hz > b_hz ? a_hz : b_hz;
    return difference <= larger / 200;
}
