#include "kernel/passthrough/pm1_control_policy.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u32 kSciEn = 1;
constexpr u32 kSlpEn = 1u << 13;
constexpr u32 slp_typ(u32 t) { return t << 10; }

// A machine whose \_S5 is {7, 5} (PM1a and PM1b differ, as they may).
constexpr AcpiSleepType kS5{true, 7, 5};

TEST(Pm1ControlPolicy, WritesWithoutSlpEnPassThrough) {
    for (u8 size : {u8(1), u8(2), u8(4)}) {
        const Pm1WriteDecision d = pm1_control_write(0, size, kSciEn | slp_typ(3), kS5, false);
        EXPECT_EQ(d.action, Pm1WriteAction::PassThrough) << int(size);
    }
    // A byte at offset 0 cannot hold SLP_EN, whatever its bit 5 says.
    EXPECT_EQ(pm1_control_write(0, 1, 0x20, kS5, false).action, Pm1WriteAction::PassThrough);
}

TEST(Pm1ControlPolicy, S5PowersOff) {
    const Pm1WriteDecision d = pm1_control_write(0, 2, kSciEn | slp_typ(7) | kSlpEn, kS5, false);
    EXPECT_EQ(d.action, Pm1WriteAction::PowerOff);
    EXPECT_EQ(d.slp_typ, 7);
    EXPECT_FALSE(d.s5_unknown);
    EXPECT_EQ(d.image, kSciEn | slp_typ(7) | kSlpEn);
    EXPECT_EQ(d.lanes, 0xffff);
    // PM1b compares with \_S5's second value.
    EXPECT_EQ(pm1_control_write(0, 2, slp_typ(5) | kSlpEn, kS5, true).action, Pm1WriteAction::PowerOff);
    EXPECT_EQ(pm1_control_write(0, 2, slp_typ(7) | kSlpEn, kS5, true).action, Pm1WriteAction::RefuseSleep);
}

TEST(Pm1ControlPolicy, OtherSleepStatesAreRefused) {
    for (u32 t = 0; t < 8; ++t) {
        if (t == 7) continue;
        const Pm1WriteDecision d = pm1_control_write(0, 2, kSciEn | slp_typ(t) | kSlpEn, kS5, false);
        EXPECT_EQ(d.action, Pm1WriteAction::RefuseSleep) << t;
        EXPECT_EQ(d.slp_typ, t);
    }
    // QEMU's S3 (SLP_TYP 1) against its S5 (0).
    EXPECT_EQ(pm1_control_write(0, 2, slp_typ(1) | kSlpEn, AcpiSleepType{true, 0, 0}, false).action,
              Pm1WriteAction::RefuseSleep);
    EXPECT_EQ(pm1_control_write(0, 2, slp_typ(0) | kSlpEn, AcpiSleepType{true, 0, 0}, false).action,
              Pm1WriteAction::PowerOff);
}

TEST(Pm1ControlPolicy, HighByteWritesAreChecked) {
    // outb(PM1a_CNT + 1, SLP_EN | SLP_TYP=1): bits 15:8 of the register.
    const Pm1WriteDecision d = pm1_control_write(1, 1, (kSlpEn | slp_typ(1)) >> 8, kS5, false);
    EXPECT_EQ(d.action, Pm1WriteAction::RefuseSleep);
    EXPECT_EQ(d.slp_typ, 1);
    EXPECT_EQ(d.lanes, 0xff00);
    EXPECT_EQ(pm1_control_write(1, 1, (kSlpEn | slp_typ(7)) >> 8, kS5, false).action, Pm1WriteAction::PowerOff);
    // A word at offset 1: its low byte is the register's high byte.
    EXPECT_EQ(pm1_control_write(1, 2, (kSlpEn | slp_typ(2)) >> 8, kS5, false).action, Pm1WriteAction::RefuseSleep);
    // A dword at offset 0: only its low half is the register.
    EXPECT_EQ(pm1_control_write(0, 4, kSlpEn << 16, kS5, false).action, Pm1WriteAction::PassThrough);
    EXPECT_EQ(pm1_control_write(0, 4, kSlpEn | slp_typ(3), kS5, false).action, Pm1WriteAction::RefuseSleep);
}

TEST(Pm1ControlPolicy, WithoutS5EverySleepPowersOffWithAWarning) {
    const Pm1WriteDecision d = pm1_control_write(0, 2, slp_typ(3) | kSlpEn, AcpiSleepType{}, false);
    EXPECT_EQ(d.action, Pm1WriteAction::PowerOff);
    EXPECT_TRUE(d.s5_unknown);
    EXPECT_EQ(pm1_control_write(0, 2, slp_typ(3), AcpiSleepType{}, false).action, Pm1WriteAction::PassThrough);
}

TEST(Pm1ControlPolicy, SleepValueKeepsTheOtherBits) {
    EXPECT_EQ(pm1_sleep_value(kSciEn | slp_typ(5), 7), kSciEn | slp_typ(7) | kSlpEn);
    EXPECT_EQ(pm1_sleep_value(0xffff, 0), 0xffff & ~slp_typ(7));
    EXPECT_EQ(pm1_sleep_value(0, 9), slp_typ(1) | kSlpEn);
}

}  // namespace
