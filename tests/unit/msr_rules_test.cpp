#include "kernel/vm/msr_rules.hpp"

#include <gtest/gtest.h>

namespace {

// PAT (SDM vol. 3, 11.12.2): eight byte-wide entries, each UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7;
// 2, 3 and 8-255 are reserved.
u64 pat_with(int entry, u64 type, u64 others = 6) {
    u64 value = 0;
    for (int i = 0; i < 8; ++i) value |= (i == entry ? type : others) << (8 * i);
    return value;
}

TEST(MsrRules, PatPowerOnAndCommonValues) {
    EXPECT_TRUE(valid_pat(0x0007040600070406ull));  // the power-on default
    EXPECT_TRUE(valid_pat(0x0007010600070106ull));  // Linux: WC in entry 1 and 5
    EXPECT_TRUE(valid_pat(0));                      // all UC
    EXPECT_TRUE(valid_pat(0x0706050401000706ull));
    EXPECT_TRUE(valid_pat(0x0606060606060606ull));
}

TEST(MsrRules, PatEveryTypeInEveryEntry) {
    for (int entry = 0; entry < 8; ++entry) {
        for (u64 type = 0; type < 256; ++type) {
            const bool valid = type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7;
            EXPECT_EQ(valid_pat(pat_with(entry, type)), valid) << "entry " << entry << " type " << type;
            EXPECT_EQ(valid_pat(pat_with(entry, type, 0)), valid) << "entry " << entry << " type " << type;
        }
    }
}

TEST(MsrRules, PatReservedTypesRejected) {
    for (int entry = 0; entry < 8; ++entry) {
        EXPECT_FALSE(valid_pat(pat_with(entry, 2))) << entry;
        EXPECT_FALSE(valid_pat(pat_with(entry, 3))) << entry;
        EXPECT_FALSE(valid_pat(pat_with(entry, 8))) << entry;
        EXPECT_FALSE(valid_pat(pat_with(entry, 0x16))) << entry;  // WB with a stray high bit
        EXPECT_FALSE(valid_pat(pat_with(entry, 0x80))) << entry;
        EXPECT_FALSE(valid_pat(pat_with(entry, 0xff))) << entry;
    }
    EXPECT_FALSE(valid_pat(~0ull));
    EXPECT_FALSE(valid_pat(0x0007040600070402ull));
    EXPECT_FALSE(valid_pat(0x8007040600070406ull));
}

}  // namespace
