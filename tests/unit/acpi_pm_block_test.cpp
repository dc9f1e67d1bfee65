#include "kernel/vm/devices/pc/acpi_pm_block.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u16 kBase = AcpiPmBlock::kDefaultBase;
constexpr u16 kSts = kBase + AcpiPmBlock::kPm1aEvtOffset;
constexpr u16 kEn = kBase + AcpiPmBlock::kPm1aEvtOffset + 2;
constexpr u16 kCnt = kBase + AcpiPmBlock::kPm1aCntOffset;
constexpr u16 kTmr = kBase + AcpiPmBlock::kPmTmrOffset;
constexpr u64 kNsPerSecond = 1000000000;
constexpr u64 kFlipTicks = 1u << 23;

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return now; }
    u64 now = 0;
};

class FakeLines final : public InterruptLines {
public:
    void set_isa_irq(u8 irq, bool high) override {
        level[irq] = high;
        ++changes;
    }
    bool level[16] = {};
    int changes = 0;
};

class FakePlatform final : public PlatformControl {
public:
    void request_power_off() override { ++power_offs; }
    void request_reset() override { ++resets; }
    int power_offs = 0;
    int resets = 0;
};

struct Fixture {
    FakeClock clock;
    FakeLines lines;
    FakePlatform platform;
    AcpiPmBlock pm{clock, lines, platform};

    u32 in(u16 port, u8 size) { return pm.port_read(port, size); }
    void out(u16 port, u8 size, u32 value) { pm.port_write(port, size, value); }
    bool sci() const { return lines.level[AcpiPmBlock::kSciIrq]; }
};

// The first nanosecond at which the timer has counted `ticks`, by brute reasoning.
u64 ns_for_ticks(u64 ticks) { return (ticks * kNsPerSecond + AcpiPmBlock::kPmTimerHz - 1) / AcpiPmBlock::kPmTimerHz; }

TEST(AcpiPmBlock, LayoutMatchesTheFadtLengths) {
    EXPECT_EQ(AcpiPmBlock::kPm1EvtLen, 4);
    EXPECT_EQ(AcpiPmBlock::kPm1CntLen, 2);
    EXPECT_EQ(AcpiPmBlock::kPmTmrLen, 4);
    EXPECT_LE(AcpiPmBlock::kPm1aEvtOffset + AcpiPmBlock::kPm1EvtLen, AcpiPmBlock::kPm1aCntOffset);
    EXPECT_LE(AcpiPmBlock::kPm1aCntOffset + AcpiPmBlock::kPm1CntLen, AcpiPmBlock::kPmTmrOffset);
    EXPECT_EQ(AcpiPmBlock::kPmTmrOffset + AcpiPmBlock::kPmTmrLen, AcpiPmBlock::kBlockSize);
    EXPECT_EQ(AcpiPmBlock::kPmTmrOffset % 4, 0);  // PM_TMR is read with 32-bit accesses
}

TEST(AcpiPmBlock, PowerOnState) {
    Fixture f;
    EXPECT_EQ(f.in(kSts, 2), 0u);
    EXPECT_EQ(f.in(kEn, 2), 0u);
    EXPECT_EQ(f.in(kCnt, 2), u32(AcpiPmBlock::kSciEn));  // ACPI mode from the start
    EXPECT_EQ(f.in(kTmr, 4), 0u);
    EXPECT_EQ(f.lines.changes, 0);
    EXPECT_EQ(f.pm.next_deadline_ns(), kNoDeadline);
}

TEST(AcpiPmBlock, TimerRunsAt3579545Hz) {
    Fixture f;
    f.clock.now = kNsPerSecond / 1000;  // 1 ms
    EXPECT_EQ(f.in(kTmr, 4), 3579u);
    f.clock.now = 2 * kNsPerSecond;
    EXPECT_EQ(f.in(kTmr, 4), (2 * AcpiPmBlock::kPmTimerHz) & 0xffffff);
    f.clock.now = ns_for_ticks(1000) - 1;
    EXPECT_EQ(f.in(kTmr, 4), 999u);
    f.clock.now = ns_for_ticks(1000);
    EXPECT_EQ(f.in(kTmr, 4), 1000u);
}

TEST(AcpiPmBlock, TimerWrapsAt24Bits) {
    Fixture f;
    f.clock.now = ns_for_ticks(0xffffff);
    EXPECT_EQ(f.in(kTmr, 4), 0xffffffu);
    f.clock.now = ns_for_ticks(0x1000000);
    EXPECT_EQ(f.in(kTmr, 4), 0u);
    f.clock.now = ns_for_ticks(0x1000005);
    EXPECT_EQ(f.in(kTmr, 4), 5u);
}

