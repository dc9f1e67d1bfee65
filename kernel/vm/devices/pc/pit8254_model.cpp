#include "kernel/vm/devices/pc/pit8254_model.hpp"

#include "kernel/vm/devices/pc/isa_port_access.hpp"
#include "kernel/vm/devices/pc/tick_math.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

// Control word (8254 datasheet, "Control Word Format"): SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
constexpr u8 kSelectReadBack = 3;
constexpr u8 kAccessLatch = 0;
constexpr u8 kAccessLsb = 1;
constexpr u8 kAccessMsb = 2;
// Read-back command: 1 1 /COUNT /STATUS CNT2 CNT1 CNT0 0.
constexpr u8 kReadBackNoCount = 0x20;
constexpr u8 kReadBackNoStatus = 0x10;

constexpr u16 to_bcd(u32 value) {
    return u16(((value / 1000) % 10) << 12 | ((value / 100) % 10) << 8 | ((value / 10) % 10) << 4 | value % 10);
}

// Nibbles above 9 are not BCD; they still weigh in by position so any value decodes.
constexpr u32 from_bcd(u16 raw) {
    return (raw >> 12 & 0xf) * 1000u + (raw >> 8 & 0xf) * 100u + (raw >> 4 & 0xf) * 10u + (raw & 0xf);
}

// Modes 2 and 3 divide by the count; a count of 1 is illegal there and acts as 2.
constexpr u32 period_of(u32 count) { return count < 2 ? 2 : count; }

constexpr bool is_periodic(u8 mode) { return mode == 2 || mode == 3; }
constexpr bool is_gate_triggered(u8 mode) { return mode == 1 || mode == 5; }

}  // namespace

Pit8254::Pit8254(const GuestClock& clock, InterruptLines& irq_lines) : clock_(clock), irq_lines_(irq_lines) {
    counters_[2].gate = false;
}

u64 Pit8254::run_ticks(const Counter& counter, u64 now) {
    if (!counter.running) return counter.ticks_before_run;
    return counter.ticks_before_run + ns_to_ticks(saturating_sub(now, counter.run_start_ns), kInputHz);
}

Pit8254::CountPosition Pit8254::position(const Counter& counter, u64 now) {
    const u64 ticks = run_ticks(counter, now);
    if (counter.reload_pending && ticks >= counter.pending_at_ticks)
        return {counter.pending_count, ticks - counter.pending_at_ticks, counter.pending_at_ticks};
    return {counter.count, saturating_sub(ticks, counter.origin_ticks), counter.origin_ticks};
}

// Makes a rewritten count that took effect at a period's end the count in effect.
void Pit8254::settle(Counter& counter, u64 now) {
    if (!counter.reload_pending || run_ticks(counter, now) < counter.pending_at_ticks) return;
    counter.count = counter.pending_count;
    counter.origin_ticks = counter.pending_at_ticks;
    counter.reload_pending = false;
}

void Pit8254::start_counting(Counter& counter, u32 count, u64 now) {
    counter.count = count;
    counter.phase = Phase::kCounting;
    counter.reload_pending = false;
    counter.ticks_before_run = 0;
    counter.origin_ticks = 0;
    counter.run_start_ns = now;
    // GATE low inhibits counting in modes 0, 2, 3 and 4; modes 1 and 5 only use its edge.
    counter.running = counter.gate || is_gate_triggered(counter.mode);
}

void Pit8254::pause(Counter& counter, u64 now) {
    if (!counter.running) return;
    counter.ticks_before_run = run_ticks(counter, now);
    counter.running = false;
}

void Pit8254::resume(Counter& counter, u64 now) {
    if (counter.running) return;
    counter.run_start_ns = now;
    counter.running = true;
}

u16 Pit8254::counter_value(const Counter& counter, u64 now) {
    if (counter.phase != Phase::kCounting) return counter.held_value;
    const CountPosition at = position(counter, now);
    const u32 modulus = counter.bcd ? 10000 : 0x10000;
    u32 value;
    switch (counter.mode) {
        case 2: value = period_of(at.count) - u32(at.ticks % period_of(at.count)); break;
        case 3: {
            // Mode 3 decrements by two per clock (8254 datasheet, mode 3).
            const u32 period = period_of(at.count);
            value = (period - u32((2 * (at.ticks % period)) % period)) & ~1u;
            break;
        }
        default:
            // Modes 0, 1, 4 and 5 wrap past terminal count and keep counting down.
            value = (at.count % modulus + modulus - u32(at.ticks % modulus)) % modulus;
    }
    value %= modulus;
    return counter.bcd ? to_bcd(value) : u16(value);
}

