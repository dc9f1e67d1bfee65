#include "kernel/sched/cpu_timers.hpp"

#include "kernel/percpu.hpp"
#include "kernel/sched/cpu_work.hpp"

namespace {

TimerQueue g_timer_queues[kMaxCpus];

}  // namespace

bool timer_arm(Timer& timer, u32 cpu, u64 deadline_us) {
    if (cpu >= kMaxCpus) cpu = 0;
    const TimerQueue::ArmResult result = TimerQueue::arm(timer, g_timer_queues[cpu], deadline_us);
    // The queue it ended on (the one running its callback, if any) has a new earliest
    // deadline: its CPU's LAPIC timer may be armed for later, or not at all while idle.
    // This CPU re-arms its own at its next pass, which follows before it runs a guest.
    if (result.first) cpu_kick(u32(result.first - g_timer_queues));
    return result.armed;
}

bool timer_cancel(Timer& timer) { return TimerQueue::cancel(timer); }
void timer_cancel_sync(Timer& timer) { TimerQueue::cancel_sync(timer); }
void timer_shutdown(Timer& timer) { TimerQueue::shutdown(timer); }

u32 timers_run_expired_here(u64 now_us) { return g_timer_queues[this_cpu_index()].run_expired(now_us); }
u64 timers_next_deadline_here() { return g_timer_queues[this_cpu_index()].next_deadline(); }

u32 timers_rescue_overdue(u64 now_us) {
    if (now_us < kRescueGraceUs) return 0;
    const u32 me = this_cpu_index();
    u32 ran = 0;
    for (u32 c = 0; c < percpu_online_count() && c < kMaxCpus; ++c) {
        if (c == me) continue;
        TimerQueue& q = g_timer_queues[c];
        if (q.next_deadline() <= now_us - kRescueGraceUs) ran += q.run_expired(now_us - kRescueGraceUs);
    }
    return ran;
}

u64 timers_next_rescue_deadline() {
    const u32 me = this_cpu_index();
    u64 earliest = TimerQueue::kNever;
    for (u32 c = 0; c < percpu_online_count() && c < kMaxCpus; ++c) {
        if (c == me) continue;
        const u64 deadline = g_timer_queues[c].next_deadline();
        if (deadline != TimerQueue::kNever && deadline + kRescueGraceUs < earliest)
            earliest = deadline + kRescueGraceUs;
    }
    return earliest;
}
u32 timers_pending(u32 cpu) { return g_timer_queues[cpu].pending_count(); }
u64 timers_next_deadline(u32 cpu) { return g_timer_queues[cpu].next_deadline(); }
u64 timers_fired(u32 cpu) { return g_timer_queues[cpu].fired_count(); }
