#include "kernel/domain/restart_limiter.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u64 kSecond = 1'000'000;

TEST(RestartLimiter, AllowsTenRestartsAMinuteAndNoMore) {
    RestartLimiter limiter;
    for (u32 i = 0; i < RestartLimiter::kMaxRestarts; ++i) EXPECT_TRUE(limiter.allow(100 * kSecond + i)) << i;
    EXPECT_FALSE(limiter.allow(100 * kSecond + 20)) << "the eleventh within the minute";
    EXPECT_FALSE(limiter.allow(159 * kSecond)) << "still within a minute of the first";
    EXPECT_TRUE(limiter.allow(160 * kSecond)) << "a minute after the first, one more may come";
    EXPECT_FALSE(limiter.allow(160 * kSecond)) << "the second came 1 us after the first: not yet a minute ago";
    EXPECT_TRUE(limiter.allow(160 * kSecond + 1)) << "now it is";
}

TEST(RestartLimiter, RestartsSpreadOutNeverStop) {
    RestartLimiter limiter;
    for (u64 i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.allow(i * 7 * kSecond)) << i;
}

}  // namespace
