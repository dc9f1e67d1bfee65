#include "kernel/sched/scheduler.hpp"

#include "drivers/lapic.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/idt.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/log.hpp"
#include "kernel/percpu.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/sched/cpu_work.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"
#include "kernel/vm/debug_registers.hpp"
#include "kernel/vm/exit_handlers.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

constexpr u32 kMaxVcpusPerCpu = 64;
// CPU 0 reads the serial console (debug keys, input for domains), which interrupts no one.
constexpr u64 kNotArmed = ~0ull;
// How late a CPU's one-shot timer may be before it counts as lost (watch_other_cpus).
constexpr u64 kLostTimerMicroseconds = 20000;
// An idle CPU sleeps at most this long: it then passes once, running what is overdue
// anywhere (cpu_timers.hpp), so that no wake-up waits for one particular interrupt.
constexpr u64 kIdleCheckMicroseconds = 50000;
u32 g_lose_timer_interrupts_cpu = ~0u;  // selftest=losttimer

// A vCPU keeps its CPU for a slice (or until it blocks): switching vCPUs costs a TLB
// flush, the FPU state and, on VMX, a VMPTRLD and the SYSCALL MSRs.
constexpr u64 kSliceMicroseconds = 10000;

struct RunQueue {
    SpinLock lock;
    Vcpu* vcpus[kMaxVcpusPerCpu];
    u32 count = 0;
    u32 next = 0;
    Vcpu* current = nullptr;
    u64 slice_end_us = 0;
    u32 runnable = 0;          // found by the last pick_next
    u64 armed_at = kNotArmed;  // when this CPU's one-shot timer fires (uptime_us)
    u64 timer_interrupts = 0;
    u64 passes = 0;   // of the scheduler loop
    u64 rescued = 0;  // other CPUs' timers run here, overdue (kernel/sched/cpu_timers.hpp)
};

RunQueue g_queues[kMaxCpus];
u32 g_next_cpu = 0;
u32 g_cpu_count = 1;

bool enqueue(Vcpu& vcpu) {
    RunQueue& q = g_queues[vcpu.cpu];
    IrqLockGuard guard(q.lock);
    if (q.count == kMaxVcpusPerCpu) return false;
    // The slot first, then the count: the queue's own CPU walks it without the lock.
    q.vcpus[q.count] = &vcpu;
    __atomic_store_n(&q.count, q.count + 1, __ATOMIC_RELEASE);
    return true;
}

// Removes `vcpu` from this CPU's queue, if it is there.
void dequeue_here(Vcpu& vcpu) {
    RunQueue& q = g_queues[this_cpu_index()];
    IrqLockGuard guard(q.lock);
    for (u32 i = 0; i < q.count; ++i) {
        if (q.vcpus[i] != &vcpu) continue;
        if (q.current == &vcpu) q.current = nullptr;
        q.vcpus[i] = q.vcpus[--q.count];
        if (q.next >= q.count) q.next = 0;
        return;
    }
}

// On the vCPU's CPU: nothing of it stays here.
void remove_here(void* arg) {
    Vcpu& v = *static_cast<Vcpu*>(arg);
    dequeue_here(v);
    PerCpu& cpu = this_cpu();
    if (cpu.fpu_owner == &v) cpu.fpu_owner = nullptr;  // its registers are dropped, not saved
    debug_forget_here(v);
    if (cpu.last_vcpu_uid == v.uid) cpu.last_vcpu_uid = 0;
    if (v.backend) v.backend->unload_from_this_cpu();
}

struct VcpuCall {
    Vcpu* vcpu;
    void (*run)(Vcpu&, void*);
    void* arg;
};

void call_here(void* arg) {
    VcpuCall& call = *static_cast<VcpuCall*>(arg);
    fpu_save_if_loaded_here(*call.vcpu);
    call.run(*call.vcpu, call.arg);
}

u64 g_next_vcpu_uid = 1;

bool can_run(const Vcpu& v) { return v.state == VcpuState::Runnable && v.domain->lifecycle.may_run(); }

bool allowed_on(const Vcpu& v, u32 cpu) { return __atomic_load_n(&v.affinity, __ATOMIC_RELAXED) >> cpu & 1; }

// Unlocked: only this CPU removes from or reorders its queue; a vCPU appended meanwhile
// is seen at the next pass.
Vcpu* pick_next(RunQueue& q, u64 now) {
    q.runnable = 0;
    for (u32 i = 0; i < q.count; ++i)
        if (can_run(*q.vcpus[i])) ++q.runnable;
    if (q.current && can_run(*q.current) && now < q.slice_end_us) return q.current;
    for (u32 tried = 0; tried < q.count; ++tried) {
        Vcpu* v = q.vcpus[(q.next + tried) % q.count];
        if (can_run(*v)) {
            q.next = (q.next + tried + 1) % q.count;
            q.current = v;
            q.slice_end_us = now + kSliceMicroseconds;
            return v;
        }
    }
    q.current = nullptr;
    return nullptr;
}