bool Pit8254::output_at(const Counter& counter, u64 now) {
    // OUT after the control word: low in mode 0, high in every other mode.
    if (counter.phase == Phase::kAwaitingCount) return counter.mode != 0;
    if (counter.phase == Phase::kAwaitingTrigger) return true;
    // GATE low forces OUT high at once in modes 2 and 3.
    if (is_periodic(counter.mode) && !counter.gate) return true;
    const CountPosition at = position(counter, now);
    switch (counter.mode) {
        case 0:  // interrupt on terminal count: low until the count expires
        case 1:  // hardware one-shot: low from the trigger until terminal count
            return at.ticks >= at.count;
        case 2: {  // rate generator: low for the one clock before each reload
            const u32 period = period_of(at.count);
            return at.ticks % period != period - 1;
        }
        case 3: {  // square wave: high for the first (N+1)/2 clocks of each period
            const u32 period = period_of(at.count);
            return at.ticks % period < (period + 1) / 2;
        }
        default:  // modes 4 and 5, strobes: low for the one clock at terminal count
            return at.ticks != at.count;
    }
}

u64 Pit8254::next_rising_edge_ns(const Counter& counter, u64 now) {
    if (counter.phase != Phase::kCounting || !counter.running) return kNoDeadline;
    const CountPosition at = position(counter, now);
    u64 edge;  // ticks after the load
    switch (counter.mode) {
        case 0:
        case 1:
            if (at.ticks >= at.count) return kNoDeadline;
            edge = at.count;
            break;
        case 2:
        case 3: {
            const u32 period = period_of(at.count);
            edge = (at.ticks / period + 1) * period;
            break;
        }
        default:
            if (at.ticks > at.count) return kNoDeadline;
            edge = u64(at.count) + 1;
    }
    const u64 ticks_into_run = at.origin + edge - counter.ticks_before_run;
    return saturating_add(counter.run_start_ns, ticks_to_ns_ceil(ticks_into_run, kInputHz));
}

bool Pit8254::null_count(const Counter& counter, u64 now) {
    // NULL COUNT: a count was written but is not yet in the counting element.
    if (counter.phase != Phase::kCounting) return true;
    return counter.reload_pending && run_ticks(counter, now) < counter.pending_at_ticks;
}

u8 Pit8254::status_byte(const Counter& counter, u64 now) {
    // 8254 datasheet, "Status Byte": OUTPUT, NULL COUNT, RW1 RW0, M2 M1 M0, BCD.
    return u8((output_at(counter, now) ? 0x80 : 0) | (null_count(counter, now) ? 0x40 : 0) | counter.access << 4 |
              counter.mode_bits << 1 | (counter.bcd ? 1 : 0));
}

bool Pit8254::output(u8 counter) const { return output_at(counters_[counter % kCounters], clock_.now_ns()); }

void Pit8254::latch_count(Counter& counter, u64 now) {
    // A second latch before the first is read is ignored (8254 datasheet, "Counter
    // Latch Command").
    if (counter.latch_state != ByteState::kNone) return;
    counter.latched_value = counter_value(counter, now);
    counter.latch_state = counter.access == kAccessLsb   ? ByteState::kLsb
                          : counter.access == kAccessMsb ? ByteState::kMsb
                                                         : ByteState::kWordLsb;
}

void Pit8254::read_back(u8 value, u64 now) {
    for (u8 index = 0; index < kCounters; ++index) {
        if (!(value & (2u << index))) continue;
        Counter& counter = counters_[index];
        settle(counter, now);
        if (!(value & kReadBackNoCount)) latch_count(counter, now);
        if (!(value & kReadBackNoStatus) && !counter.status_latched) {
            counter.latched_status = status_byte(counter, now);
            counter.status_latched = true;
        }
    }
}

void Pit8254::write_control(u8 value, u64 now) {
    const u8 select = value >> 6;
    if (select == kSelectReadBack) {
        read_back(value, now);
        return;
    }
    Counter& counter = counters_[select];
    settle(counter, now);
    const u8 access = (value >> 4) & 3;
    if (access == kAccessLatch) {
        latch_count(counter, now);
        return;
    }
    // A new control word stops the counter until its count arrives, and drops latches
    // the guest never read.
    counter.held_value = counter_value(counter, now);
    counter.access = access;
    counter.mode_bits = (value >> 1) & 7;
    counter.mode = counter.mode_bits > 5 ? counter.mode_bits - 4 : counter.mode_bits;
    counter.bcd = value & 1;
    counter.phase = Phase::kAwaitingCount;
    counter.running = false;
    counter.reload_pending = false;
    counter.write_msb_next = false;
    counter.read_state = access == kAccessLsb   ? ByteState::kLsb
                         : access == kAccessMsb ? ByteState::kMsb
                                                : ByteState::kWordLsb;
    counter.latch_state = ByteState::kNone;
    counter.status_latched = false;
}

