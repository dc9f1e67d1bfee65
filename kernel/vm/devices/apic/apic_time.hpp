// Integer time arithmetic for the APIC timers: a*b/c without overflow and without
// 128-bit division (no __udivti3 in the freestanding build, no floating point), and the
// linear guest TSC most platforms need.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_interfaces.hpp"

inline constexpr u64 kNsPerSecond = 1'000'000'000;

// floor(a * b / c) and ceil(a * b / c) with a 128-bit intermediate product; ~0 when the
// result does not fit in 64 bits or c is 0.
u64 mul_div_floor(u64 a, u64 b, u64 c);
u64 mul_div_ceil(u64 a, u64 b, u64 c);

// A guest TSC that runs at a fixed frequency: TSC(ns) = offset + ns * tsc_hz / 10^9, the
// usual case (the guest's RDTSC is the host TSC plus an offset, and GuestClock derives
// from the same host TSC). The offset is signed: after the guest writes IA32_TSC with a
// small value, device time 0 lies "before" TSC 0.
class LinearGuestTsc final : public GuestTsc {
public:
    LinearGuestTsc(u64 tsc_hz, i64 tsc_at_zero) : tsc_hz_(tsc_hz ? tsc_hz : 1), offset_(tsc_at_zero) {}

    // The guest's TSC at device time now_ns (wraps like the hardware counter).
    u64 tsc_at(u64 now_ns) const { return u64(offset_) + mul_div_floor(now_ns, tsc_hz_, kNsPerSecond); }
    u64 ns_when_tsc_reaches(u64 tsc) const override;
    // When the guest writes IA32_TSC: its TSC reads `tsc` at device time now_ns.
    void set_tsc(u64 now_ns, u64 tsc) { offset_ = i64(tsc - mul_div_floor(now_ns, tsc_hz_, kNsPerSecond)); }
    u64 tsc_hz() const { return tsc_hz_; }

private:
    u64 tsc_hz_;
    i64 offset_;
};
