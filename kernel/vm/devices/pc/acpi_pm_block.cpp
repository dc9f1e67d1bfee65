#include "kernel/vm/devices/pc/acpi_pm_block.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"
#include "kernel/vm/devices/pc/tick_math.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
constexpr u32 kTimerMask = 0xffffff;
constexpr u32 kTimerFlipShift = 23;  // TMR_STS is set whenever bit 23 changes (ACPI 6.x 4.8.3.3)

// Status bits the guest can clear (write 1) and enable bits it can set; the rest are
// reserved and read 0.
constexpr u16 kStatusBits = AcpiPmBlock::kTmrSts | AcpiPmBlock::kBmSts | AcpiPmBlock::kGblSts |
                            AcpiPmBlock::kPwrBtnSts | AcpiPmBlock::kSlpBtnSts | AcpiPmBlock::kRtcSts |
                            AcpiPmBlock::kWakSts;
constexpr u16 kEnableBits = AcpiPmBlock::kTmrSts | AcpiPmBlock::kGblSts | AcpiPmBlock::kPwrBtnSts |
                            AcpiPmBlock::kSlpBtnSts | AcpiPmBlock::kRtcSts;

// PM timer ticks since the clock's zero, and the first nanosecond with a given count
// (integer-only and overflow-free: tick_math.hpp).
u64 ticks_at(u64 ns) { return ns_to_ticks(ns, AcpiPmBlock::kPmTimerHz); }
u64 first_ns_with(u64 ticks) { return ticks_to_ns_ceil(ticks, AcpiPmBlock::kPmTimerHz); }
}  // namespace

AcpiPmBlock::AcpiPmBlock(const GuestClock& clock, InterruptLines& lines, PlatformControl& platform, u16 base)
    : clock_(clock), lines_(lines), platform_(platform), base_(base) {
    reset();
}

void AcpiPmBlock::reset() {
    status_ = enable_ = control_ = 0;
    const u64 ticks = ticks_at(clock_.now_ns());
    timer_flips_seen_ = ticks >> kTimerFlipShift;
    timer_now_ = u32(ticks) & kTimerMask;
    update_sci();
}

u32 AcpiPmBlock::timer_value_at(u64 now_ns) { return u32(ticks_at(now_ns)) & kTimerMask; }

u64 AcpiPmBlock::next_deadline_ns() const {
    // TMR_STS itself is caught up lazily on the next access; only an SCI needs a timer.
    if (!(enable_ & kTmrSts) || (status_ & kTmrSts)) return kNoDeadline;
    return first_ns_with((timer_flips_seen_ + 1) << kTimerFlipShift);
}

void AcpiPmBlock::advance_to(u64 now_ns) {
    catch_up(now_ns);
    update_sci();
}

void AcpiPmBlock::press_power_button() {
    status_ |= kPwrBtnSts;
    update_sci();
}

u32 AcpiPmBlock::port_read(u16 port, u8 size) {
    if (port < base_ || port - base_ >= kBlockSize) return port_access_mask(size);
    catch_up(clock_.now_ns());
    update_sci();
    u32 value = 0;
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 offset = u32(port - base_) + i;
        const u8 byte = offset < kBlockSize ? read_byte(u16(offset)) : 0xff;
        value |= u32(byte) << (8 * i);
    }
    return value;
}

void AcpiPmBlock::port_write(u16 port, u8 size, u32 value) {
    if (port < base_ || port - base_ >= kBlockSize) return;
    // Flips that happened before this write are the guest's to clear with it.
    catch_up(clock_.now_ns());
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 offset = u32(port - base_) + i;
        if (offset < kBlockSize) write_byte(u16(offset), u8(value >> (8 * i)));
    }
    update_sci();
}

u8 AcpiPmBlock::read_byte(u16 offset) const {
    const u16 control = u16((control_ & (kBmRld | kSlpTypMask)) | kSciEn);
    switch (offset) {
        case kPm1aEvtOffset: return u8(status_);
        case kPm1aEvtOffset + 1: return u8(status_ >> 8);
        case kPm1aEvtOffset + 2: return u8(enable_);
        case kPm1aEvtOffset + 3: return u8(enable_ >> 8);
        case kPm1aCntOffset: return u8(control);
        case kPm1aCntOffset + 1: return u8(control >> 8);
        case kPmTmrOffset: return u8(timer_now_);
        case kPmTmrOffset + 1: return u8(timer_now_ >> 8);
        case kPmTmrOffset + 2: return u8(timer_now_ >> 16);
        case kPmTmrOffset + 3: return 0;  // bits 31:24 are reserved with a 24-bit timer
        default: return 0xff;             // nothing between PM1a_CNT and PM_TMR
    }
}

