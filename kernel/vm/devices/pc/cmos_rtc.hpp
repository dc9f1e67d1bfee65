// The PC's CMOS real-time clock and its 128 bytes of battery-backed RAM (an MC146818A
// as integrated in the ICH): index port 0x70 (bit 7 masks NMI), data port 0x71, IRQ 8.
//
// Time is computed, never ticked: while the clock runs, the time registers are derived
// from the guest clock and a Unix-time anchor; while it is stopped (register B SET, or
// the divider held in reset) they are plain bytes the guest writes, and restarting
// re-anchors the clock to what they hold. The interrupt flags of register C are brought
// up to date lazily (on every access and in advance_to), so the only deadline is the
// next event that would assert IRQ 8.
//
// Layout beyond the clock, as SeaBIOS expects it from QEMU: century at 0x32, and the
// memory sizes at 0x15-0x18 (base and extended KiB), 0x30-0x31 (extended KiB again),
// 0x34-0x35 (64 KiB units between 16 MiB and 4 GiB) and 0x5b-0x5d (64 KiB units above
// 4 GiB), with the standard checksum of 0x10-0x2d at 0x2e-0x2f.
//
// Not modelled: daylight saving (DSE is stored, never acted on), the square-wave pin,
// the ICH's date alarm in register D and upper 128-byte bank (ports 0x72/0x73). The day
// of week is derived from the date rather than counted on its own.
//
// References: Motorola MC146818A datasheet ("Address Map", "Time, Calendar and Alarm
// Locations", "Update Cycle", "Register A-D", "Interrupts", "Divider Stages"); Intel ICH9
// datasheet (316972) 5.15 "Real Time Clock" and 13.6 (RTC registers, index 70h NMI_EN).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"

class StateWriter;
class StateReader;

// The guest's RAM size as the CMOS reports it to firmware.
struct CmosMemorySize {
    u64 below_4g_bytes = 0;
    u64 above_4g_bytes = 0;
};

class CmosRtc {
public:
    static constexpr u16 kIndexPort = 0x70;
    static constexpr u16 kDataPort = 0x71;
    static constexpr u8 kIrq = 8;
    static constexpr u8 kCenturyIndex = 0x32;
    static constexpr usize kBytes = 128;

    // The clock reads `unix_seconds_at_clock_zero` at guest time 0, with register A
    // 0x26 (32.768 kHz divider running, 1024 Hz periodic rate) and register B 0x02
    // (24-hour BCD, no interrupts), as a PC BIOS leaves it.
    CmosRtc(const GuestClock& clock, InterruptLines& irq_lines, i64 unix_seconds_at_clock_zero,
            const CmosMemorySize& memory);

    // Ports 0x70-0x71; wider accesses are split into byte cycles on consecutive ports,
    // other ports read as 0xff and ignore writes. Port 0x70 is write-only (reads 0xff).
    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // Port 0x70 bit 7 (ICH9 NMI_EN: 1 masks NMI sources).
    bool nmi_masked() const { return nmi_masked_; }
    // The time the guest's clock shows now, in Unix seconds.
    i64 current_unix_seconds() const;

    // The next periodic, alarm or update-ended event that would assert IRQ 8, or
    // kNoDeadline (none enabled, or IRQ 8 is already asserted until register C is read).
    u64 next_deadline_ns() const;
    void advance_to(u64 now_ns);

    // Save and restore (platform_state_codec.hpp): the 128 bytes, the index and NMI mask,
    // and the calendar's time basis as guest-relative quantities: the Unix second the
    // clock showed at a device time, the update cycle's phase within a second, when the
    // divider chain left reset and up to when register C is up to date. A restored clock
    // goes on from the time it showed at the save, as the platform's device time does.
    struct State {
        u8 bytes[kBytes];
        u8 index;
        bool nmi_masked;
        i64 seconds_at_anchor;
        u64 anchor_ns, update_phase_ns, periodic_origin_ns, flags_synced_ns;
        bool irq_asserted;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    u8 read_register(u8 index, u64 now);
    void write_register(u8 index, u8 value, u64 now);
    void write_register_a(u8 value, u64 now);
    void write_register_b(u8 value, u64 now);
    void write_time_register(u8 index, u8 value, u64 now);

    bool divider_running() const;
    bool clock_running() const;
    bool binary_mode() const;
    bool hours_24() const;
    u8 encode(u32 value) const;
    u32 decode(u8 raw) const;
    u8 encode_hour(u32 hour) const;
    u32 decode_hour(u8 raw) const;
    // The time register `index` (0, 2, 4, 6-9, 0x32) showing `seconds`.
    u8 time_register_value(u8 index, i64 seconds) const;
    void store_time_registers(i64 seconds);
    i64 seconds_from_registers() const;
    i64 seconds_at(u64 now) const;
    void restart_clock(u64 now);

    // Update cycles (once a second, at update_phase_ns_ modulo one second).
    u64 updates_up_to(u64 now) const;
    u64 next_update_after(u64 now) const;
    bool update_in_progress(u64 now) const;
    // Periodic interrupt taps of the divider chain.
    u64 periodic_period_ticks() const;
    u64 periodic_events_up_to(u64 now) const;
    u64 next_periodic_after(u64 now) const;
    // Alarm: the first second after `seconds` whose time matches the alarm registers.
    bool next_alarm_after(i64 seconds, i64& alarm) const;

    void sync_flags(u64 now);
    void update_irq();

    const GuestClock& clock_;
    InterruptLines& irq_lines_;
    u8 bytes_[kBytes] = {};
    u8 index_ = 0;
    bool nmi_masked_ = false;
    // While the clock runs: it showed seconds_at_anchor_ at anchor_ns_.
    i64 seconds_at_anchor_ = 0;
    u64 anchor_ns_ = 0;
    u64 update_phase_ns_ = 0;     // update cycles happen at this offset within each second
    u64 periodic_origin_ns_ = 0;  // when the divider chain last left reset
    u64 flags_synced_ns_ = 0;     // register C accounts for every event up to here
    bool irq_asserted_ = false;
};
