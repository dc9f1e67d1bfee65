// The PC's 8254 programmable interval timer: three 16-bit down counters clocked at
// 1.193182 MHz. Counter 0's OUT drives ISA IRQ 0, counter 1 (DRAM refresh on old PCs)
// drives nothing, counter 2's GATE and OUT are port 0x61 bits 0 and 5
// (SystemControlPortB) and feed the speaker.
//
// Time is computed, never ticked: each counter remembers when it was loaded and derives
// its count and OUT from the guest clock. Only counter 0 has a deadline: the next rising
// edge of OUT0, which advance_to() turns into an IRQ 0 pulse (several missed edges
// coalesce into one, as a late timer interrupt would on real hardware's edge-triggered
// input).
//
// Simplifications against the silicon: a count written is loaded at once rather than on
// the next CLK edge (one 838 ns tick early), and modes 2 and 3 treat the illegal count 1
// as 2.
//
// References: Intel 8254 datasheet (231164): "Control Word Format", "Read Operations"
// (counter latch, read-back command, status byte), "Mode Definitions" (modes 0-5,
// Figure "Gate Pin Operations Summary"); Intel ICH9 datasheet (316972) 5.8 "8254
// Timers".
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"

class StateWriter;
class StateReader;

class Pit8254 {
public:
    static constexpr u64 kInputHz = 1'193'182;
    static constexpr u16 kCounter0Port = 0x40;
    static constexpr u16 kCounter2Port = 0x42;
    static constexpr u16 kControlPort = 0x43;
    static constexpr u8 kCounters = 3;
    static constexpr u8 kIrq = 0;

    // Power-on: the datasheet leaves mode, count and OUT undefined. Here every counter
    // waits in mode 3 (square wave, binary, LSB then MSB) for its first count with OUT
    // high, so nothing fires until the guest programs it; GATE 0 and 1 are tied high,
    // GATE 2 starts low (port 0x61 bit 0 clear).
    Pit8254(const GuestClock& clock, InterruptLines& irq_lines);

    // Ports 0x40-0x43; wider accesses are split into byte cycles on consecutive ports,
    // other ports read as 0xff and ignore writes. Writes catch up with time first
    // (advance_to(now)), so an edge that was due before the guest reprograms counter 0
    // is not lost; the caller re-reads next_deadline_ns() after every write.
    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // GATE of `counter` (only counter 2's is wired to anything: port 0x61 bit 0).
    void set_gate(u8 counter, bool high);
    bool gate(u8 counter) const { return counters_[counter % kCounters].gate; }
    // OUT of `counter` now.
    bool output(u8 counter) const;

    // The next rising edge of OUT0, or kNoDeadline.
    u64 next_deadline_ns() const { return irq0_next_edge_ns_; }
    // Pulses IRQ 0 once if OUT0 rose since the last call.
    void advance_to(u64 now_ns);

    // Save and restore (platform_state_codec.hpp): per counter its programming, the
    // read/write byte sequencing and latches, and its counting time as device-time
    // nanoseconds and input-clock ticks; then the pending IRQ 0 edge. load() checks a
    // saved state without changing the model (a mode above 5, a count outside 1-65536,
    // an unknown phase or byte state is refused); restore() makes it the model's and
    // raises no line.
    struct State;
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    enum class Phase : u8 {
        kAwaitingCount,    // control word written, no (complete) count yet
        kAwaitingTrigger,  // modes 1 and 5: count written, no GATE rising edge yet
        kCounting,
    };
    // How the next read of a counter's port is served (read/write "access" state).
    enum class ByteState : u8 { kNone, kLsb, kMsb, kWordLsb, kWordMsb };

public:
    struct Counter {
        u8 mode = 3;       // 0-5 (6 and 7 alias 2 and 3)
        u8 mode_bits = 3;  // as written, for the status byte
        bool bcd = false;
        u8 access = 3;  // RW bits: 1 LSB, 2 MSB, 3 LSB then MSB
        bool gate = true;
        Phase phase = Phase::kAwaitingCount;
        u32 count = 0x10000;  // the initial count in effect, 1..65536 (10000 in BCD)
        u16 held_value = 0;   // what the counter element reads when not counting
        bool write_msb_next = false;
        u8 pending_lsb = 0;
        ByteState read_state = ByteState::kWordLsb;
        ByteState latch_state = ByteState::kNone;
        u16 latched_value = 0;
        bool status_latched = false;
        u8 latched_status = 0;

        // Counting time: ticks since the count was loaded are
        // ticks_before_run + ticks(now - run_start_ns) while running, minus origin_ticks.
        bool running = false;
        u64 run_start_ns = 0;
        u64 ticks_before_run = 0;
        u64 origin_ticks = 0;
        // Modes 2/3 load a rewritten count at the end of the current period, modes 1/5
        // at the next trigger (pending_at_ticks = ~0).
        bool reload_pending = false;
        u32 pending_count = 0;
        u64 pending_at_ticks = 0;
    };
    struct State {
        Counter counters[kCounters];
        u64 irq0_next_edge_ns;
    };

private:
    // The count in effect and the ticks elapsed since it was loaded.
    struct CountPosition {
        u32 count;
        u64 ticks;
        u64 origin;  // in the counter's run ticks
    };

    u8 read_byte(u16 port, u64 now);
    void write_byte(u16 port, u8 value, u64 now);
    void write_control(u8 value, u64 now);
    void read_back(u8 value, u64 now);
    void latch_count(Counter& counter, u64 now);
    void write_count_byte(Counter& counter, u8 value, u64 now);
    void load_count(Counter& counter, u16 raw, u64 now);

    static u64 run_ticks(const Counter& counter, u64 now);
    static void settle(Counter& counter, u64 now);
    static CountPosition position(const Counter& counter, u64 now);
    static void start_counting(Counter& counter, u32 count, u64 now);
    static void pause(Counter& counter, u64 now);
    static void resume(Counter& counter, u64 now);
    static u16 counter_value(const Counter& counter, u64 now);
    static bool output_at(const Counter& counter, u64 now);
    static bool null_count(const Counter& counter, u64 now);
    static u8 status_byte(const Counter& counter, u64 now);
    static u64 next_rising_edge_ns(const Counter& counter, u64 now);

    void recompute_irq0_deadline(u64 now) { irq0_next_edge_ns_ = next_rising_edge_ns(counters_[0], now); }

    const GuestClock& clock_;
    InterruptLines& irq_lines_;
    Counter counters_[kCounters];
    u64 irq0_next_edge_ns_ = kNoDeadline;
};
