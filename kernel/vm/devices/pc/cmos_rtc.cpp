#include "kernel/vm/devices/pc/cmos_rtc.hpp"

#include "kernel/vm/devices/pc/isa_port_access.hpp"
#include "kernel/vm/devices/pc/rtc_calendar.hpp"
#include "kernel/vm/devices/pc/tick_math.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

// MC146818A address map.
constexpr u8 kSeconds = 0x00;
constexpr u8 kSecondsAlarm = 0x01;
constexpr u8 kMinutes = 0x02;
constexpr u8 kMinutesAlarm = 0x03;
constexpr u8 kHours = 0x04;
constexpr u8 kHoursAlarm = 0x05;
constexpr u8 kDayOfWeek = 0x06;
constexpr u8 kDayOfMonth = 0x07;
constexpr u8 kMonth = 0x08;
constexpr u8 kYear = 0x09;
constexpr u8 kRegisterA = 0x0a;
constexpr u8 kRegisterB = 0x0b;
constexpr u8 kRegisterC = 0x0c;
constexpr u8 kRegisterD = 0x0d;
constexpr u8 kCentury = CmosRtc::kCenturyIndex;
constexpr u8 kTimeRegisters[] = {kSeconds, kMinutes, kHours, kDayOfWeek, kDayOfMonth, kMonth, kYear, kCentury};

// Register A: UIP, DV2-DV0 (divider), RS3-RS0 (periodic rate).
constexpr u8 kUpdateInProgress = 0x80;
constexpr u8 kDividerMask = 0x70;
constexpr u8 kDividerNormal = 0x20;  // 32.768 kHz time base, divider running
constexpr u8 kRateMask = 0x0f;
// Register B.
constexpr u8 kSet = 0x80;
constexpr u8 kPeriodicEnable = 0x40;
constexpr u8 kAlarmEnable = 0x20;
constexpr u8 kUpdateEndedEnable = 0x10;
constexpr u8 kBinaryMode = 0x04;  // DM: 1 binary, 0 BCD
constexpr u8 kHours24 = 0x02;
// Register C: the flags sit at the same bit positions as their enables in register B.
constexpr u8 kIrqFlag = 0x80;
constexpr u8 kPeriodicFlag = 0x40;
constexpr u8 kAlarmFlag = 0x20;
constexpr u8 kUpdateEndedFlag = 0x10;
constexpr u8 kInterruptSources = kPeriodicFlag | kAlarmFlag | kUpdateEndedFlag;
// Register D: valid RAM and time (the battery is always good).
constexpr u8 kValidRamAndTime = 0x80;
// Alarm bytes with both top bits set match any value ("don't care").
constexpr u8 kAlarmDontCare = 0xc0;
constexpr u8 kPm = 0x80;

constexpr u8 kNmiMask = 0x80;
constexpr u8 kIndexMask = 0x7f;

constexpr u64 kDividerHz = 32768;
// UIP rises this long before each update cycle (MC146818A "Update Cycle", tBUC).
constexpr u64 kUpdateWarningNs = 244'000;
// After the divider leaves reset, the first update cycle comes half a second later.
constexpr u64 kFirstUpdateAfterResetNs = 500'000'000;
constexpr i64 kSecondsPerDay = 86400;

// SeaBIOS/QEMU memory-size locations.
constexpr u8 kBaseMemoryKib = 0x15;
constexpr u8 kExtendedMemoryKib = 0x17;
constexpr u8 kExtendedMemoryKib2 = 0x30;
constexpr u8 kMemoryAbove16MiB = 0x34;
constexpr u8 kMemoryAbove4GiB = 0x5b;
constexpr u8 kChecksumFirst = 0x10;
constexpr u8 kChecksumLast = 0x2d;
constexpr u8 kChecksum = 0x2e;

constexpr u32 clamp(u32 value, u32 low, u32 high) { return value < low ? low : (value > high ? high : value); }
constexpr u64 min_u64(u64 a, u64 b) { return a < b ? a : b; }

bool alarm_byte_matches(u8 alarm, u8 time) { return (alarm & kAlarmDontCare) == kAlarmDontCare || alarm == time; }

}  // namespace

