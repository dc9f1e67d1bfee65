#include "kernel/vm/devices/apic/lapic_timer.hpp"

#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

constexpr u64 kNever = ~0ull;
constexpr u32 kDivideConfigMask = 0xb;  // bits 0, 1 and 3 (SDM Figure 11-10)

u64 saturating_add(u64 a, u64 b) { return a + b < a ? kNever : a + b; }

}  // namespace

LapicTimer::LapicTimer(u64 timer_hz)
    : timer_hz_(timer_hz == 0             ? 1
                : timer_hz > kNsPerSecond ? kNsPerSecond
                                          : timer_hz) {}

void LapicTimer::reset() {
    mode_ = Mode::OneShot;
    divide_config_ = 0;
    initial_count_ = 0;
    tsc_deadline_ = 0;
    base_ns_ = 0;
    base_count_ = 0;
    counting_ = false;
    armed_ = false;
    expiry_ticks_ = 0;
    expiry_ns_ = 0;
}

void LapicTimer::set_mode(Mode mode, u64 now_ns) {
    if (mode == mode_) return;
    if (mode == Mode::TscDeadline || mode_ == Mode::TscDeadline) {
        mode_ = mode;
        initial_count_ = 0;
        tsc_deadline_ = 0;
        counting_ = false;
        armed_ = false;
        return;
    }
    // Between one-shot and periodic the count runs on from where it is; only what happens
    // at 0 changes (reload or stop). A periodic count past its first period is re-based
    // on its current value, which one-shot then counts down from.
    const u32 remaining = current_count(now_ns);
    mode_ = mode;
    if (counting_ && remaining != 0)
        arm_count(remaining, now_ns);
    else if (counting_)
        counting_ = armed_ = false;  // at 0 already: a one-shot stays stopped
}

// Divide value = bits 3,1,0 as a 3-bit number n: divide by 2^(n+1), with 111b meaning 1.
u32 LapicTimer::divisor() const {
    const u32 n = (divide_config_ & 3) | ((divide_config_ >> 1) & 4);
    return 1u << ((n + 1) & 7);
}

u64 LapicTimer::ticks_to_ns(u64 ticks) const { return mul_div_ceil(ticks, u64(divisor()) * kNsPerSecond, timer_hz_); }

u64 LapicTimer::elapsed_ticks(u64 now_ns) const {
    if (now_ns <= base_ns_) return 0;
    return mul_div_floor(now_ns - base_ns_, timer_hz_, u64(divisor()) * kNsPerSecond);
}

void LapicTimer::arm_count(u32 count, u64 now_ns) {
    base_ns_ = now_ns;
    base_count_ = count;
    counting_ = count != 0;
    armed_ = counting_;
    expiry_ticks_ = count;
    expiry_ns_ = saturating_add(base_ns_, ticks_to_ns(count));
}

void LapicTimer::set_divide_config(u32 value, u64 now_ns) {
    const u32 remaining = current_count(now_ns);
    divide_config_ = value & kDivideConfigMask;
    // A count that already reached 0 keeps its pending expiry; a running one goes on from
    // where it is at the new rate (its reload value stays the initial count).
    if (counting_ && remaining != 0) arm_count(remaining, now_ns);
}

void LapicTimer::set_initial_count(u32 count, u64 now_ns) {
    if (mode_ == Mode::TscDeadline) return;
    initial_count_ = count;
    arm_count(count, now_ns);
}

u32 LapicTimer::current_count(u64 now_ns) const {
    if (!counting_ || mode_ == Mode::TscDeadline) return 0;
    const u64 elapsed = elapsed_ticks(now_ns);
    if (elapsed < base_count_) return u32(base_count_ - elapsed);
    if (mode_ == Mode::OneShot || initial_count_ == 0) return 0;
    // Periodic: at 0 the count reloads the initial count in the same tick.
    return u32(initial_count_ - (elapsed - base_count_) % initial_count_);
}

