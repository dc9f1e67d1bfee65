#include "kernel/vm/devices/apic/apic_time.hpp"

namespace {

constexpr u64 kU64Max = ~0ull;

// a * b / c with the full 128-bit product, by the CPU's MUL and DIV (SDM vol. 2A, MUL
// and DIV: RDX:RAX = RAX * r/m64, then RAX = RDX:RAX / r/m64 with the remainder in RDX).
// DIV raises #DE when the quotient exceeds 64 bits, which the test of the high half
// against c rules out. Device time converts the TSC with this at every exit: a software
// 128-bit division took some 500 instructions once the product passed 2^64 (after about
// nine seconds of a 2 GHz TSC in nanoseconds).
u64 mul_div(u64 a, u64 b, u64 c, bool round_up) {
    if (c == 0) return kU64Max;
    u64 high, low;
    asm("mulq %[b]" : "=a"(low), "=d"(high) : "a"(a), [b] "rm"(b) : "cc");
    if (high >= c) return kU64Max;
    u64 quotient, remainder;
    asm("divq %[c]" : "=a"(quotient), "=d"(remainder) : "a"(low), "d"(high), [c] "rm"(c) : "cc");
    if (round_up && remainder != 0) return quotient == kU64Max ? kU64Max : quotient + 1;
    return quotient;
}

}  // namespace

u64 mul_div_floor(u64 a, u64 b, u64 c) { return mul_div(a, b, c, false); }
u64 mul_div_ceil(u64 a, u64 b, u64 c) { return mul_div(a, b, c, true); }

u64 LinearGuestTsc::ns_when_tsc_reaches(u64 tsc) const {
    // Ticks from device time 0 until the TSC reads `tsc`, computed exactly: tsc - offset
    // lies in (-2^63, 2^64 + 2^63); negative means already passed, beyond 2^64 never.
    u64 ticks = 0;
    if (offset_ >= 0) {
        if (tsc <= u64(offset_)) return 0;
        ticks = tsc - u64(offset_);
    } else {
        const u64 behind = u64(0) - u64(offset_);  // |offset|, without negating INT64_MIN
        ticks = tsc + behind;
        if (ticks < tsc) return kU64Max;  // beyond 2^64 ticks: never
    }
    return mul_div_ceil(ticks, kNsPerSecond, tsc_hz_);
}