CmosRtc::CmosRtc(const GuestClock& clock, InterruptLines& irq_lines, i64 unix_seconds_at_clock_zero,
                 const CmosMemorySize& memory)
    : clock_(clock), irq_lines_(irq_lines), seconds_at_anchor_(unix_seconds_at_clock_zero) {
    bytes_[kRegisterA] = kDividerNormal | 0x06;
    bytes_[kRegisterB] = kHours24;
    const u64 below = memory.below_4g_bytes;
    const u64 base_kib = min_u64(below / KiB, 640);
    const u64 extended_kib = min_u64(below > MiB ? (below - MiB) / KiB : 0, 0xffff);
    const u64 above_16m = min_u64(below > 16 * MiB ? (below - 16 * MiB) / (64 * KiB) : 0, 0xffff);
    const u64 above_4g = min_u64(memory.above_4g_bytes / (64 * KiB), 0xffffff);
    auto store16 = [this](u8 index, u64 value) {
        bytes_[index] = u8(value);
        bytes_[index + 1] = u8(value >> 8);
    };
    store16(kBaseMemoryKib, base_kib);
    store16(kExtendedMemoryKib, extended_kib);
    store16(kExtendedMemoryKib2, extended_kib);
    store16(kMemoryAbove16MiB, above_16m);
    bytes_[kMemoryAbove4GiB] = u8(above_4g);
    bytes_[kMemoryAbove4GiB + 1] = u8(above_4g >> 8);
    bytes_[kMemoryAbove4GiB + 2] = u8(above_4g >> 16);
    u32 checksum = 0;
    for (u8 index = kChecksumFirst; index <= kChecksumLast; ++index) checksum += bytes_[index];
    bytes_[kChecksum] = u8(checksum >> 8);  // big-endian, as on the IBM AT
    bytes_[kChecksum + 1] = u8(checksum);
    // The clock's own bytes mirror the time so far (they matter once it stops).
    store_time_registers(seconds_at_anchor_);
}

// --- register formats --------------------------------------------------------------

bool CmosRtc::divider_running() const { return (bytes_[kRegisterA] & kDividerMask) == kDividerNormal; }
bool CmosRtc::clock_running() const { return divider_running() && !(bytes_[kRegisterB] & kSet); }
bool CmosRtc::binary_mode() const { return bytes_[kRegisterB] & kBinaryMode; }
bool CmosRtc::hours_24() const { return bytes_[kRegisterB] & kHours24; }

u8 CmosRtc::encode(u32 value) const {
    value %= 100;
    return binary_mode() ? u8(value) : u8((value / 10) << 4 | value % 10);
}

// Nibbles above 9 are not BCD; they still weigh in by position so any byte decodes.
u32 CmosRtc::decode(u8 raw) const { return binary_mode() ? raw : (raw >> 4) * 10u + (raw & 0xf); }

u8 CmosRtc::encode_hour(u32 hour) const {
    if (hours_24()) return encode(hour);
    // 12-hour mode: 12 AM, 1-11 AM, 12 PM, 1-11 PM; bit 7 marks PM in either format.
    const u32 on_dial = hour % 12 == 0 ? 12 : hour % 12;
    return u8(encode(on_dial) | (hour >= 12 ? kPm : 0));
}

u32 CmosRtc::decode_hour(u8 raw) const {
    if (hours_24()) return clamp(decode(raw), 0, 23);
    const u32 on_dial = clamp(decode(raw & ~kPm & 0xff), 1, 12);
    return on_dial % 12 + ((raw & kPm) ? 12 : 0);
}

u8 CmosRtc::time_register_value(u8 index, i64 seconds) const {
    const CalendarTime time = calendar_from_unix(seconds);
    const i64 year = time.year < 0 ? 0 : time.year;
    switch (index) {
        case kSeconds: return encode(time.second);
        case kMinutes: return encode(time.minute);
        case kHours: return encode_hour(time.hour);
        case kDayOfWeek: return encode(time.weekday + 1u);  // 1 = Sunday
        case kDayOfMonth: return encode(time.day);
        case kMonth: return encode(time.month);
        case kYear: return encode(u32(year % 100));
        default: return encode(u32(year / 100 % 100));  // century
    }
}

void CmosRtc::store_time_registers(i64 seconds) {
    for (u8 index : kTimeRegisters) bytes_[index] = time_register_value(index, seconds);
}

