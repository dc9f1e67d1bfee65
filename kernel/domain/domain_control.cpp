// Pause, unpause, destroy and the quiesce they stand on (kernel/domain/domain.hpp), and
// the vCPU state of a paused domain.
#include <string.h>

#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_events.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched/cpu_work.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/vm/hypercall_abi.hpp"

void domain_quiesce(Domain& d) {
    // The lifecycle no longer lets any vCPU start (may_run is false): each vCPU still
    // running finishes its exit and stops. A kick makes a vCPU in the guest exit now.
    for (u32 i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = d.vcpus[i];
        if (v.gate.in_use()) cpu_kick(v.cpu);
    }
    for (u32 i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = d.vcpus[i];
        while (v.gate.in_use()) {
            // Its CPU may be waiting for work only this CPU can do.
            cpu_work_run_pending();
            asm volatile("pause" ::: "memory");
        }
    }
}

namespace {

void flush_here(void*) { nested_tlb_flush_this_cpu(); }

}  // namespace

void domain_tlb_shootdown(Domain&) {
    // Every online CPU, not only those that ran the domain: a vCPU may have moved, and a
    // flush is cheap next to what it protects (a page reused while a stale translation
    // still reaches it, or a write that escapes the dirty log).
    for (u32 c = 0; c < percpu_online_count(); ++c) cpu_call(c, flush_here, nullptr);
}

i64 domain_pause(Domain& d) {
    {
        LockGuard<SpinLock> guard(d.lock);
        if (!d.lifecycle.apply(LifecycleEvent::Pause)) return hypercall::kErrorWrongState;
    }
    domain_events::state_changed();
    domain_quiesce(d);
    return 0;
}

i64 domain_unpause(Domain& d) {
    {
        LockGuard<SpinLock> guard(d.lock);
        // While paused its RAM and devices may have been given another state (a
        // restore): each vCPU's steal-time record is looked at again before it enters,
        // whatever it says (the scheduler's resume). Before the unpause, while no vCPU
        // runs; harmless for a domain that was not paused. And paused is not waiting for
        // a CPU: no steal time for it.
        for (u32 i = 0; i < d.vcpu_count; ++i) {
            __atomic_store_n(&d.vcpus[i].resume_due, true, __ATOMIC_RELAXED);
            __atomic_store_n(&d.vcpus[i].preempted_tsc, 0, __ATOMIC_RELAXED);
        }
        if (!d.lifecycle.apply(LifecycleEvent::Unpause)) return hypercall::kErrorWrongState;
    }
    domain_events::state_changed();
    if (d.restart_requested) domain_request_restart(d);  // a reset the pause held back
    for (u32 i = 0; i < d.vcpu_count; ++i) cpu_kick(d.vcpus[i].cpu);
    return 0;
}

i64 domain_reset(Domain& d) {
    // A domain still being built (never unpaused) has nothing to reset: its builder
    // would find it ended under its hands.
    if (d.ended() || d.lifecycle.state() == LifecycleState::Created) return hypercall::kErrorWrongState;
    if (domain_request_restart(d)) {
        log_info("domain %u (%s): reset by its control domain; restarting it", d.id, d.name);
        return 0;
    }
    log_info("domain %u (%s): reset by its control domain; it cannot be restarted here, so it ends", d.id, d.name);
    domain_shutdown(d, Domain::kResetExitCode, EndReason::Reboot);
    return 0;
}

i64 domain_rename(Domain& d, const char* name) {
    char before[Domain::kNameLength];
    memcpy(before, d.name, sizeof(before));
    if (!domain_table_rename(d, name)) return hypercall::kErrorExists;
    log_info("domain %u: renamed from %s to %s", d.id, before, d.name);
    domain_events::state_changed();
    return 0;
}

i64 domain_destroy(Domain& d) {
    {
        LockGuard<SpinLock> guard(d.lock);
        if (!d.lifecycle.apply(LifecycleEvent::Destroy)) return hypercall::kErrorWrongState;
    }
    domain_events::state_changed();
    domain_quiesce(d);
    // A restart under way still uses the memory and devices (domain_restart.cpp).
    while (__atomic_load_n(&d.restart_busy, __ATOMIC_ACQUIRE)) {
        cpu_work_run_pending();  // it may be this CPU's own work
        asm volatile("pause" ::: "memory");
    }
    domain_release_resources(d);
    {
        LockGuard<SpinLock> guard(d.lock);
        d.lifecycle.apply(LifecycleEvent::Released);
    }
    log_info("domain %u (%s): destroyed", d.id, d.name);
    domain_table_remove(d);
    domains_note_end();
    return 0;
}
