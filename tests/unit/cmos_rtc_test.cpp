#include "kernel/vm/devices/pc/cmos_rtc.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/pc/rtc_calendar.hpp"
#include "kernel/vm/devices/pc/tick_math.hpp"

namespace {

constexpr u64 kSecond = 1'000'000'000;
constexpr u64 kMs = 1'000'000;
// 2023-11-14 22:13:20 UTC, a Tuesday.
constexpr i64 kBaseTime = 1'700'000'000;

constexpr u8 kRegA = 0x0a;
constexpr u8 kRegB = 0x0b;
constexpr u8 kRegC = 0x0c;
constexpr u8 kRegD = 0x0d;

class FakeClock final : public GuestClock {
public:
    u64 now = 0;
    u64 now_ns() const override { return now; }
};

class RecordingLines final : public InterruptLines {
public:
    std::vector<bool> irq8;
    void set_isa_irq(u8 irq, bool high) override {
        EXPECT_EQ(irq, CmosRtc::kIrq);
        irq8.push_back(high);
        level = high;
    }
    bool level = false;
};

struct RtcFixture {
    explicit RtcFixture(i64 base = kBaseTime, CmosMemorySize memory = {512 * MiB, 2 * GiB})
        : rtc(clock, lines, base, memory) {}
    FakeClock clock;
    RecordingLines lines;
    CmosRtc rtc;