TEST(AcpiPmBlock, TimerIsExactForLongUptimes) {
    // Hundreds of years of guest time: ns * 3579545 alone would overflow u64.
    const u64 seconds = 10'000'000'000ull;
    const u64 ns = seconds * kNsPerSecond + 123'456'789;
    const u64 expected = seconds * AcpiPmBlock::kPmTimerHz + 123'456'789ull * AcpiPmBlock::kPmTimerHz / kNsPerSecond;
    EXPECT_EQ(AcpiPmBlock::timer_value_at(ns), u32(expected & 0xffffff));
    EXPECT_LE(AcpiPmBlock::timer_value_at(~0ull), 0xffffffu);
}

TEST(AcpiPmBlock, TimerIsMonotonicModulo24Bits) {
    u32 previous = 0;
    for (u64 ns = 0; ns < 20 * kNsPerSecond; ns += 7'919'113) {
        const u32 now = AcpiPmBlock::timer_value_at(ns);
        EXPECT_LT((now - previous) & 0xffffff, 0x800000u);
        previous = now;
    }
}

TEST(AcpiPmBlock, PartialTimerReads) {
    Fixture f;
    f.clock.now = ns_for_ticks(0x123456);
    EXPECT_EQ(f.in(kTmr, 1), 0x56u);
    EXPECT_EQ(f.in(kTmr + 1, 1), 0x34u);
    EXPECT_EQ(f.in(kTmr + 2, 2), 0x0012u);
    EXPECT_EQ(f.in(kTmr, 2), 0x3456u);
    f.out(kTmr, 4, 0);  // read-only
    EXPECT_EQ(f.in(kTmr, 4), 0x123456u);
}

TEST(AcpiPmBlock, TimerStatusSetsOnEachBit23Flip) {
    Fixture f;
    f.clock.now = ns_for_ticks(kFlipTicks) - 1;
    EXPECT_EQ(f.in(kSts, 2) & AcpiPmBlock::kTmrSts, 0u);
    f.clock.now = ns_for_ticks(kFlipTicks);
    EXPECT_EQ(f.in(kSts, 2) & AcpiPmBlock::kTmrSts, AcpiPmBlock::kTmrSts);
    f.out(kSts, 2, AcpiPmBlock::kTmrSts);  // write 1 to clear
    EXPECT_EQ(f.in(kSts, 2), 0u);
    f.clock.now = ns_for_ticks(2 * kFlipTicks);  // 1 -> 0 of bit 23 counts too
    EXPECT_EQ(f.in(kSts, 2), u32(AcpiPmBlock::kTmrSts));
}

TEST(AcpiPmBlock, TimerSciFollowsTheDeadline) {
    Fixture f;
    f.out(kEn, 2, AcpiPmBlock::kTmrSts);
    EXPECT_FALSE(f.sci());
    const u64 deadline = f.pm.next_deadline_ns();
    EXPECT_EQ(deadline, ns_for_ticks(kFlipTicks));  // about 2.34 s
    f.pm.advance_to(deadline - 1);
    EXPECT_FALSE(f.sci());
    f.pm.advance_to(deadline);
    EXPECT_TRUE(f.sci());
    EXPECT_EQ(f.pm.next_deadline_ns(), kNoDeadline);  // the SCI is already up
    f.clock.now = deadline + 10;
    f.out(kSts, 2, AcpiPmBlock::kTmrSts);
    EXPECT_FALSE(f.sci());
    EXPECT_EQ(f.pm.next_deadline_ns(), ns_for_ticks(2 * kFlipTicks));
    f.out(kEn, 2, 0);
    EXPECT_EQ(f.pm.next_deadline_ns(), kNoDeadline);
}

TEST(AcpiPmBlock, WriteOneToClearLeavesOtherBits) {
    Fixture f;
    f.pm.press_power_button();
    f.clock.now = ns_for_ticks(kFlipTicks);
    EXPECT_EQ(f.in(kSts, 2), u32(AcpiPmBlock::kPwrBtnSts | AcpiPmBlock::kTmrSts));
    f.out(kSts, 2, 0);
    EXPECT_EQ(f.in(kSts, 2), u32(AcpiPmBlock::kPwrBtnSts | AcpiPmBlock::kTmrSts));
    f.out(kSts + 1, 1, AcpiPmBlock::kPwrBtnSts >> 8);
    EXPECT_EQ(f.in(kSts, 2), u32(AcpiPmBlock::kTmrSts));
}

TEST(AcpiPmBlock, PowerButtonRaisesSciWhenEnabled) {
    Fixture f;
    f.pm.press_power_button();
    EXPECT_FALSE(f.sci());
    f.out(kEn, 2, AcpiPmBlock::kPwrBtnSts);
    EXPECT_TRUE(f.sci());
    EXPECT_TRUE(f.pm.sci_level());
    f.out(kSts, 2, AcpiPmBlock::kPwrBtnSts);
    EXPECT_FALSE(f.sci());
}

