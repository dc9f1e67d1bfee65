#include "mm/memory_quota.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

TEST(MemoryQuota, ChargesUpToTheLimitAndNoFurther) {
    MemoryQuota q;
    q.set_limit(10 * MiB);
    EXPECT_TRUE(q.charge(4 * MiB));
    EXPECT_TRUE(q.charge(6 * MiB));
    EXPECT_EQ(q.used(), 10 * MiB);
    EXPECT_FALSE(q.charge(1));
    EXPECT_EQ(q.used(), 10 * MiB);  // a refused charge changes nothing
    q.uncharge(2 * MiB);
    EXPECT_FALSE(q.charge(3 * MiB));
    EXPECT_TRUE(q.charge(2 * MiB));
    EXPECT_EQ(q.used(), 10 * MiB);
}

TEST(MemoryQuota, HugeChargesDoNotWrapAround) {
    MemoryQuota q;
    q.set_limit(1 * MiB);
    ASSERT_TRUE(q.charge(kPageSize));
    EXPECT_FALSE(q.charge(~0ull));
    EXPECT_FALSE(q.charge(~0ull - kPageSize + 1));
    EXPECT_EQ(q.used(), kPageSize);
}

TEST(MemoryQuota, NoLimitMeansNothingCanBeCharged) {
    MemoryQuota q;
    EXPECT_FALSE(q.charge(1));
    EXPECT_TRUE(q.charge(0));
    EXPECT_EQ(q.used(), 0u);
}

TEST(MemoryQuota, UnchargingMoreThanChargedStopsAtZero) {
    MemoryQuota q;
    q.set_limit(1 * MiB);
    ASSERT_TRUE(q.charge(100));
    q.uncharge(200);
    EXPECT_EQ(q.used(), 0u);
}

TEST(MemoryQuota, TheAllowanceCoversTablesSplitTo4KiBAndADirtyLog) {
    for (u64 ram : {2 * MiB, 256 * MiB, 3200 * MiB, 64 * GiB}) {
        const u64 allowance = MemoryQuota::overhead_allowance(ram, 8);
        const u64 last_level_tables = ram / (2 * MiB) * kPageSize;
        const u64 upper_levels = (ram / GiB + 2) * kPageSize + kPageSize;
        const u64 bitmap = ram / kPageSize / 8;
        EXPECT_GE(allowance, last_level_tables + upper_levels + bitmap + 8 * 64 * KiB) << ram;
    }
}

// Charges from several CPUs at once never pass the limit together.
TEST(MemoryQuota, ConcurrentChargesNeverPassTheLimit) {
    MemoryQuota q;
    q.set_limit(1000 * kPageSize);
    std::vector<std::thread> threads;
    std::atomic<u64> granted{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 5000; ++i) {
                if (q.charge(kPageSize)) {
                    granted += kPageSize;
                    if (i % 3 == 0) {
                        q.uncharge(kPageSize);
                        granted -= kPageSize;
                    }
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(q.used(), granted.load());
    EXPECT_EQ(q.used(), 1000 * kPageSize);
}
