// Reading the host's RTC: BCD and binary, 12- and 24-hour, the update-in-progress wait,
// and nonsense rejected.
#include "drivers/cmos_clock.hpp"

#include <gtest/gtest.h>

namespace {

class FakeCmos final : public PortIo {
public:
    u8 in8(u16 port) override {
        if (port != 0x71) return 0xff;
        if (index == 0x0a && uip_reads > 0) {
            --uip_reads;
            return 0x80 | 0x26;
        }
        return regs[index & 0x7f];
    }
    void out8(u16 port, u8 value) override {
        if (port == 0x70) index = value;
    }
    u16 in16(u16) override { return 0xffff; }
    void out16(u16, u16) override {}
    u32 in32(u16) override { return ~0u; }
    void out32(u16, u32) override {}

    u8 regs[128] = {};
    u8 index = 0;
    int uip_reads = 0;
};

void set_bcd_time(FakeCmos& c, u8 sec, u8 min, u8 hour, u8 day, u8 month, u8 year, u8 century) {
    c.regs[0x00] = sec, c.regs[0x02] = min, c.regs[0x04] = hour, c.regs[0x07] = day;
    c.regs[0x08] = month, c.regs[0x09] = year, c.regs[0x32] = century;
}

TEST(CmosClock, DaysFromCivil) {
    EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
    EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
    EXPECT_EQ(days_from_civil(2026, 11, 21), 20778);
    EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
}

TEST(CmosClock, BcdTwentyFourHour) {
    FakeCmos c;
    c.regs[0x0b] = 0x02;  // 24-hour, BCD
    set_bcd_time(c, 0x56, 0x34, 0x17, 0x21, 0x11, 0x26, 0x20);
    c.uip_reads = 3;
    // 2026-11-21 17:34:56 UTC
    EXPECT_EQ(read_cmos_wall_clock(c), 20778ll * 86400 + 17 * 3600 + 34 * 60 + 56);
    EXPECT_EQ(c.uip_reads, 0);
}

TEST(CmosClock, BinaryTwelveHour) {
    FakeCmos c;
    c.regs[0x0b] = 0x04;                            // binary, 12-hour
    set_bcd_time(c, 5, 6, 0x80 | 12, 1, 1, 0, 20);  // 12 PM
    EXPECT_EQ(read_cmos_wall_clock(c), days_from_civil(2000, 1, 1) * 86400 + 12 * 3600 + 6 * 60 + 5);
    c.regs[0x04] = 12;  // 12 AM: midnight
    EXPECT_EQ(read_cmos_wall_clock(c), days_from_civil(2000, 1, 1) * 86400 + 6 * 60 + 5);
}

TEST(CmosClock, NonsenseIsRejected) {
    FakeCmos c;
    for (u8& r : c.regs) r = 0xff;  // no RTC: the bus floats
    EXPECT_EQ(read_cmos_wall_clock(c), -1);
}

}  // namespace