void AcpiPmBlock::write_byte(u16 offset, u8 value) {
    switch (offset) {
        case kPm1aEvtOffset: status_ &= u16(~(value & kStatusBits)); break;
        case kPm1aEvtOffset + 1: status_ &= u16(~((value << 8) & kStatusBits)); break;
        case kPm1aEvtOffset + 2: enable_ = u16((enable_ & 0xff00) | (value & kEnableBits & 0xff)); break;
        case kPm1aEvtOffset + 3: enable_ = u16((enable_ & 0x00ff) | ((value << 8) & kEnableBits)); break;
        // SCI_EN is fixed and GBL_RLS would signal firmware that does not exist.
        case kPm1aCntOffset: control_ = u16((control_ & 0xff00) | (value & kBmRld)); break;
        case kPm1aCntOffset + 1: write_control_high(value); break;
        default: break;  // the timer is read-only
    }
}

// The high byte of PM1a_CNT carries SLP_TYP and SLP_EN together, so one write (the
// second of ACPI's two-write sleep sequence, or a single 16-bit write) both names the
// state and enters it.
void AcpiPmBlock::write_control_high(u8 value) {
    const u16 word = u16(value << 8);
    control_ = u16((control_ & 0x00ff) | (word & kSlpTypMask));
    if (!(word & kSlpEn)) return;  // SLP_EN is write-only and reads 0
    if (((word & kSlpTypMask) >> kSlpTypShift) == kSlpTypS5) platform_.request_power_off();
}

void AcpiPmBlock::catch_up(u64 now_ns) {
    const u64 ticks = ticks_at(now_ns);
    const u64 flips = ticks >> kTimerFlipShift;
    if (flips < timer_flips_seen_) return;  // the clock never runs backwards; stay put if it seems to
    if (flips > timer_flips_seen_) status_ |= kTmrSts;
    timer_flips_seen_ = flips;
    timer_now_ = u32(ticks) & kTimerMask;
}

void AcpiPmBlock::update_sci() {
    const bool level = (status_ & enable_ & kEnableBits) != 0;  // SCI_EN is always set
    if (level == sci_level_) return;
    sci_level_ = level;
    lines_.set_isa_irq(kSciIrq, level);
}

// --- Save and restore ------------------------------------------------------------------

void AcpiPmBlock::save(StateWriter& out) const {
    out.put_u16(status_);
    out.put_u16(enable_);
    out.put_u16(control_);
    out.put_u64(timer_flips_seen_);
    out.put_u32(timer_now_);
    out.put_bool(sci_level_);
}

bool AcpiPmBlock::load(StateReader& in, State& out) const {
    out.status = in.get_u16();
    out.enable = in.get_u16();
    out.control = in.get_u16();
    out.timer_flips_seen = in.get_u64();
    out.timer_now = in.get_u32();
    out.sci_level = in.get_bool();
    // Reserved PM1 bits read 0 (ACPI 6.5 tables 4.16-4.18; SLP_EN is write-only, SCI_EN
    // fixed); the timer has 24 bits (FADT TMR_VAL_EXT = 0); the SCI follows the bits.
    in.require((out.status & ~kStatusBits) == 0 && (out.enable & ~kEnableBits) == 0);
    in.require((out.control & ~(kBmRld | kSlpTypMask)) == 0);
    in.require(out.timer_now <= kTimerMask);
    in.require(out.sci_level == ((out.status & out.enable & kEnableBits) != 0));
    return !in.failed();
}

void AcpiPmBlock::restore(const State& s) {
    status_ = s.status;
    enable_ = s.enable;
    control_ = s.control;
    timer_flips_seen_ = s.timer_flips_seen;
    timer_now_ = s.timer_now;
    sci_level_ = s.sci_level;
}