// The one-shot timer: it only interrupts (a guest exits, HLT returns); the pass of the
// scheduler loop that follows does the work.
void tick(TrapFrame&) {
    g_queues[this_cpu_index()].armed_at = kNotArmed;
    ++g_queues[this_cpu_index()].timer_interrupts;
    lapic_eoi();
}

// Arms this CPU's one-shot timer for the next thing only it will notice: the end of the
// slice when another vCPU waits here, and the earliest timer on this CPU's queue (device
// models and the console's debug keys arm those: kernel/sched/cpu_timers.hpp). Nothing
// else needs a timer: a wake-up, work or a timer armed here from
// another CPU comes with a kick (cpu_work.hpp). So an idle CPU with nothing due sleeps
// until kicked, and a lost kick would show as a hang, not as a delay of a tick.
void arm_timer(RunQueue& q, u64 now, bool running_one) {
    u64 at = ~0ull;
    if (q.runnable > (running_one ? 1u : 0u)) at = q.slice_end_us > now ? q.slice_end_us : now + 1;
    u64 timer = timers_next_deadline_here();
    if (const u64 rescue = timers_next_rescue_deadline(); rescue < timer) timer = rescue;
    if (timer < at) at = timer;
    // A timer already armed for earlier stays: firing early costs one pass, while arming
    // again on every pass costs every exit.
    // One that should have fired a while ago was lost (seen under QEMU's TCG with SVM, where
    // nothing else bounds a guest's run as VMX's preemption timer does): armed again.
    if (!running_one && now + kIdleCheckMicroseconds < at) at = now + kIdleCheckMicroseconds;
    const bool lost = q.armed_at != kNotArmed && now > q.armed_at + kLostTimerMicroseconds;
    if (q.armed_at != kNotArmed && q.armed_at <= at && !lost) return;
    if (at == ~0ull) return;
    if (!running_one && this_cpu_index() == g_lose_timer_interrupts_cpu) {
        lapic_timer_stop();  // nor does one armed earlier (for a slice) wake it
        q.armed_at = at;     // as if armed, and its interrupt lost
        return;
    }
    // Noted first: should the timer fire at once, its interrupt finds it noted and
    // clears it, rather than the note outliving a timer that already went off.
    q.armed_at = at;
    lapic_timer_oneshot(at > now ? at - now : 1, kVectorSchedulerTick);
}

// A CPU whose one-shot timer is long overdue while it is busy lost that interrupt, and
// a guest that spins without exits would keep it forever (a 2-vCPU Linux hung at AP
// bring-up: the AP queued behind a BSP that never left the guest). Every other CPU's
// pass kicks it: the kick makes the guest exit, and the CPU's next pass arms its timer
// again (arm_timer). Each CPU watches all the others, so none goes unwatched.
void watch_other_cpus(u64 now) {
    const u32 me = this_cpu_index();
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (c == me) continue;
        const RunQueue& q = g_queues[c];
        const u64 armed = __atomic_load_n(&q.armed_at, __ATOMIC_RELAXED);
        if (armed != kNotArmed && now > armed + kLostTimerMicroseconds && !percpu(c).idle) cpu_kick(c);
    }
}

// Moves a runnable vCPU from this CPU to `target`. Everything of it this CPU holds goes
// first: its FPU registers to its save area, its VMCS cleared (SDM vol. 3C 25.11.1: a
// VMCS is active on one CPU at a time); `target` loads them again at its first entry.
// Under the domain's lock, where pause and destroy change the lifecycle: a vCPU of a
// domain that may not run stays, so once a pause or destroy is through, its vCPUs stay
// where they are and calls posted to `vcpu.cpu` find them there.
bool migrate(Vcpu& v, u32 target) {
    Domain& d = *v.domain;
    LockGuard<SpinLock> guard(d.lock);
    if (!d.lifecycle.may_run() || v.state != VcpuState::Runnable || v.gate.in_use()) return false;
    dequeue_here(v);
    fpu_save_if_loaded_here(v);
    debug_forget_here(v);
    PerCpu& cpu = this_cpu();
    if (cpu.last_vcpu_uid == v.uid) cpu.last_vcpu_uid = 0;
    v.backend->unload_from_this_cpu();
    __atomic_store_n(&v.cpu, target, __ATOMIC_SEQ_CST);
    ++v.migrations;
    if (!enqueue(v)) {  // its queue is full: it stays here
        __atomic_store_n(&v.cpu, this_cpu_index(), __ATOMIC_SEQ_CST);
        enqueue(v);
        return false;
    }
    percpu(target).idle = false;  // one push per idle CPU
    cpu_kick(target);
    return true;
}