    u8 read(u8 index) {
        rtc.port_write(CmosRtc::kIndexPort, 1, index);
        return u8(rtc.port_read(CmosRtc::kDataPort, 1));
    }
    void write(u8 index, u8 value) {
        rtc.port_write(CmosRtc::kIndexPort, 1, index);
        rtc.port_write(CmosRtc::kDataPort, 1, value);
    }
    void run_until(u64 ns) {
        clock.now = ns;
        rtc.advance_to(ns);
    }
};

TEST(CmosCalendar, KnownDates) {
    struct Case {
        i64 unix;
        i64 year;
        u8 month, day, hour, minute, second, weekday;
    };
    const Case cases[] = {
        {0, 1970, 1, 1, 0, 0, 0, 4},
        {-1, 1969, 12, 31, 23, 59, 59, 3},
        {951'782'400, 2000, 2, 29, 0, 0, 0, 2},
        {1'700'000'000, 2023, 11, 14, 22, 13, 20, 2},
        {1'709'251'199, 2024, 2, 29, 23, 59, 59, 4},
        {4'102'444'799, 2099, 12, 31, 23, 59, 59, 4},
        {253'402'300'799, 9999, 12, 31, 23, 59, 59, 5},
    };
    for (const Case& c : cases) {
        const CalendarTime t = calendar_from_unix(c.unix);
        EXPECT_EQ(t.year, c.year) << c.unix;
        EXPECT_EQ(t.month, c.month) << c.unix;
        EXPECT_EQ(t.day, c.day) << c.unix;
        EXPECT_EQ(t.hour, c.hour) << c.unix;
        EXPECT_EQ(t.minute, c.minute) << c.unix;
        EXPECT_EQ(t.second, c.second) << c.unix;
        EXPECT_EQ(t.weekday, c.weekday) << c.unix;
        EXPECT_EQ(unix_from_calendar(t), c.unix);
    }
}

TEST(CmosCalendar, RoundTripsEveryDayOverCenturies) {
    for (i64 day = -800'000; day < 800'000; day += 7) {
        const i64 unix = day * 86400 + (day % 86400 + 86400) % 86400;
        EXPECT_EQ(unix_from_calendar(calendar_from_unix(unix)), unix);
    }
}

TEST(CmosRtc, PowerOnTimeInBcd24Hour) {
    RtcFixture f;
    EXPECT_EQ(f.read(0x00), 0x20);
    EXPECT_EQ(f.read(0x02), 0x13);
    EXPECT_EQ(f.read(0x04), 0x22);
    EXPECT_EQ(f.read(0x06), 3);  // Tuesday, Sunday = 1
    EXPECT_EQ(f.read(0x07), 0x14);
    EXPECT_EQ(f.read(0x08), 0x11);
    EXPECT_EQ(f.read(0x09), 0x23);
    EXPECT_EQ(f.read(CmosRtc::kCenturyIndex), 0x20);
    EXPECT_EQ(f.read(kRegA), 0x26);
    EXPECT_EQ(f.read(kRegB), 0x02);
    EXPECT_EQ(f.read(kRegC), 0x00);
    EXPECT_EQ(f.read(kRegD), 0x80);
    EXPECT_EQ(f.rtc.next_deadline_ns(), kNoDeadline);
}

TEST(CmosRtc, TimeFollowsTheGuestClock) {
    RtcFixture f;
    f.clock.now = 1500 * kMs;
    EXPECT_EQ(f.read(0x00), 0x21);
    f.clock.now = 100 * kSecond;
    EXPECT_EQ(f.read(0x00), 0x00);
    EXPECT_EQ(f.read(0x02), 0x15);
    EXPECT_EQ(f.rtc.current_unix_seconds(), kBaseTime + 100);
    // Across midnight, a month and a year.
    f.clock.now = u64(4'102'444'800 - kBaseTime) * kSecond;
    EXPECT_EQ(f.read(0x09), 0x00);
    EXPECT_EQ(f.read(CmosRtc::kCenturyIndex), 0x21);
    EXPECT_EQ(f.read(0x08), 0x01);
    EXPECT_EQ(f.read(0x07), 0x01);
}

TEST(CmosRtc, BinaryAnd12HourFormats) {
    RtcFixture f;
    f.write(kRegB, 0x06);  // binary, 24 h
    EXPECT_EQ(f.read(0x00), 20);
    EXPECT_EQ(f.read(0x04), 22);
    EXPECT_EQ(f.read(0x09), 23);
    f.write(kRegB, 0x00);           // BCD, 12 h
    EXPECT_EQ(f.read(0x04), 0x90);  // 10 PM
    f.write(kRegB, 0x04);           // binary, 12 h
    EXPECT_EQ(f.read(0x04), 0x80 | 10);
    // Midnight and noon.
    RtcFixture midnight(1'699'920'000);  // 2023-11-14 00:00:00
    midnight.write(kRegB, 0x00);
    EXPECT_EQ(midnight.read(0x04), 0x12);
    RtcFixture noon(1'699'920'000 + 12 * 3600);
    noon.write(kRegB, 0x00);
    EXPECT_EQ(noon.read(0x04), 0x92);
}

TEST(CmosRtc, UpdateInProgressForTheLast244Microseconds) {
    RtcFixture f;
    f.clock.now = 3 * kSecond - 244'001;
    EXPECT_EQ(f.read(kRegA) & 0x80, 0);
    f.clock.now = 3 * kSecond - 244'000;
    EXPECT_EQ(f.read(kRegA) & 0x80, 0x80);
    EXPECT_EQ(f.read(0x00), 0x22);  // still the old second
    f.clock.now = 3 * kSecond;
    EXPECT_EQ(f.read(kRegA) & 0x80, 0);
    EXPECT_EQ(f.read(0x00), 0x23);
}

// drivers/rtc/rtc-mc146818-lib.c mc146818_set_time (Intel: divider reset while setting).
void linux_set_time(RtcFixture& f, u8 year, u8 month, u8 day, u8 hour, u8 minute, u8 second) {
    const u8 control = f.read(kRegB);
    f.write(kRegB, control | 0x80);
    const u8 freq_select = f.read(kRegA);
    f.write(kRegA, freq_select | 0x70);
    f.write(0x09, year);
    f.write(0x08, month);
    f.write(0x07, day);
    f.write(0x04, hour);
    f.write(0x02, minute);
    f.write(0x00, second);
    f.write(kRegB, control);
    f.write(kRegA, freq_select);
}

TEST(CmosRtc, LinuxSetTimeRebasesTheClock) {
    RtcFixture f;
    f.clock.now = 2300 * kMs;
    linux_set_time(f, 0x24, 0x03, 0x10, 0x01, 0x02, 0x03);
    EXPECT_EQ(f.rtc.current_unix_seconds(), 1'710'032'523);
    EXPECT_EQ(f.read(0x00), 0x03);
    EXPECT_EQ(f.read(0x06), 1);  // 2024-03-10 was a Sunday
    // Leaving divider reset: the first update comes 500 ms later.
    f.clock.now = 2800 * kMs - 1;
    EXPECT_EQ(f.read(0x00), 0x03);
    f.clock.now = 2800 * kMs;
    EXPECT_EQ(f.read(0x00), 0x04);
    f.clock.now = 3800 * kMs;
    EXPECT_EQ(f.read(0x00), 0x05);
}

TEST(CmosRtc, SetFreezesTheTimeAndKeepsTheDividerPhase) {
    RtcFixture f;
    f.clock.now = 1200 * kMs;
    f.write(kRegB, 0x82);
    f.clock.now = 5 * kSecond;
    EXPECT_EQ(f.read(0x00), 0x21);  // frozen at the value when SET rose
    EXPECT_EQ(f.read(kRegA) & 0x80, 0);
    f.clock.now = 5 * kSecond - 100'000;
    EXPECT_EQ(f.read(kRegA) & 0x80, 0);  // no update cycles while SET
    f.clock.now = 5 * kSecond + 300 * kMs;
    f.write(0x00, 0x40);
    f.write(kRegB, 0x02);
    EXPECT_EQ(f.read(0x00), 0x40);
    f.clock.now = 6 * kSecond;  // the divider never stopped: updates stay on whole seconds
    EXPECT_EQ(f.read(0x00), 0x41);
}

TEST(CmosRtc, WritingATimeRegisterWhileRunning) {
    RtcFixture f;
    f.clock.now = 5500 * kMs;
    f.write(0x02, 0x30);
    EXPECT_EQ(f.read(0x02), 0x30);
    EXPECT_EQ(f.read(0x00), 0x25);
    EXPECT_EQ(f.read(0x04), 0x22);
    f.clock.now = 6 * kSecond;
    EXPECT_EQ(f.read(0x00), 0x26);
}

TEST(CmosRtc, PeriodicInterruptAtTheSelectedRate) {
    RtcFixture f;
    f.read(kRegC);
    f.write(kRegB, 0x42);                            // PIE
    const u64 period = ticks_to_ns_ceil(32, 32768);  // 1024 Hz
    EXPECT_EQ(f.rtc.next_deadline_ns(), period);
    f.run_until(period - 1);
    EXPECT_TRUE(f.lines.irq8.empty());
    f.run_until(period);
    ASSERT_EQ(f.lines.irq8.size(), 1u);
    EXPECT_TRUE(f.lines.level);
    EXPECT_EQ(f.rtc.next_deadline_ns(), kNoDeadline);  // held until register C is read
    f.clock.now = period + 1000;
    EXPECT_EQ(f.read(kRegC), 0xc0);  // IRQF | PF
    EXPECT_FALSE(f.lines.level);
    EXPECT_EQ(f.read(kRegC), 0x00);
    EXPECT_EQ(f.rtc.next_deadline_ns(), ticks_to_ns_ceil(64, 32768));
    // Slower rates.
    f.write(kRegA, 0x2f);  // 2 Hz
    EXPECT_EQ(f.rtc.next_deadline_ns(), 500 * kMs);
    f.write(kRegA, 0x23);  // 8192 Hz: 4 divider ticks, on the divider's phase
    EXPECT_EQ(f.rtc.next_deadline_ns(), ticks_to_ns_ceil((ns_to_ticks(f.clock.now, 32768) / 4 + 1) * 4, 32768));
    f.write(kRegA, 0x21);  // RS 1 repeats 256 Hz
    EXPECT_EQ(f.rtc.next_deadline_ns(), ticks_to_ns_ceil(128, 32768));
    f.write(kRegA, 0x20);  // none
    EXPECT_EQ(f.rtc.next_deadline_ns(), kNoDeadline);
}

TEST(CmosRtc, MissedPeriodsCoalesce) {
    RtcFixture f;
    f.write(kRegB, 0x42);
    f.run_until(10 * kSecond);
    EXPECT_EQ(f.lines.irq8.size(), 1u);
    f.read(kRegC);
    EXPECT_GT(f.rtc.next_deadline_ns(), 10 * kSecond);
    EXPECT_LE(f.rtc.next_deadline_ns(), 10 * kSecond + 976'563);
}

TEST(CmosRtc, UpdateEndedInterruptEverySecond) {
    RtcFixture f;
    f.clock.now = 100 * kMs;
    f.write(kRegB, 0x12);
    EXPECT_EQ(f.rtc.next_deadline_ns(), 1 * kSecond);
    f.run_until(1 * kSecond);
    EXPECT_TRUE(f.lines.level);
    EXPECT_EQ(f.read(kRegC) & 0xb0, 0x90);  // (PF is set too: the 1024 Hz tap runs)
    EXPECT_EQ(f.rtc.next_deadline_ns(), 2 * kSecond);
}

TEST(CmosRtc, FlagsSetEvenWhenTheirInterruptIsDisabled) {
    RtcFixture f;
    f.write(kRegA, 0x20);  // no periodic rate
    f.clock.now = 1 * kSecond;
    EXPECT_EQ(f.read(kRegC), 0x10);  // UF without IRQF
    EXPECT_TRUE(f.lines.irq8.empty());
    // Enabling an interrupt whose flag is already set asserts IRQ 8 at once.
    f.clock.now = 2 * kSecond;
    f.write(kRegB, 0x12);
    EXPECT_TRUE(f.lines.level);
    EXPECT_EQ(f.read(kRegC), 0x90);
}

TEST(CmosRtc, SettingSetClearsUie) {
    RtcFixture f;
    f.write(kRegB, 0x12);
    f.write(kRegB, 0x92);
    EXPECT_EQ(f.read(kRegB), 0x82);
}

TEST(CmosRtc, AlarmInterrupt) {
    // rtc-cmos cmos_set_alarm: alarm bytes in BCD, then AIE after clearing C.
    RtcFixture f;
    f.write(0x01, 0x30);
    f.write(0x03, 0x13);
    f.write(0x05, 0x22);
    f.read(kRegC);
    f.write(kRegB, 0x22);
    EXPECT_EQ(f.rtc.next_deadline_ns(), 10 * kSecond);
    f.run_until(10 * kSecond);
    EXPECT_TRUE(f.lines.level);
    EXPECT_EQ(f.read(kRegC) & 0xa0, 0xa0);  // IRQF | AF
    // Tomorrow's, the next match.
    EXPECT_EQ(f.rtc.next_deadline_ns(), (10 + 86400) * kSecond);
}

TEST(CmosRtc, AlarmDontCareBytes) {
    RtcFixture f;
    f.write(0x01, 0x00);
    f.write(0x03, 0x00);
    f.write(0x05, 0x23);  // 23:00:00
    f.write(kRegB, 0x22);
    EXPECT_EQ(f.rtc.next_deadline_ns(), 2800 * kSecond);
    f.write(0x01, 0xc0);  // every second of 23:00
    EXPECT_EQ(f.rtc.next_deadline_ns(), 2800 * kSecond);
    f.write(0x03, 0xff);
    f.write(0x05, 0xc0);  // every second
    EXPECT_EQ(f.rtc.next_deadline_ns(), 1 * kSecond);
    f.write(0x01, 0x7a);  // not a BCD second: never matches
    EXPECT_EQ(f.rtc.next_deadline_ns(), kNoDeadline);
}

TEST(CmosRtc, AlarmFlagSeenWithoutAie) {
    RtcFixture f;
    f.write(0x01, 0x25);
    f.write(0x03, 0xc0);
    f.write(0x05, 0xc0);
    f.clock.now = 4 * kSecond;
    EXPECT_EQ(f.read(kRegC) & 0x20, 0);
    f.clock.now = 5 * kSecond;
    EXPECT_EQ(f.read(kRegC) & 0x20, 0x20);
    EXPECT_TRUE(f.lines.irq8.empty());
}

TEST(CmosRtc, DividerResetStopsEverything) {
    RtcFixture f;
    f.write(kRegB, 0x72);  // PIE, AIE, UIE
    f.read(kRegC);
    f.write(kRegA, 0x76);
    EXPECT_EQ(f.rtc.next_deadline_ns(), kNoDeadline);
    f.clock.now = 10 * kSecond;
    EXPECT_EQ(f.read(0x00), 0x20);
    EXPECT_EQ(f.read(kRegC), 0x00);
}

TEST(CmosRtc, MemorySizeBytesAsSeaBiosReadsThem) {
    RtcFixture f;
    EXPECT_EQ(f.read(0x15), 0x80);  // 640 KiB
    EXPECT_EQ(f.read(0x16), 0x02);
    EXPECT_EQ(f.read(0x17), 0xff);  // capped at 0xffff KiB
    EXPECT_EQ(f.read(0x18), 0xff);
    EXPECT_EQ(f.read(0x30), 0xff);
    EXPECT_EQ(f.read(0x31), 0xff);
    EXPECT_EQ(f.read(0x34), 0x00);  // (512 - 16) MiB / 64 KiB = 0x1f00
    EXPECT_EQ(f.read(0x35), 0x1f);
    EXPECT_EQ(f.read(0x5b), 0x00);  // 2 GiB / 64 KiB = 0x8000
    EXPECT_EQ(f.read(0x5c), 0x80);
    EXPECT_EQ(f.read(0x5d), 0x00);
    EXPECT_EQ(f.read(0x2e), 0x02);  // checksum of 0x10-0x2d = 0x280
    EXPECT_EQ(f.read(0x2f), 0x80);

    RtcFixture small(kBaseTime, {8 * MiB, 0});
    EXPECT_EQ(small.read(0x17), 0x00);  // 7 MiB = 0x1c00 KiB
    EXPECT_EQ(small.read(0x18), 0x1c);
    EXPECT_EQ(small.read(0x34), 0x00);
    EXPECT_EQ(small.read(0x35), 0x00);
}

TEST(CmosRtc, IndexPortNmiMaskAndRam) {
    RtcFixture f;
    EXPECT_FALSE(f.rtc.nmi_masked());
    f.rtc.port_write(CmosRtc::kIndexPort, 1, 0x80 | 0x40);
    EXPECT_TRUE(f.rtc.nmi_masked());
    f.rtc.port_write(CmosRtc::kDataPort, 1, 0x5a);
    EXPECT_EQ(f.read(0x40), 0x5a);
    EXPECT_FALSE(f.rtc.nmi_masked());
    EXPECT_EQ(f.rtc.port_read(CmosRtc::kIndexPort, 1), 0xffu);
    EXPECT_EQ(f.read(0x7f), 0x00);
    f.write(0xff, 0x11);  // index 0x7f, NMI masked
    EXPECT_EQ(f.read(0x7f), 0x11);
    f.write(kRegC, 0xff);
    f.write(kRegD, 0x00);
    EXPECT_EQ(f.read(kRegC), 0x00);
    EXPECT_EQ(f.read(kRegD), 0x80);
    // A 16-bit write covers index and data.
    f.rtc.port_write(CmosRtc::kIndexPort, 2, 0x7741);
    EXPECT_EQ(f.read(0x41), 0x77);
}

TEST(CmosRtc, GarbageTimeBytesStillGiveATime) {
    RtcFixture f;
    f.write(kRegB, 0x82);
    for (u8 index : {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32}) f.write(index, 0xff);
    f.write(kRegB, 0x02);
    // 165 -> clamped: 9999-12-31 23:59:59 plus the next updates.
    EXPECT_EQ(f.rtc.current_unix_seconds(), 253'402'300'799);
    f.clock.now = 2 * kSecond;
    EXPECT_EQ(f.read(0x09), 0x00);
}

TEST(CmosRtc, GarbageNeverWedgesTheModel) {
    RtcFixture f;
    u32 seed = 24681357;
    for (int i = 0; i < 30000; ++i) {
        seed = seed * 1103515245u + 12345u;
        const u8 value = u8(seed >> 16);
        switch ((seed >> 24) % 5) {
            case 0: f.rtc.port_write(CmosRtc::kIndexPort, 1, value & 0x8f); break;
            case 1: f.rtc.port_write(CmosRtc::kDataPort, 1, value); break;
            case 2: (void)f.rtc.port_read(CmosRtc::kDataPort, 1); break;
            case 3: f.clock.now += (seed >> 3) % (3 * kSecond); break;
            default: f.rtc.advance_to(f.clock.now);
        }
        f.rtc.advance_to(f.clock.now);
        const u64 deadline = f.rtc.next_deadline_ns();
        ASSERT_TRUE(deadline == kNoDeadline || deadline > f.clock.now);
    }
}

}  // namespace
