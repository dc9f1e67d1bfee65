// Conversions between the guest clock's nanoseconds and the tick counts of a device's
// input clock (the PIT's 1.193182 MHz, the RTC's 32.768 kHz divider chain). Integer
// arithmetic only, exact, and free of u64 overflow for every input: `ns * hz` alone
// would overflow after about 4 hours at the PIT's rate, so whole seconds and the
// remainder are converted separately (the remainder times hz stays below 2^63 for any
// hz under 9.2 GHz).
#pragma once

#include "kernel/types.hpp"

inline constexpr u64 kNsPerSecond = 1'000'000'000;

// Input clock ticks completed `ns` after a tick edge: floor(ns * hz / 1e9).
constexpr u64 ns_to_ticks(u64 ns, u64 hz) { return (ns / kNsPerSecond) * hz + (ns % kNsPerSecond) * hz / kNsPerSecond; }

// The earliest time after a tick edge at which ns_to_ticks() reaches `ticks`:
// ceil(ticks * 1e9 / hz). Saturates at ~0 when that time does not fit in u64.
constexpr u64 ticks_to_ns_ceil(u64 ticks, u64 hz) {
    const u64 whole_seconds = ticks / hz;
    const u64 rest = ticks % hz;
    if (whole_seconds >= ~0ull / kNsPerSecond) return ~0ull;
    const u64 whole_ns = whole_seconds * kNsPerSecond;
    const u64 rest_ns = (rest * kNsPerSecond + hz - 1) / hz;
    return rest_ns > ~0ull - whole_ns ? ~0ull : whole_ns + rest_ns;
}

// a + b, or ~0 (kNoDeadline) when the sum does not fit.
constexpr u64 saturating_add(u64 a, u64 b) { return b > ~0ull - a ? ~0ull : a + b; }

// a - b, or 0 when b is later than a (a clock that went backwards reads as no time).
constexpr u64 saturating_sub(u64 a, u64 b) { return a > b ? a - b : 0; }