// A vCPU picked here that is pinned elsewhere (xm vcpu-pin) moves to one of its CPUs, an
// idle one if it can: true when it went.
bool move_to_allowed_cpu(Vcpu& v) {
    const u32 me = this_cpu_index();
    if (allowed_on(v, me)) return false;
    u32 target = kMaxCpus;
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (!percpu(c).online || !allowed_on(v, c)) continue;
        if (target == kMaxCpus || percpu(c).idle) target = c;
        if (percpu(c).idle) break;
    }
    return target != kMaxCpus && migrate(v, target);
}

// Load balancing, the simplest that works (the credit scheduler is its own issue): at a
// slice boundary, a CPU with two or more runnable vCPUs gives the one whose slice just
// ended to an idle CPU, so both run at once. That one's FPU registers and VMCS are the
// live ones here, which migrate() moves out.
void balance(RunQueue& q, u64 now) {
    if (q.current && now < q.slice_end_us) return;
    const u32 me = this_cpu_index();
    u32 target = kMaxCpus;
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (c != me && percpu(c).online && percpu(c).idle) {
            target = c;
            break;
        }
    }
    if (target == kMaxCpus) return;
    Vcpu* candidate = nullptr;
    u32 runnable = 0;
    {
        IrqLockGuard guard(q.lock);
        for (u32 i = 0; i < q.count; ++i) {
            Vcpu* v = q.vcpus[i];
            if (!can_run(*v)) continue;
            ++runnable;
            if (!allowed_on(*v, target)) continue;
            if (v == q.current || !candidate) candidate = v;
        }
    }
    if (runnable >= 2 && candidate) migrate(*candidate, target);
}

}  // namespace

void scheduler_print_state() {
    const u64 now = uptime_us();
    console_line("scheduler (debug key 's') at %llu us:", (unsigned long long)now);
    for (u32 c = 0; c < g_cpu_count; ++c) {
        const RunQueue& q = g_queues[c];
        console_line("  cpu%u: %u vCPUs queued, %u runnable, %s, timer %s%lld us, %llu timer interrupts", c, q.count,
                     q.runnable, percpu(c).idle ? "idle" : "busy", q.armed_at == kNotArmed ? "off " : "in ",
                     q.armed_at == kNotArmed ? 0ll : (long long)(q.armed_at - now),
                     (unsigned long long)q.timer_interrupts);
        // Device models arm timers instead of being polled at each pass: the callbacks
        // run are the work done for them, next to the passes made.
        console_line("  cpu%u: %u timers armed, %llu timer callbacks run in %llu passes", c, timers_pending(c),
                     (unsigned long long)timers_fired(c), (unsigned long long)q.passes);
        if (q.rescued)
            console_line("  cpu%u: %llu overdue timers of other CPUs run here", c, (unsigned long long)q.rescued);
        if (const u64 next = timers_next_deadline(c); next != TimerQueue::kNever)
            console_line("  cpu%u: next timer in %lld us", c, (long long)(next - now));
        for (u32 i = 0; i < q.count; ++i) {
            const Vcpu& v = *q.vcpus[i];
            console_line("  cpu%u: %s vcpu%u %s", c, v.domain->name, v.index,
                         v.state == VcpuState::Runnable  ? "runnable"
                         : v.state == VcpuState::Blocked ? "blocked"
                                                         : "stopped");
        }
    }
}

bool scheduler_add_domain(Domain& domain, const GuestEntryState& entry, const char** error) {
    g_cpu_count = percpu_online_count();
    for (u32 i = 0; i < domain.vcpu_count; ++i) {
        Vcpu& v = domain.vcpus[i];
        v.uid = __atomic_fetch_add(&g_next_vcpu_uid, 1, __ATOMIC_RELAXED);
        if (!fpu_prepare_vcpu(v)) {
            *error = "out of memory for the vCPUs' FPU state";
            return false;
        }
        // The backend starts every vCPU in the boot state; only vCPU 0 runs at once.
        v.backend = create_vcpu_backend(v, entry, error);
        if (!v.backend) return false;
        // Charged to the domain's quota (mm/memory_quota.hpp); its release
        // gives charged_structures back.
        const u64 footprint = kPageSize + v.backend->footprint_bytes();  // the FPU page, the backend
        if (!domain.quota.charge(footprint)) {
            *error = "its vCPUs pass its memory quota";
            return false;
        }
        domain.charged_structures += footprint;
        v.cpu = __atomic_fetch_add(&g_next_cpu, 1, __ATOMIC_RELAXED) % g_cpu_count;
    }
    for (u32 i = 0; i < domain.vcpu_count; ++i) {
        if (g_queues[domain.vcpus[i].cpu].count + domain.vcpu_count > kMaxVcpusPerCpu) {
            *error = "too many vCPUs on one CPU";
            return false;
        }
    }
    domain.vcpus[0].started = true;
    vcpu_set_state(domain.vcpus[0], VcpuState::Runnable);
    for (u32 i = 0; i < domain.vcpu_count; ++i) enqueue(domain.vcpus[i]);
    return true;
}