void Pit8254::load_count(Counter& counter, u16 raw, u64 now) {
    const u32 modulus = counter.bcd ? 10000 : 0x10000;
    u32 count = (counter.bcd ? from_bcd(raw) : raw) % modulus;
    if (count == 0) count = modulus;  // 0 is the largest count: 2^16, or 10^4 in BCD
    const bool counting = counter.phase == Phase::kCounting;
    if (is_periodic(counter.mode) && counting) {
        // Modes 2 and 3: the current period completes with the old count.
        const CountPosition at = position(counter, now);
        const u32 period = period_of(at.count);
        counter.reload_pending = true;
        counter.pending_count = count;
        counter.pending_at_ticks = at.origin + (at.ticks / period + 1) * period;
    } else if (is_gate_triggered(counter.mode)) {
        // Modes 1 and 5: the count is loaded by the next GATE trigger.
        if (counting) {
            counter.reload_pending = true;
            counter.pending_count = count;
            counter.pending_at_ticks = ~0ull;
        } else {
            counter.count = count;
            counter.phase = Phase::kAwaitingTrigger;
        }
    } else {
        // Modes 0 and 4, and the first count in modes 2 and 3: counting (re)starts.
        start_counting(counter, count, now);
    }
}

void Pit8254::write_count_byte(Counter& counter, u8 value, u64 now) {
    settle(counter, now);
    switch (counter.access) {
        case kAccessLsb: load_count(counter, value, now); return;
        case kAccessMsb: load_count(counter, u16(value << 8), now); return;
        default:
            if (!counter.write_msb_next) {
                counter.pending_lsb = value;
                counter.write_msb_next = true;
                if (counter.mode == 0) {
                    // Mode 0: writing the first byte stops counting and sets OUT low.
                    counter.held_value = counter_value(counter, now);
                    counter.phase = Phase::kAwaitingCount;
                    counter.running = false;
                    counter.reload_pending = false;
                }
                return;
            }
            counter.write_msb_next = false;
            load_count(counter, u16(counter.pending_lsb | value << 8), now);
    }
}

void Pit8254::set_gate(u8 index, bool high) {
    const u64 now = clock_.now_ns();
    Counter& counter = counters_[index % kCounters];
    settle(counter, now);
    if (counter.gate == high) return;
    counter.gate = high;
    const bool counting = counter.phase == Phase::kCounting;
    const u32 next_count = counter.reload_pending ? counter.pending_count : counter.count;
    switch (counter.mode) {
        case 0:
        case 4:
            // GATE enables counting; low suspends it where it is.
            if (counting) high ? resume(counter, now) : pause(counter, now);
            break;
        case 2:
        case 3:
            // Low stops the count (OUT high); the rising edge reloads and restarts.
            if (counting) high ? start_counting(counter, next_count, now) : pause(counter, now);
            break;
        default:
            // Modes 1 and 5: the rising edge (re)triggers from the initial count.
            if (high && counter.phase != Phase::kAwaitingCount) start_counting(counter, next_count, now);
    }
    if (index % kCounters == 0) recompute_irq0_deadline(now);
}

void Pit8254::advance_to(u64 now_ns) {
    if (now_ns < irq0_next_edge_ns_) return;
    settle(counters_[0], now_ns);
    // IRQ 0 is edge triggered: one pulse stands for every edge since the last call.
    irq_lines_.set_isa_irq(kIrq, true);
    irq_lines_.set_isa_irq(kIrq, false);
    recompute_irq0_deadline(now_ns);
}

u8 Pit8254::read_byte(u16 port, u64 now) {
    if (port < kCounter0Port || port > kCounter2Port) return 0xff;  // 0x43 is write-only
    Counter& counter = counters_[port - kCounter0Port];
    if (counter.status_latched) {
        counter.status_latched = false;
        return counter.latched_status;
    }
    ByteState& state = counter.latch_state != ByteState::kNone ? counter.latch_state : counter.read_state;
    const u16 value = counter.latch_state != ByteState::kNone ? counter.latched_value : counter_value(counter, now);
    const bool from_latch = counter.latch_state != ByteState::kNone;
    switch (state) {
        case ByteState::kMsb:
            if (from_latch) state = ByteState::kNone;
            return u8(value >> 8);
        case ByteState::kWordLsb: state = ByteState::kWordMsb; return u8(value);
        case ByteState::kWordMsb: state = from_latch ? ByteState::kNone : ByteState::kWordLsb; return u8(value >> 8);
        default:
            if (from_latch) state = ByteState::kNone;
            return u8(value);
    }
}

