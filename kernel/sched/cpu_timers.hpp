// The hypervisor's timers (kernel/sched/timer_queue.hpp): one queue per physical CPU,
// run by that CPU's scheduler pass, which arms the CPU's one-shot LAPIC timer for the
// earliest deadline. Owners choose the CPU when they arm; a timer that becomes the
// earliest on another CPU kicks it (kernel/sched/cpu_work.hpp), so that CPU looks at its
// queue again and re-arms its LAPIC timer. Times are uptime_us().
//
// No timer depends on one interrupt. A timer interrupt can be lost (seen under QEMU's
// TCG), and a halted vCPU whose wake-up timer waits on a CPU that then sleeps on would
// never wake. So a CPU's timers are its own only for kRescueGraceUs past their deadline:
// after that, any CPU's pass runs them (callbacks are correct on any CPU), and every CPU,
// busy or idle, arms its LAPIC timer no later than the moment another CPU's earliest
// timer becomes overdue so. A wake-up is lost only if every CPU's timer interrupt is.
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
// The rescue: runs the timers of other CPUs' queues that are overdue by kRescueGraceUs
// (how many ran), and tells when the next of theirs would be (TimerQueue::kNever if none).
inline constexpr u64 kRescueGraceUs = 10'000;
u32 timers_rescue_overdue(u64 now_us);
u64 timers_next_rescue_deadline();
// For the debug key 's'.
u32 timers_pending(u32 cpu);
u64 timers_next_deadline(u32 cpu);
u64 timers_fired(u32 cpu);