TEST(AcpiPmBlock, DwordAccessCoversStatusAndEnable) {
    Fixture f;
    f.pm.press_power_button();
    f.out(kSts, 4, u32(AcpiPmBlock::kPwrBtnSts) << 16 | AcpiPmBlock::kPwrBtnSts);
    EXPECT_EQ(f.in(kSts, 4), u32(AcpiPmBlock::kPwrBtnSts) << 16);
    f.out(kEn, 2, 0xffff);  // only the defined enables stick
    EXPECT_EQ(f.in(kEn, 2), u32(AcpiPmBlock::kTmrSts | AcpiPmBlock::kGblSts | AcpiPmBlock::kPwrBtnSts |
                                AcpiPmBlock::kSlpBtnSts | AcpiPmBlock::kRtcSts));
}

TEST(AcpiPmBlock, SlpEnWithS5PowersOff) {
    // ACPICA's acpi_hw_legacy_sleep: write SLP_TYP, then SLP_TYP | SLP_EN.
    Fixture f;
    const u16 typ = AcpiPmBlock::kSlpTypS5 << AcpiPmBlock::kSlpTypShift;
    f.out(kCnt, 2, typ | AcpiPmBlock::kSciEn);
    EXPECT_EQ(f.platform.power_offs, 0);
    EXPECT_EQ(f.in(kCnt, 2), u32(typ | AcpiPmBlock::kSciEn));
    f.out(kCnt, 2, typ | AcpiPmBlock::kSlpEn | AcpiPmBlock::kSciEn);
    EXPECT_EQ(f.platform.power_offs, 1);
    EXPECT_EQ(f.in(kCnt, 2) & AcpiPmBlock::kSlpEn, 0u);  // write-only
    EXPECT_EQ(f.platform.resets, 0);
}

TEST(AcpiPmBlock, HighByteWriteAlonePowersOff) {
    Fixture f;
    f.out(kCnt + 1, 1, (AcpiPmBlock::kSlpTypS5 << 2) | (AcpiPmBlock::kSlpEn >> 8));
    EXPECT_EQ(f.platform.power_offs, 1);
}

TEST(AcpiPmBlock, OtherSleepTypesDoNothing) {
    Fixture f;
    for (u16 typ = 0; typ < 8; ++typ) {
        if (typ == AcpiPmBlock::kSlpTypS5) continue;
        f.out(kCnt, 2, u32(typ << AcpiPmBlock::kSlpTypShift) | AcpiPmBlock::kSlpEn);
    }
    EXPECT_EQ(f.platform.power_offs, 0);
}

TEST(AcpiPmBlock, SciEnCannotBeCleared) {
    Fixture f;
    f.out(kCnt, 2, 0);
    EXPECT_EQ(f.in(kCnt, 2), u32(AcpiPmBlock::kSciEn));
    f.out(kCnt, 2, 0xffff & ~AcpiPmBlock::kSlpEn);
    EXPECT_EQ(f.in(kCnt, 2), u32(AcpiPmBlock::kSciEn | AcpiPmBlock::kBmRld | AcpiPmBlock::kSlpTypMask));
}

TEST(AcpiPmBlock, OutsideTheRegistersReadsOnes) {
    Fixture f;
    EXPECT_EQ(f.in(kBase + 6, 2), 0xffffu);
    EXPECT_EQ(f.in(kBase + 12, 1), 0xffu);
    EXPECT_EQ(f.in(kBase - 1, 4), 0xffffffffu);
    EXPECT_EQ(f.in(kTmr + 2, 4), 0xffff0000u | (f.in(kTmr + 2, 2) & 0xffff));
}

TEST(AcpiPmBlock, OtherBase) {
    FakeClock clock;
    FakeLines lines;
    FakePlatform platform;
    AcpiPmBlock pm(clock, lines, platform, 0xb000);
    clock.now = kNsPerSecond;
    EXPECT_EQ(pm.port_read(0xb008, 4), u32(AcpiPmBlock::kPmTimerHz));
    EXPECT_EQ(pm.port_read(0x608, 4), 0xffffffffu);
}

TEST(AcpiPmBlock, ResetClearsRegistersAndLowersSci) {
    Fixture f;
    f.pm.press_power_button();
    f.out(kEn, 2, AcpiPmBlock::kPwrBtnSts);
    ASSERT_TRUE(f.sci());
    f.clock.now = 3 * kNsPerSecond;
    f.pm.reset();
    EXPECT_FALSE(f.sci());
    EXPECT_EQ(f.in(kSts, 2), 0u);  // the flip before the reset does not count
    EXPECT_EQ(f.in(kEn, 2), 0u);
}

}  // namespace
