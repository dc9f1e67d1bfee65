#include "kernel/vm/devices/apic/apic_time.hpp"

namespace {

constexpr u64 kU64Max = ~0ull;

struct U128 {
    u64 high;
    u64 low;
};

// Schoolbook multiplication on 32-bit halves: the middle sum is at most
// (2^32-1) + (2^32-1) + (2^32-1)^2 = 2^64-1, so it cannot overflow.
U128 multiply(u64 a, u64 b) {
    const u64 a_low = a & 0xffffffff, a_high = a >> 32;
    const u64 b_low = b & 0xffffffff, b_high = b >> 32;
    const u64 low_low = a_low * b_low;
    const u64 high_low = a_high * b_low;
    const u64 low_high = a_low * b_high;
    const u64 high_high = a_high * b_high;
    const u64 middle = (low_low >> 32) + (high_low & 0xffffffff) + low_high;
    return {high_high + (high_low >> 32) + (middle >> 32), (middle << 32) | (low_low & 0xffffffff)};
}

// (high:low) / divisor when the quotient fits in 64 bits (high < divisor): restoring
// division one bit at a time. Before each step remainder < divisor, so 2*remainder+1 <
// 2*divisor; the bit shifted out of the top (carry) means the true value exceeds 2^64 >
// divisor, and the wrapping subtraction then yields the true difference.
u64 divide(U128 dividend, u64 divisor, u64& remainder) {
    if (dividend.high == 0) {
        remainder = dividend.low % divisor;
        return dividend.low / divisor;
    }
    u64 rest = dividend.high, quotient = 0;
    for (int bit = 63; bit >= 0; --bit) {
        const bool carry = (rest >> 63) != 0;
        rest = (rest << 1) | ((dividend.low >> bit) & 1);
        quotient <<= 1;
        if (carry || rest >= divisor) {
            rest -= divisor;
            quotient |= 1;
        }
    }
    remainder = rest;
    return quotient;
}

u64 mul_div(u64 a, u64 b, u64 c, bool round_up) {
    if (c == 0) return kU64Max;
    const U128 product = multiply(a, b);
    if (product.high >= c) return kU64Max;
    u64 remainder = 0;
    const u64 quotient = divide(product, c, remainder);
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