void LapicTimer::set_tsc_deadline(u64 tsc, u64 due_ns) {
    if (mode_ != Mode::TscDeadline) return;
    tsc_deadline_ = tsc;
    armed_ = tsc != 0;
    expiry_ns_ = due_ns;
}

bool LapicTimer::advance_to(u64 now_ns) {
    if (!armed_ || now_ns < expiry_ns_) return false;
    switch (mode_) {
        case Mode::TscDeadline:
            tsc_deadline_ = 0;  // SDM 11.5.4.1: the MSR reads 0 once the timer fired
            armed_ = false;
            return true;
        case Mode::OneShot:
            armed_ = false;
            counting_ = false;
            return true;
        case Mode::Periodic: break;
    }
    if (initial_count_ == 0) {
        armed_ = false;
        counting_ = false;
        return true;
    }
    // The first period boundary after now + the minimum interval: all boundaries up to
    // there coalesce into this expiry. elapsed >= base_count_ because the expiry is due.
    const u64 elapsed = elapsed_ticks(saturating_add(now_ns, kMinPeriodicIntervalNs));
    const u64 periods = (elapsed - base_count_) / initial_count_ + 1;
    const u64 span = periods > kNever / initial_count_ ? kNever : periods * initial_count_;
    expiry_ticks_ = saturating_add(base_count_, span);
    expiry_ns_ = expiry_ticks_ == kNever ? kNever : saturating_add(base_ns_, ticks_to_ns(expiry_ticks_));
    return true;
}

// --- Save and restore ------------------------------------------------------------------

void LapicTimer::save(StateWriter& out) const {
    out.put_u8(u8(mode_));
    out.put_u32(divide_config_);
    out.put_u32(initial_count_);
    out.put_u64(tsc_deadline_);
    out.put_u64(base_ns_);
    out.put_u32(base_count_);
    out.put_bool(counting_);
    out.put_bool(armed_);
    out.put_u64(expiry_ticks_);
    // A TSC deadline's time is this host's (its TSC rate): the deadline itself is saved.
    out.put_u64(mode_ == Mode::TscDeadline ? 0 : expiry_ns_);
}

bool LapicTimer::load(StateReader& in, State& out) {
    out.mode = in.get_u8();
    out.divide_config = in.get_u32();
    out.initial_count = in.get_u32();
    out.tsc_deadline = in.get_u64();
    out.base_ns = in.get_u64();
    out.base_count = in.get_u32();
    out.counting = in.get_bool();
    out.armed = in.get_bool();
    out.expiry_ticks = in.get_u64();
    out.expiry_ns = in.get_u64();
    // LVT timer mode 11b is reserved (SDM 11.5.1, Figure 11-8); the divide configuration
    // has bits 0, 1 and 3 (Figure 11-10); an armed TSC deadline is not 0 (11.5.4.1).
    const bool tsc_deadline = out.mode == u8(Mode::TscDeadline);
    in.require(out.mode <= u8(Mode::TscDeadline));
    in.require((out.divide_config & ~kDivideConfigMask) == 0);
    in.require(!tsc_deadline || !out.armed || out.tsc_deadline != 0);
    in.require(!(tsc_deadline && out.counting));
    in.require(tsc_deadline || out.tsc_deadline == 0);
    in.require(!tsc_deadline || out.expiry_ns == 0);
    return !in.failed();
}

void LapicTimer::restore(const State& s, u64 tsc_deadline_due_ns) {
    mode_ = Mode(s.mode);
    divide_config_ = s.divide_config;
    initial_count_ = s.initial_count;
    tsc_deadline_ = s.tsc_deadline;
    base_ns_ = s.base_ns;
    base_count_ = s.base_count;
    counting_ = s.counting;
    armed_ = s.armed;
    expiry_ticks_ = s.expiry_ticks;
    expiry_ns_ = mode_ == Mode::TscDeadline ? tsc_deadline_due_ns : s.expiry_ns;
}
