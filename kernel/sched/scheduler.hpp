// The vCPU scheduler: each physical CPU runs the vCPUs queued on it, in turn and in
// slices, and a CPU with two runnable vCPUs gives one to an idle CPU. There is no
// periodic tick: each CPU arms a one-shot timer at the next thing it must do (a slice's
// end, the earliest timer a device model armed on it: kernel/sched/cpu_timers.hpp), and
// a wake-up from another CPU kicks the vCPU's CPU (kernel/sched/cpu_work.hpp), so it is
// seen at once. Which vCPU runs, for how long, and which one moves is the credit
// policy's choice (kernel/sched/credit_policy.hpp).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu.hpp"

struct Domain;

// Creates the backend of every vCPU of `domain`, puts vCPU 0 at `entry` and assigns the
// vCPUs to CPUs' run queues. Nothing runs until the domain is unpaused; the other vCPUs
// wait until the guest starts them.
bool scheduler_add_domain(Domain& domain, const GuestEntryState& entry, const char** error);
// Starts a vCPU that has never run; false if it already has.
bool scheduler_start_vcpu(Vcpu& vcpu, const GuestEntryState& entry);
// Something arrived for the vCPU (an interrupt, its timer), from any CPU: a blocked one
// wakes; one in the guest is kicked, so that it exits and takes it at its next entry
// rather than at whatever exit comes next.
void scheduler_notify_vcpu(Vcpu& vcpu);
// Takes a stopped vCPU off its CPU for good: out of the run queue, its FPU and debug
// registers and active VMCS dropped there. Returns once done; harmless for a vCPU never queued.
void scheduler_remove_vcpu(Vcpu& vcpu);
// Runs `run(vcpu, arg)` on the vCPU's CPU with the vCPU not running and its FPU state in
// its save area (get_state / set_state of a paused vCPU).
void scheduler_call_on_vcpu_cpu(Vcpu& vcpu, void (*run)(Vcpu&, void*), void* arg);

// Prints each CPU's queue and timer (debug key 's').
void scheduler_print_state();
// sched=rr: every CPU's queue turns round-robin (CreditRunQueue::set_round_robin), before
// any domain exists.
void scheduler_use_round_robin();
// selftest=losttimer: `cpu` never arms its LAPIC timer while it idles and never runs its
// own timers, as if it missed every timer interrupt; its timers must still run, on other
// CPUs (kernel/sched/cpu_timers.hpp).
void scheduler_lose_timer_interrupts(u32 cpu);
// Pins `vcpu` to the CPUs in `mask` (bit n: CPU n): it runs on one of them from its next
// scheduling on. False (nothing changes) when no online CPU is in the mask.
bool scheduler_set_affinity(Vcpu& vcpu, u64 mask);
// The CPUs `vcpu` prefers (soft affinity), where its hard affinity lets it run: a busy CPU
// gives an idle one a vCPU that prefers it first. False (nothing changes) as above.
bool scheduler_set_soft_affinity(Vcpu& vcpu, u64 mask);
// Its domain's weight or cap changed: its CPU decides again now rather than at the end of
// what it planned (a cap lifted from a parked vCPU lets it run at once).
void scheduler_reconsider_vcpu(Vcpu& vcpu);

// This CPU's loop: run vCPUs, handle their exits, idle when there is nothing to run.
[[noreturn]] void scheduler_run_this_cpu();

// fastexits=off (kernel/cmdline.hpp): no exit fast path (kernel/vm/exit_fast_path.hpp);
// every exit returns to run_vcpu. At boot, before any vCPU runs.
void scheduler_disable_fast_exits();
