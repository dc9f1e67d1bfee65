#include "kernel/vm/tsc_rate.hpp"

#include <gtest/gtest.h>

namespace {

TEST(TscRate, OneLeavesTheHostsTsc) {
    EXPECT_EQ(scale_tsc(123456789, kTscMultiplierOne), 123456789u);
    EXPECT_EQ(scale_tsc(~0ull, kTscMultiplierOne), ~0ull);
    EXPECT_EQ(tsc_multiplier_for(2'000'000'000, 2'000'000'000), kTscMultiplierOne);
}

// A domain from QEMU (a 2.994 GHz host TSC) restored under Bochs (50 MHz): its TSC counts
// the QEMU host's rate there, one second of the Bochs host's being one of the guest's.
TEST(TscRate, ASlowHostsTscIsScaledUp) {
    const u64 guest_hz = 2'994'374'000, host_hz = 50'000'000;
    const u64 m = tsc_multiplier_for(guest_hz, host_hz);
    ASSERT_NE(m, 0u);
    const u64 one_second = scale_tsc(host_hz, m);
    EXPECT_LE(one_second, guest_hz);
    EXPECT_GE(one_second, guest_hz - 1);
    // An hour on: no more than a tick per 2^48 lost to the multiplier's rounding.
    const u64 hour = scale_tsc(3600 * host_hz, m);
    EXPECT_LE(hour, 3600 * guest_hz);
    EXPECT_GE(hour, 3600 * guest_hz - 3600);
}

TEST(TscRate, AFastHostsTscIsScaledDown) {
    const u64 m = tsc_multiplier_for(50'000'000, 2'994'374'000);
    ASSERT_NE(m, 0u);
    EXPECT_LT(m, kTscMultiplierOne);
    EXPECT_NEAR(double(scale_tsc(2'994'374'000ull * 10, m)), 500'000'000.0, 1.0);
}

TEST(TscRate, RatiosOutOfRangeHaveNoMultiplier) {
    EXPECT_EQ(tsc_multiplier_for(0, 1'000'000), 0u);
    EXPECT_EQ(tsc_multiplier_for(1'000'000, 0), 0u);
    EXPECT_EQ(tsc_multiplier_for(1ull << 40, 1), 0u);           // 2^40 times: beyond 16 integer bits
    EXPECT_EQ(tsc_multiplier_for(1ull << 47, 1ull << 47), 0u);  // no TSC runs at 140 THz
    EXPECT_EQ(tsc_multiplier_for(1, 1ull << 46), 4u);           // 2^-46 of the host rate: exact
}

TEST(TscRate, RatesWithinHalfAPercentMatch) {
    EXPECT_TRUE(tsc_rates_match(2'994'374'000, 2'994'374'000));
    EXPECT_TRUE(tsc_rates_match(2'097'241'000, 2'099'557'000));  // two QEMUs' calibrations of one TSC
    EXPECT_TRUE(tsc_rates_match(2'994'374'000, 2'980'000'000));
    EXPECT_TRUE(tsc_rates_match(2'980'000'000, 2'994'374'000));
    EXPECT_FALSE(tsc_rates_match(2'994'374'000, 2'975'000'000));
    EXPECT_FALSE(tsc_rates_match(2'994'374'000, 50'000'000));
}

}  // namespace