void Pit8254::write_byte(u16 port, u8 value, u64 now) {
    if (port == kControlPort)
        write_control(value, now);
    else if (port >= kCounter0Port && port <= kCounter2Port)
        write_count_byte(counters_[port - kCounter0Port], value, now);
}

u32 Pit8254::port_read(u16 port, u8 size) {
    const u64 now = clock_.now_ns();
    return isa_split_read(port, size, [this, now](u16 byte_port) { return read_byte(byte_port, now); });
}

void Pit8254::port_write(u16 port, u8 size, u32 value) {
    const u64 now = clock_.now_ns();
    advance_to(now);
    isa_split_write(port, size, value, [this, now](u16 byte_port, u8 byte) { write_byte(byte_port, byte, now); });
    recompute_irq0_deadline(now);
}

// --- Save and restore ------------------------------------------------------------------

void Pit8254::save(StateWriter& out) const {
    for (const Counter& c : counters_) {
        out.put_u8(c.mode);
        out.put_u8(c.mode_bits);
        out.put_bool(c.bcd);
        out.put_u8(c.access);
        out.put_bool(c.gate);
        out.put_u8(u8(c.phase));
        out.put_u32(c.count);
        out.put_u16(c.held_value);
        out.put_bool(c.write_msb_next);
        out.put_u8(c.pending_lsb);
        out.put_u8(u8(c.read_state));
        out.put_u8(u8(c.latch_state));
        out.put_u16(c.latched_value);
        out.put_bool(c.status_latched);
        out.put_u8(c.latched_status);
        out.put_bool(c.running);
        out.put_u64(c.run_start_ns);
        out.put_u64(c.ticks_before_run);
        out.put_u64(c.origin_ticks);
        out.put_bool(c.reload_pending);
        out.put_u32(c.pending_count);
        out.put_u64(c.pending_at_ticks);
    }
    out.put_u64(irq0_next_edge_ns_);
}

bool Pit8254::load(StateReader& in, State& out) const {
    constexpr u8 kLastByteState = u8(ByteState::kWordMsb);
    for (Counter& c : out.counters) {
        c.mode = in.get_u8();
        c.mode_bits = in.get_u8();
        c.bcd = in.get_bool();
        c.access = in.get_u8();
        c.gate = in.get_bool();
        const u8 phase = in.get_u8();
        c.count = in.get_u32();
        c.held_value = in.get_u16();
        c.write_msb_next = in.get_bool();
        c.pending_lsb = in.get_u8();
        const u8 read_state = in.get_u8();
        const u8 latch_state = in.get_u8();
        c.latched_value = in.get_u16();
        c.status_latched = in.get_bool();
        c.latched_status = in.get_u8();
        c.running = in.get_bool();
        c.run_start_ns = in.get_u64();
        c.ticks_before_run = in.get_u64();
        c.origin_ticks = in.get_u64();
        c.reload_pending = in.get_bool();
        c.pending_count = in.get_u32();
        c.pending_at_ticks = in.get_u64();
        // Control word (8254 datasheet): modes 0-5, M2-M1-M0 values 6 and 7 standing for
        // 2 and 3; RW 1-3 (0 is the latch command, never a counter's mode of access).
        in.require(c.mode <= 5 && c.mode_bits <= 7 && c.mode == (c.mode_bits > 5 ? c.mode_bits - 4 : c.mode_bits));
        in.require(c.access >= kAccessLsb && c.access <= 3);
        in.require(phase <= u8(Phase::kCounting) && read_state <= kLastByteState && latch_state <= kLastByteState);
        // A count is 1-65536 (0 written means the largest); one loaded in binary stays in
        // effect, up to 65536, when a control word switches the counter to BCD.
        in.require(c.count >= 1 && c.count <= 0x10000);
        in.require(!c.reload_pending || (c.pending_count >= 1 && c.pending_count <= 0x10000));
        c.phase = Phase(phase);
        c.read_state = ByteState(read_state);
        c.latch_state = ByteState(latch_state);
    }
    out.irq0_next_edge_ns = in.get_u64();
    return !in.failed();
}

void Pit8254::restore(const State& state) {
    for (u8 i = 0; i < kCounters; ++i) counters_[i] = state.counters[i];
    irq0_next_edge_ns_ = state.irq0_next_edge_ns;
}
