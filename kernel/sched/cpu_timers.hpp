// The hypervisor's timers (kernel/sched/timer_queue.hpp): one queue per physical CPU,
// run by that CPU's scheduler pass, which arms the CPU's one-shot LAPIC timer for the
// earliest deadline. Owners choose the CPU when they arm; a timer that becomes the
// earliest on another CPU kicks it (kernel/sched/cpu_work.hpp), so that CPU looks at its
// queue again and re-arms its LAPIC timer. Times are uptime_us().
#pragma once

#include "kernel/sched/timer_queue.hpp"
#include "kernel/types.hpp"

// Arms or re-arms `timer` for `deadline_us` on CPU `cpu` (see TimerQueue::arm); false
// if it was shut down.
bool timer_arm(Timer& timer, u32 cpu, u64 deadline_us);
// TimerQueue::cancel, cancel_sync and shutdown (their rules apply).
bool timer_cancel(Timer& timer);
void timer_cancel_sync(Timer& timer);
void timer_shutdown(Timer& timer);

// For the scheduler's pass on this CPU: runs the callbacks that are due, and tells when
// the next is (TimerQueue::kNever if none).
u32 timers_run_expired_here(u64 now_us);
u64 timers_next_deadline_here();
// For the debug key 's'.
u32 timers_pending(u32 cpu);
u64 timers_fired(u32 cpu);
