// A guest TSC that keeps the rate it had where its domain started, on a host whose TSC
// runs at another (a domain restored or migrated from another machine): Linux calibrated
// its timers by that rate at boot (the TSC-deadline timer, the TSC clocksource), and would
// otherwise see its time run as much faster or slower. The guest's TSC is the host's
// times a multiplier, plus an offset; the multiplier is in VMX's format (Intel SDM vol. 3C
// 25.6.5, "TSC scaling": an unsigned fixed-point number with 48 fractional bits), which
// the backends that can scale take as it is. Pure; unit-tested.
#pragma once

#include "kernel/types.hpp"

inline constexpr u64 kTscMultiplierOne = 1ull << 48;

// The guest's TSC for the host's `host_tsc`, before the offset.
inline u64 scale_tsc(u64 host_tsc, u64 multiplier) {
    if (multiplier == kTscMultiplierOne) return host_tsc;
    return u64((static_cast<unsigned __int128>(host_tsc) * multiplier) >> 48);
}

// The multiplier that makes a host TSC of `host_hz` count at `guest_hz`; 0 when the ratio
// is out of the format's range (a 2^16 times faster guest) or a rate is 0.
u64 tsc_multiplier_for(u64 guest_hz, u64 host_hz);

// Whether two measured TSC rates are the same clock's, within what calibration against
// another timer leaves (0.5 %): a domain moving between two machines of the same TSC
// rate then keeps the host's unscaled. Two QEMUs on one host, whose TSCs are that host's,
// calibrated 2097241 and 2099557 kHz (0.11 % apart) in one test run; scaling that in
// software would make every RDTSC of the guest exit.
bool tsc_rates_match(u64 a_hz, u64 b_hz);