bool scheduler_start_vcpu(Vcpu& vcpu, const GuestEntryState& entry) {
    {
        LockGuard<SpinLock> guard(vcpu.domain->lock);
        if (vcpu.started || vcpu.state != VcpuState::Stopped || vcpu.domain->ended()) return false;
        vcpu.started = true;
        vcpu.regs = {};
        vcpu_reset(vcpu, entry);
        vcpu_set_state(vcpu, VcpuState::Runnable);  // after its registers
    }
    cpu_kick(vcpu.cpu);
    return true;
}

void scheduler_notify_vcpu(Vcpu& vcpu) {
    if (vcpu_change_state(vcpu, VcpuState::Blocked, VcpuState::Runnable) || vcpu.gate.in_use()) cpu_kick(vcpu.cpu);
}

void scheduler_remove_vcpu(Vcpu& vcpu) {
    if (!vcpu.uid) return;  // never scheduled
    cpu_call(vcpu.cpu, remove_here, &vcpu);
}

void scheduler_call_on_vcpu_cpu(Vcpu& vcpu, void (*run)(Vcpu&, void*), void* arg) {
    VcpuCall call{&vcpu, run, arg};
    cpu_call(vcpu.cpu, call_here, &call);
}

namespace {

// Enters `v` and handles its exit, through its RunGate (kernel/domain/run_gate.hpp), so
// that domain_quiesce either sees it in use or is seen by it.
void run_vcpu(Vcpu& v) {
    if (!v.gate.try_enter(v.domain->lifecycle)) return;
    const u64 start = x86::rdtsc();
    // A vCPU waiting for a device model in Domain-0 does not enter; one whose answer
    // came has its exit handled again first (kernel/ioreq/ioreq_server.hpp).
    if (!ioreq_vcpu_hold(v) && v.domain->platform->before_entry(v)) {
        VmExit exit;
        fpu_switch_to(v);
        debug_load(v);
        v.backend->run(v, exit);
        debug_save(v);
        x86::cli();  // the same on both backends: exits are handled with interrupts off
        v.domain->platform->after_exit(v);
        ioreq_begin_handling(v);
        handle_vm_exit(v, exit);
        ioreq_after_exit(v, exit);
    }
    v.run_tsc += x86::rdtsc() - start;
    v.gate.leave();
}

}  // namespace

void scheduler_run_this_cpu() {
    const u32 me = this_cpu_index();
    RunQueue& q = g_queues[me];
    register_interrupt_handler(kVectorSchedulerTick, tick);
    for (;;) {
        x86::cli();
        cpu_work_run_pending();
        const u64 now = uptime_us();
        ++q.passes;
        watch_other_cpus(now);
        // selftest=losttimer: this CPU misses its timers altogether; others must run them.
        if (me != g_lose_timer_interrupts_cpu) timers_run_expired_here(now);
        if (const u32 rescued = timers_rescue_overdue(now)) {
            // Once per CPU; debug key 's' counts them all.
            if (!q.rescued)
                log_info(
                    "timers: cpu%u ran %u timer(s) of another CPU overdue by over %llu ms (that CPU missed its "
                    "timer interrupt, or was busy; logged once)",
                    me, rescued, (unsigned long long)(kRescueGraceUs / 1000));
            q.rescued += rescued;
        }
        balance(q, now);
        Vcpu* v = pick_next(q, now);
        arm_timer(q, now, v != nullptr);
        if (!v) {
            percpu(me).idle = true;
            x86::sti_hlt();  // the one-shot timer or a kick wakes us
            percpu(me).idle = false;
            continue;
        }
        if (move_to_allowed_cpu(*v)) {
            q.current = nullptr;
            continue;
        }
        run_vcpu(*v);
    }
}

void scheduler_lose_timer_interrupts(u32 cpu) { g_lose_timer_interrupts_cpu = cpu; }

bool scheduler_set_affinity(Vcpu& vcpu, u64 mask) {
    u64 online = 0;
    for (u32 c = 0; c < percpu_online_count() && c < 64; ++c)
        if (percpu(c).online) online |= 1ull << c;
    if (!(mask & online)) return false;
    __atomic_store_n(&vcpu.affinity, mask, __ATOMIC_RELAXED);
    cpu_kick(__atomic_load_n(&vcpu.cpu, __ATOMIC_RELAXED));  // its CPU looks at it again
    return true;
}
