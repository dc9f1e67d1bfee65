#include "kernel/vm/msr_rules.hpp"

#include <gtest/gtest.h>

namespace {

// EFER (AMD APM vol. 2, 3.1.7): SCE bit 0, LME bit 8, LMA bit 10, NXE bit 11, SVME bit 12;
// LMSLE 13, FFXSR 14 and TCE 15 exist on some parts but are not offered to guests.
constexpr u64 kSce = 1ull << 0, kLme = 1ull << 8, kLma = 1ull << 10, kNxe = 1ull << 11, kSvme = 1ull << 12;

TEST(MsrRules, EferAllowedBits) {
    EXPECT_TRUE(valid_guest_efer(0));
    for (u64 bit : {kSce, kLme, kLma, kNxe}) EXPECT_TRUE(valid_guest_efer(bit)) << std::hex << bit;
    EXPECT_TRUE(valid_guest_efer(kSce | kLme | kLma | kNxe));
    EXPECT_TRUE(valid_guest_efer(kLme | kNxe));  // before paging turns LMA on
    EXPECT_TRUE(valid_guest_efer(kSce | kLme | kLma));
}

TEST(MsrRules, EferSvmeIsRejected) {
    EXPECT_FALSE(valid_guest_efer(kSvme));
    EXPECT_FALSE(valid_guest_efer(kSce | kLme | kLma | kNxe | kSvme));
}

TEST(MsrRules, EferEveryOtherBitIsRejected) {
    for (int n = 0; n < 64; ++n) {
        const u64 bit = 1ull << n;
        const bool allowed = n == 0 || n == 8 || n == 10 || n == 11;
        EXPECT_EQ(valid_guest_efer(bit), allowed) << "bit " << n;
        // A reserved bit spoils an otherwise good value.
        if (!allowed) EXPECT_FALSE(valid_guest_efer(kSce | kLme | kLma | kNxe | bit)) << "bit " << n;
    }
    EXPECT_FALSE(valid_guest_efer(~0ull));
    EXPECT_FALSE(valid_guest_efer(1ull << 63));
    EXPECT_FALSE(valid_guest_efer(0xd01 | (1ull << 1)));
}

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
