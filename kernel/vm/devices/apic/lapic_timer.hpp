// The local APIC timer (Intel SDM vol. 3A, 11.5.4; AMD APM vol. 2, 16.4): one-shot,
// periodic and TSC-deadline modes, the divide configuration, and the current count
// computed from time rather than ticked. Pure state: the owner (VirtualLapic) passes the
// time in, decides whether an expiry becomes an interrupt (LVT mask and vector), and
// converts TSC deadlines to nanoseconds.
//
// Ticks: the timer counts at timer_hz / divisor, where timer_hz (the "bus clock") is a
// constructor parameter in [1, 10^9]. Elapsed ticks therefore never exceed elapsed
// nanoseconds, and all conversions are mul_div on 64-bit values.
#pragma once

#include "kernel/types.hpp"

class StateWriter;
class StateReader;

class LapicTimer {
public:
    enum class Mode : u8 { OneShot, Periodic, TscDeadline };

    // A periodic timer re-arms at least this far after the expiry it just reported, so
    // that a guest programming a tiny period cannot make the platform's timer fire
    // continuously (KVM clamps periods the same way, to 200 us); expiries in between
    // coalesce into one interrupt, as an IRR bit would.
    static constexpr u64 kMinPeriodicIntervalNs = 100'000;

    explicit LapicTimer(u64 timer_hz);

    // Power-up state: one-shot, stopped, divide by 2.
    void reset();

    Mode mode() const { return mode_; }
    // A change to or from TSC-deadline mode disarms the timer (SDM 11.5.4.1): the initial
    // count and the TSC deadline become 0. Between one-shot and periodic the count goes on.
    void set_mode(Mode mode, u64 now_ns);

    // The divide configuration register (bits 0, 1 and 3; SDM Figure 11-10). A running
    // count continues from its current value at the new rate.
    u32 divide_config() const { return divide_config_; }
    void set_divide_config(u32 value, u64 now_ns);
    u32 divisor() const;

    // Writing the initial count starts counting from it (0 stops the timer); ignored in
    // TSC-deadline mode (SDM 11.5.4.1).
    u32 initial_count() const { return initial_count_; }
    void set_initial_count(u32 count, u64 now_ns);
    // 0 when stopped, expired (one-shot) or in TSC-deadline mode.
    u32 current_count(u64 now_ns) const;

    // TSC-deadline mode: `tsc` is the IA32_TSC_DEADLINE value (0 disarms) and `due_ns` the
    // device time at which the guest's TSC reaches it. Ignored in the other modes.
    u64 tsc_deadline() const { return tsc_deadline_; }
    void set_tsc_deadline(u64 tsc, u64 due_ns);

    // When the next expiry is due (kNoDeadline when none).
    u64 next_expiry_ns() const { return armed_ ? expiry_ns_ : ~0ull; }
    // True when an expiry was due at or before now_ns: one-shot and TSC-deadline disarm
    // (the deadline MSR reads 0 again), periodic re-arms at its next period boundary.
    bool advance_to(u64 now_ns);

    // Save and restore (platform_state_codec.hpp): the mode, divide configuration, initial
    // count and TSC deadline (guest TSC ticks), and the count's progress as the device
    // time and count it was based on and the tick and time of its next expiry. Device time
    // continues across a restore, so a count that had 3 ms left has 3 ms left after it. A
    // TSC deadline's time depends on the guest TSC's rate on the new host: it is saved as 0
    // and restore() takes it from the caller (GuestTsc::ns_when_tsc_reaches).
    struct State {
        u8 mode;
        u32 divide_config, initial_count, base_count;
        u64 tsc_deadline, base_ns, expiry_ticks, expiry_ns;
        bool counting, armed;
    };
    void save(StateWriter& out) const;
    static bool load(StateReader& in, State& out);
    void restore(const State& state, u64 tsc_deadline_due_ns);

private:
    u64 ticks_to_ns(u64 ticks) const;  // rounded up: the first ns at which ticks elapsed
    u64 elapsed_ticks(u64 now_ns) const;
    void arm_count(u32 count, u64 now_ns);

    u64 timer_hz_;
    Mode mode_ = Mode::OneShot;
    u32 divide_config_ = 0;
    u32 initial_count_ = 0;
    u64 tsc_deadline_ = 0;
    // Counting (one-shot and periodic): at base_ns_ the count was base_count_ and it
    // counts down one per tick from there; a periodic timer reloads initial_count_ at 0.
    u64 base_ns_ = 0;
    u32 base_count_ = 0;
    bool counting_ = false;
    // The next expiry: the tick (since base_ns_) or TSC-deadline time it falls on.
    bool armed_ = false;
    u64 expiry_ticks_ = 0;
    u64 expiry_ns_ = 0;
};