i64 CmosRtc::seconds_from_registers() const {
    // Whatever the guest wrote must give some time: fields are clamped into range (a
    // day past the month's end rolls into the next month). The day of week is derived.
    CalendarTime time{};
    time.second = u8(clamp(decode(bytes_[kSeconds]), 0, 59));
    time.minute = u8(clamp(decode(bytes_[kMinutes]), 0, 59));
    time.hour = u8(decode_hour(bytes_[kHours]));
    time.day = u8(clamp(decode(bytes_[kDayOfMonth]), 1, 31));
    time.month = u8(clamp(decode(bytes_[kMonth]), 1, 12));
    time.year = i64(clamp(decode(bytes_[kCentury]), 0, 99)) * 100 + clamp(decode(bytes_[kYear]), 0, 99);
    return unix_from_calendar(time);
}

// --- time ------------------------------------------------------------------------------

u64 CmosRtc::updates_up_to(u64 now) const {
    return now < update_phase_ns_ ? 0 : (now - update_phase_ns_) / kNsPerSecond + 1;
}

u64 CmosRtc::next_update_after(u64 now) const {
    if (now < update_phase_ns_) return update_phase_ns_;
    return saturating_add(update_phase_ns_, ((now - update_phase_ns_) / kNsPerSecond + 1) * kNsPerSecond);
}

bool CmosRtc::update_in_progress(u64 now) const {
    return clock_running() && next_update_after(now) - now <= kUpdateWarningNs;
}

i64 CmosRtc::seconds_at(u64 now) const {
    if (!clock_running()) return seconds_from_registers();
    const u64 passed = updates_up_to(now > anchor_ns_ ? now : anchor_ns_) - updates_up_to(anchor_ns_);
    return seconds_at_anchor_ + i64(passed);
}

i64 CmosRtc::current_unix_seconds() const { return seconds_at(clock_.now_ns()); }

void CmosRtc::restart_clock(u64 now) {
    // The registers become the time; the next update cycle adds the next second.
    seconds_at_anchor_ = seconds_from_registers();
    anchor_ns_ = now;
}

u64 CmosRtc::periodic_period_ticks() const {
    // MC146818A Table "Periodic Interrupt Rate" at 32.768 kHz: RS 1 and 2 repeat the
    // 256 Hz and 128 Hz taps, RS n >= 3 gives 65536 >> n Hz, RS 0 none.
    const u8 rate = bytes_[kRegisterA] & kRateMask;
    if (rate == 0) return 0;
    return rate <= 2 ? u64(1) << (rate + 6) : u64(1) << (rate - 1);
}

u64 CmosRtc::periodic_events_up_to(u64 now) const {
    if (now < periodic_origin_ns_) return 0;
    return ns_to_ticks(now - periodic_origin_ns_, kDividerHz) / periodic_period_ticks();
}

u64 CmosRtc::next_periodic_after(u64 now) const {
    const u64 next_tick = (periodic_events_up_to(now) + 1) * periodic_period_ticks();
    return saturating_add(periodic_origin_ns_, ticks_to_ns_ceil(next_tick, kDividerHz));
}

