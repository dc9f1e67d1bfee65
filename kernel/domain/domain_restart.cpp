// A guest reset restarts the domain, as xm's on_reboot=restart does: its vCPUs leave their
// CPUs (the same quiesce as pause and destroy), its devices are reset, its RAM is zeroed
// and its kernel loaded again (DomainImage::reload, which the loader that built it gave),
// and vCPU 0 starts at the kernel's entry while the others wait for a start-up IPI again.
// The work runs as deferred work (kernel/sched/cpu_work.hpp) on the CPU whose vCPU asked,
// at its next scheduling point: the scheduler knows nothing of restarts.
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_events.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/time.hpp"

namespace {

// Everything but the lifecycle, with no vCPU on any CPU. False (with `error`) when the
// kernel cannot be loaded again.
bool reload(Domain& d, const char** error) {
    d.platform->reset();
    d.panic_line[0] = 0;  // a panic before the reset is history now
    // A power cycle gives the machine all its RAM back: pages its balloon driver gave up
    // are populated again (no balloon call runs meanwhile: they refuse while restart_busy),
    // and the memory target is its RAM again.
    if (!d.memory.balloon_populate_all()) {
        *error = "no memory to give it back the pages its balloon had released";
        return false;
    }
    __atomic_store_n(&d.memory_target, d.memory.layout_size(), __ATOMIC_RELAXED);
    ioreq_memory_target_changed(d);
    GuestEntryState entry{};
    if (!d.image.reload(d, entry, error)) return false;
    for (u32 i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = d.vcpus[i];
        v.started = false;
        vcpu_set_state(v, VcpuState::Stopped);
    }
    Vcpu& boot = d.vcpus[0];
    vcpu_reset(boot, entry);
    boot.started = true;
    return true;
}

void restart_work(void* arg) {
    Domain& d = *static_cast<Domain*>(arg);
    domain_quiesce(d);  // the lifecycle (Restarting) lets no vCPU start meanwhile
    const char* error = nullptr;
    // A destroy that came meanwhile waits for this (restart_busy) before it releases
    // anything, so the memory and devices are still there; the domain just is not
    // reloaded then.
    const bool ok = d.lifecycle.being_destroyed() || reload(d, &error);
    if (ok) d.created_us = uptime_us();
    bool resumed = false;
    {
        LockGuard<SpinLock> guard(d.lock);
        if (ok) resumed = d.lifecycle.apply(LifecycleEvent::Restarted);
        __atomic_store_n(&d.restart_busy, false, __ATOMIC_RELEASE);
    }
    domain_events::state_changed();
    if (resumed) {
        log_info("domain %u (%s): restarted", d.id, d.name);
        vcpu_set_state(d.vcpus[0], VcpuState::Runnable);  // after its registers
        cpu_kick(d.vcpus[0].cpu);
    } else if (!ok) {
        domain_crash(d, "cannot restart it after a reset: %s", error);
    }
    domain_put(d);  // the reference domain_request_restart took
}

// Under the domain's lock: the restart starts, unless one is under way or the domain is
// ending anyway.
bool request_restart_locked(Domain& d) {
    if (!d.lifecycle.apply(LifecycleEvent::Restart)) return true;  // restarting, ending or dying already
    d.restart_requested = false;
    domain_events::state_changed();
    __atomic_store_n(&d.restart_busy, true, __ATOMIC_RELEASE);
    domain_get(d);
    d.restart_work.run = restart_work;
    d.restart_work.arg = &d;
    cpu_post(this_cpu_index(), d.restart_work);
    return true;
}

}  // namespace

bool domain_request_restart(Domain& d) {
    if (!d.image.reload) return false;
    {
        LockGuard<SpinLock> guard(d.lock);
        if (d.lifecycle.state() == LifecycleState::Paused) {
            // A pause came first (it waits for the exit that asked): the restart follows
            // the unpause.
            d.restart_requested = true;
            return true;
        }
        // Only a restart that would happen counts against the limit.
        if (d.ended() || d.lifecycle.state() == LifecycleState::Restarting || d.restart_limiter.allow(uptime_us()))
            return request_restart_locked(d);
    }
    domain_crash(d, "reset %u times within %llu s: a reset loop, so it is not restarted again",
                 RestartLimiter::kMaxRestarts, (unsigned long long)(RestartLimiter::kWindowUs / 1'000'000));
    return true;
}
