// The ACPI fixed-hardware register block of the virtual chipset (ACPI 6.x section 4.8):
// PM1a event (status + enable), PM1a control and the 24-bit PM timer, in one I/O block
// laid out as on QEMU's ICH9 (base 0x600):
//
//   base + 0  PM1a_STS  16 bits  write 1 to clear
//   base + 2  PM1a_EN   16 bits
//   base + 4  PM1a_CNT  16 bits
//   base + 8  PM_TMR    32 bits  read only, 3.579545 MHz, 24 bits (FADT TMR_VAL_EXT = 0)
//
// There is no SMI_CMD and no firmware to hand over from: the platform runs in ACPI mode
// from power-on, so SCI_EN always reads 1 (FADT SMI_CMD = 0, ACPI 6.x 4.8.2.5). There is
// no PM1b block, no PM2 and no GPE block (FADT GPE0_BLK = 0). The SCI is ISA IRQ 9,
// level: high while any enabled status bit is set.
//
// Ports are absolute (base..base+kBlockSize-1); the block has no other side effects on
// reads than catching up with time, and any access width works bytewise. The 2 bytes
// at base + 6 hold nothing and read as ones.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"
#include "kernel/vm/devices/pc/platform_control.hpp"

class StateWriter;
class StateReader;

class AcpiPmBlock {
public:
    static constexpr u16 kDefaultBase = 0x600;

    // What the FADT says about this block (PM1a_EVT_BLK, PM1_EVT_LEN, ...).
    static constexpr u16 kPm1aEvtOffset = 0;
    static constexpr u8 kPm1EvtLen = 4;
    static constexpr u16 kPm1aCntOffset = 4;
    static constexpr u8 kPm1CntLen = 2;
    static constexpr u16 kPmTmrOffset = 8;
    static constexpr u8 kPmTmrLen = 4;
    static constexpr u16 kBlockSize = 12;  // ports the platform routes here
    static constexpr u8 kSciIrq = 9;       // FADT SCI_INT; level-triggered, as the MADT must say

    // The SLP_TYP value for S5 (soft off): the DSDT's \_S5 package must hold it as
    // SLP_TYPa (and SLP_TYPb). Writing PM1a_CNT with this type and SLP_EN powers off;
    // other sleep types are not supported and do nothing.
    static constexpr u8 kSlpTypS5 = 5;

    static constexpr u64 kPmTimerHz = 3579545;

    // PM1 status and enable bits (ACPI 6.x tables 4.16, 4.17).
    static constexpr u16 kTmrSts = 1u << 0;
    static constexpr u16 kBmSts = 1u << 4;
    static constexpr u16 kGblSts = 1u << 5;
    static constexpr u16 kPwrBtnSts = 1u << 8;
    static constexpr u16 kSlpBtnSts = 1u << 9;
    static constexpr u16 kRtcSts = 1u << 10;
    static constexpr u16 kWakSts = 1u << 15;
    // PM1 control bits (ACPI 6.x table 4.18).
    static constexpr u16 kSciEn = 1u << 0;
    static constexpr u16 kBmRld = 1u << 1;
    static constexpr u16 kGblRls = 1u << 2;
    static constexpr u16 kSlpTypShift = 10;
    static constexpr u16 kSlpTypMask = 7u << kSlpTypShift;
    static constexpr u16 kSlpEn = 1u << 13;

    // Reads `clock` (the timer's phase) but never calls `lines`: the SCI starts low.
    AcpiPmBlock(const GuestClock& clock, InterruptLines& lines, PlatformControl& platform, u16 base = kDefaultBase);

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // Timing (device_interfaces.hpp): the next time the timer's bit 23 flips while that
    // would raise the SCI (TMR_EN set, TMR_STS clear), else kNoDeadline.
    u64 next_deadline_ns() const;
    void advance_to(u64 now_ns);

    // The fixed power button was pressed: PWRBTN_STS, and the SCI if PWRBTN_EN.
    void press_power_button();

    // Power-on state; the timer keeps counting from the guest clock.
    void reset();

    // The PM timer's 24-bit value at `now_ns` of guest time.
    static u32 timer_value_at(u64 now_ns);
    bool sci_level() const { return sci_level_; }
    u16 base() const { return base_; }

    // Save and restore (platform_state_codec.hpp): PM1 status, enable and control (ACPI
    // 6.5 4.8.3.1-4.8.3.2), the SCI level, and the PM timer as the timer value it read and
    // the count of bit-23 flips TMR_STS accounted for. The timer's value is a function of
    // device time, which a restore continues: the guest's PM timer goes on from there.
    struct State {
        u16 status, enable, control;
        u64 timer_flips_seen;
        u32 timer_now;
        bool sci_level;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    u8 read_byte(u16 offset) const;
    void write_byte(u16 offset, u8 value);
    void write_control_high(u8 value);
    void catch_up(u64 now_ns);
    void update_sci();

    const GuestClock& clock_;
    InterruptLines& lines_;
    PlatformControl& platform_;
    u16 base_;

    u16 status_ = 0;
    u16 enable_ = 0;
    u16 control_ = 0;           // BM_RLD and SLP_TYP as written (SCI_EN reads 1 regardless)
    u64 timer_flips_seen_ = 0;  // how many bit-23 flips TMR_STS has accounted for
    u32 timer_now_ = 0;         // timer value at the last catch-up (what PM_TMR reads)
    bool sci_level_ = false;
};