bool CmosRtc::next_alarm_after(i64 seconds, i64& alarm) const {
    // The alarm compares the register bytes (MC146818A "Alarm"), so the candidates are
    // found in register format: which hours, minutes and seconds each alarm byte accepts.
    u32 hours = 0;
    u64 minutes = 0, secs = 0;
    for (u32 hour = 0; hour < 24; ++hour)
        if (alarm_byte_matches(bytes_[kHoursAlarm], encode_hour(hour))) hours |= 1u << hour;
    for (u32 unit = 0; unit < 60; ++unit) {
        if (alarm_byte_matches(bytes_[kMinutesAlarm], encode(unit))) minutes |= 1ull << unit;
        if (alarm_byte_matches(bytes_[kSecondsAlarm], encode(unit))) secs |= 1ull << unit;
    }
    if (hours == 0 || minutes == 0 || secs == 0) return false;  // an impossible alarm
    const i64 day_start = floor_div(seconds, kSecondsPerDay);
    const i64 after = seconds - day_start * kSecondsPerDay;  // second of the day, now
    // Any alarm that can match does so within a day, so today and tomorrow suffice.
    for (i64 day = 0; day < 2; ++day) {
        for (i64 hour = 0; hour < 24; ++hour) {
            const i64 hour_start = day * kSecondsPerDay + hour * 3600;
            if (!(hours & (1u << hour)) || hour_start + 3599 <= after) continue;
            for (i64 minute = 0; minute < 60; ++minute) {
                const i64 minute_start = hour_start + minute * 60;
                if (!(minutes & (1ull << minute)) || minute_start + 59 <= after) continue;
                for (i64 second = 0; second < 60; ++second) {
                    if ((secs & (1ull << second)) && minute_start + second > after) {
                        alarm = day_start * kSecondsPerDay + minute_start + second;
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

// --- interrupts ------------------------------------------------------------------------

void CmosRtc::sync_flags(u64 now) {
    if (now <= flags_synced_ns_) return;
    const u64 from = flags_synced_ns_;
    u8 flags = 0;
    // Update-ended and alarm flags come from update cycles, which SET and a held divider
    // inhibit; periodic flags come from the divider chain alone. Each flag is set by its
    // event whether or not its interrupt is enabled (MC146818A "Register C").
    if (clock_running()) {
        const u64 updates = updates_up_to(now) - updates_up_to(from);
        if (updates > 0) {
            flags |= kUpdateEndedFlag;
            const i64 shown = seconds_at(from);
            i64 alarm;
            if (next_alarm_after(shown, alarm) && alarm <= shown + i64(updates)) flags |= kAlarmFlag;
        }
    }
    if (divider_running() && periodic_period_ticks() != 0 && periodic_events_up_to(now) > periodic_events_up_to(from))
        flags |= kPeriodicFlag;
    bytes_[kRegisterC] |= flags;
    flags_synced_ns_ = now;
    update_irq();
}

void CmosRtc::update_irq() {
    // IRQF = PF.PIE + AF.AIE + UF.UIE; IRQ 8 follows it.
    const bool asserted = bytes_[kRegisterC] & bytes_[kRegisterB] & kInterruptSources;
    if (asserted)
        bytes_[kRegisterC] |= kIrqFlag;
    else
        bytes_[kRegisterC] &= u8(~kIrqFlag);
    if (asserted == irq_asserted_) return;
    irq_asserted_ = asserted;
    irq_lines_.set_isa_irq(kIrq, asserted);
}

u64 CmosRtc::next_deadline_ns() const {
    if (irq_asserted_) return kNoDeadline;  // nothing new shows until register C is read
    const u8 enables = bytes_[kRegisterB];
    const u64 from = flags_synced_ns_;
    u64 deadline = kNoDeadline;
    if ((enables & kPeriodicEnable) && divider_running() && periodic_period_ticks() != 0)
        deadline = min_u64(deadline, next_periodic_after(from));
    if (clock_running()) {
        if (enables & kUpdateEndedEnable) deadline = min_u64(deadline, next_update_after(from));
        i64 alarm;
        const i64 shown = seconds_at(from);
        if ((enables & kAlarmEnable) && next_alarm_after(shown, alarm)) {
            const u64 later_updates = u64(alarm - shown - 1);  // at most two days' worth
            deadline = min_u64(deadline, saturating_add(next_update_after(from), later_updates * kNsPerSecond));
        }
    }
    return deadline;
}

void CmosRtc::advance_to(u64 now_ns) { sync_flags(now_ns); }

// --- registers -------------------------------------------------------------------------

u8 CmosRtc::read_register(u8 index, u64 now) {
    switch (index) {
        case kSeconds:
        case kMinutes:
        case kHours:
        case kDayOfWeek:
        case kDayOfMonth:
        case kMonth:
        case kYear:
        case kCentury: return clock_running() ? time_register_value(index, seconds_at(now)) : bytes_[index];
        case kRegisterA: return u8(bytes_[kRegisterA] | (update_in_progress(now) ? kUpdateInProgress : 0));
        case kRegisterC: {
            // Reading C returns the flags and clears them all, releasing IRQ 8.
            sync_flags(now);
            const u8 flags = bytes_[kRegisterC];
            bytes_[kRegisterC] = 0;
            update_irq();
            return flags;
        }
        case kRegisterD: return kValidRamAndTime;
        default: return bytes_[index];
    }
}

void CmosRtc::write_time_register(u8 index, u8 value, u64 now) {
    if (!clock_running()) {
        bytes_[index] = value;
        return;
    }
    // A running clock takes the write as a new time from this instant, keeping the
    // divider's phase: the other fields keep what they show now.
    store_time_registers(seconds_at(now));
    bytes_[index] = value;
    restart_clock(now);
}

void CmosRtc::write_register_a(u8 value, u64 now) {
    const bool was_dividing = divider_running();
    const bool was_running = clock_running();
    if (was_running) store_time_registers(seconds_at(now));
    bytes_[kRegisterA] = value & u8(~kUpdateInProgress);
    if (!was_dividing && divider_running()) {
        // Leaving divider reset restarts the chain: periodic taps count from here and
        // the first update cycle is half a second away.
        periodic_origin_ns_ = now;
        update_phase_ns_ = (now + kFirstUpdateAfterResetNs) % kNsPerSecond;
    }
    if (!was_running && clock_running()) restart_clock(now);
}

void CmosRtc::write_register_b(u8 value, u64 now) {
    const bool was_running = clock_running();
    // Freeze in the format the registers had, before DM or 24/12 may change.
    if (was_running) store_time_registers(seconds_at(now));
    // Setting SET also clears UIE (MC146818A "Register B", UIE).
    if (value & kSet) value &= u8(~kUpdateEndedEnable);
    bytes_[kRegisterB] = value;
    if (!was_running && clock_running()) restart_clock(now);
    update_irq();
}

void CmosRtc::write_register(u8 index, u8 value, u64 now) {
    // Every event up to now happened under the old settings.
    sync_flags(now);
    switch (index) {
        case kSeconds:
        case kMinutes:
        case kHours:
        case kDayOfWeek:
        case kDayOfMonth:
        case kMonth:
        case kYear:
        case kCentury: write_time_register(index, value, now); return;
        case kRegisterA: write_register_a(value, now); return;
        case kRegisterB: write_register_b(value, now); return;
        case kRegisterC:
        case kRegisterD: return;         // read only
        default: bytes_[index] = value;  // alarms and RAM
    }
}

u32 CmosRtc::port_read(u16 port, u8 size) {
    const u64 now = clock_.now_ns();
    return isa_split_read(port, size, [this, now](u16 byte_port) -> u8 {
        return byte_port == kDataPort ? read_register(index_, now) : 0xff;
    });
}

void CmosRtc::port_write(u16 port, u8 size, u32 value) {
    const u64 now = clock_.now_ns();
    isa_split_write(port, size, value, [this, now](u16 byte_port, u8 byte) {
        if (byte_port == kIndexPort) {
            index_ = byte & kIndexMask;
            nmi_masked_ = byte & kNmiMask;
        } else if (byte_port == kDataPort) {
            write_register(index_, byte, now);
        }
    });
}

// --- Save and restore ------------------------------------------------------------------

void CmosRtc::save(StateWriter& out) const {
    out.put_bytes(bytes_, kBytes);
    out.put_u8(index_);
    out.put_bool(nmi_masked_);
    out.put_u64(u64(seconds_at_anchor_));
    out.put_u64(anchor_ns_);
    out.put_u64(update_phase_ns_);
    out.put_u64(periodic_origin_ns_);
    out.put_u64(flags_synced_ns_);
    out.put_bool(irq_asserted_);
}

bool CmosRtc::load(StateReader& in, State& out) const {
    in.get_bytes(out.bytes, kBytes);
    out.index = in.get_u8();
    out.nmi_masked = in.get_bool();
    out.seconds_at_anchor = i64(in.get_u64());
    out.anchor_ns = in.get_u64();
    out.update_phase_ns = in.get_u64();
    out.periodic_origin_ns = in.get_u64();
    out.flags_synced_ns = in.get_u64();
    out.irq_asserted = in.get_bool();
    // The index is 7 bits (bit 7 of port 0x70 is NMI_EN, kept apart); UIP is computed,
    // never stored; the update cycle falls within each second.
    in.require(out.index <= kIndexMask);
    in.require((out.bytes[kRegisterA] & kUpdateInProgress) == 0);
    in.require(out.update_phase_ns < kNsPerSecond);
    // Register C's IRQF is what the IRQ line shows (MC146818A, "Register C").
    in.require(out.irq_asserted == ((out.bytes[kRegisterC] & kIrqFlag) != 0));
    return !in.failed();
}

void CmosRtc::restore(const State& s) {
    for (usize i = 0; i < kBytes; ++i) bytes_[i] = s.bytes[i];
    index_ = s.index;
    nmi_masked_ = s.nmi_masked;
    seconds_at_anchor_ = s.seconds_at_anchor;
    anchor_ns_ = s.anchor_ns;
    update_phase_ns_ = s.update_phase_ns;
    periodic_origin_ns_ = s.periodic_origin_ns;
    flags_synced_ns_ = s.flags_synced_ns;
    irq_asserted_ = s.irq_asserted;
}
