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
#include "kernel/vm/exit_fast_path.hpp"
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
bool g_fast_exits = true;               // fastexits=off clears it

// Which vCPU runs and for how long is the credit policy's (kernel/sched/credit_policy.hpp):
// a vCPU keeps its CPU for a slice (or until it blocks, or a boosted one wakes), since
// switching vCPUs costs a TLB flush, the FPU state and, on VMX, a VMPTRLD and the
// SYSCALL MSRs.
struct RunQueue {
    SpinLock lock;
    Vcpu* vcpus[kMaxVcpusPerCpu];
    u32 count = 0;
    CreditRunQueue credit;     // this CPU's
    u64 decide_at = ~0ull;     // when the policy decides again (found by the last pick_next)
    u32 runnable = 0;          // could run here at the last pick_next
    u64 armed_at = kNotArmed;  // when this CPU's one-shot timer fires (uptime_us)
    u64 timer_interrupts = 0;
    u64 passes = 0;   // of the scheduler loop
    u64 rescued = 0;  // other CPUs' timers run here, overdue (kernel/sched/cpu_timers.hpp)
    // The vCPU this CPU ran last, while it is still queued here: when another one gets the
    // CPU and it could still run, it was preempted (steal time, note_switch).
    Vcpu* last = nullptr;
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
    cpu_request_pass(vcpu.cpu);  // its CPU's next exit looks at it (run_this_cpu)
    return true;
}

// Removes `vcpu` from this CPU's queue, if it is there.
void dequeue_here(Vcpu& vcpu) {
    RunQueue& q = g_queues[this_cpu_index()];
    if (q.last == &vcpu) q.last = nullptr;
    IrqLockGuard guard(q.lock);
    for (u32 i = 0; i < q.count; ++i) {
        if (q.vcpus[i] != &vcpu) continue;
        q.credit.forget(vcpu.sched);
        q.vcpus[i] = q.vcpus[--q.count];
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

// A new vCPU's CPU: `preferred` (round-robin over the CPUs) if its affinity allows it,
// else the first online CPU it allows (a domain's cpus= names at least one).
u32 first_allowed_cpu(const Vcpu& v, u32 preferred) {
    const u64 mask = __atomic_load_n(&v.sched.hard_affinity, __ATOMIC_RELAXED);
    if (preferred < 64 && (mask >> preferred & 1)) return preferred;
    for (u32 c = 0; c < g_cpu_count && c < 64; ++c)
        if (percpu(c).online && (mask >> c & 1)) return c;
    return preferred;
}

bool can_run(const Vcpu& v) { return v.state == VcpuState::Runnable && v.domain->lifecycle.may_run(); }

bool allowed_on(const Vcpu& v, u32 cpu) {
    return cpu < 64 && (__atomic_load_n(&v.sched.hard_affinity, __ATOMIC_RELAXED) >> cpu & 1);
}

// The queue as the credit policy sees it: `cands[i]` is `q.vcpus[i]`. Unlocked: only
// this CPU removes from or reorders its queue; a vCPU appended meanwhile is seen at the
// next pass.
u32 candidates(const RunQueue& q, CreditCandidate* cands) {
    const u32 count = __atomic_load_n(&q.count, __ATOMIC_ACQUIRE);
    for (u32 i = 0; i < count; ++i) cands[i] = {&q.vcpus[i]->sched, can_run(*q.vcpus[i])};
    return count;
}

Vcpu* vcpu_of(const RunQueue& q, const CreditCandidate* cands, u32 count, const CreditVcpu* chosen) {
    for (u32 i = 0; i < count; ++i)
        if (cands[i].vcpu == chosen) return q.vcpus[i];
    return nullptr;
}

Vcpu* pick_next(RunQueue& q, u64 now) {
    CreditCandidate cands[kMaxVcpusPerCpu];
    const u32 count = candidates(q, cands);
    const CreditRunQueue::Choice choice = q.credit.pick(cands, count, this_cpu_index(), now);
    q.runnable = choice.eligible;
    q.decide_at = choice.decide_again_us;
    return choice.vcpu ? vcpu_of(q, cands, count, choice.vcpu) : nullptr;
}

// TSC ticks to microseconds (the remainder below hz keeps the product within 64 bits).
u64 tsc_to_us(u64 ticks) {
    const u64 hz = tsc_hz() ? tsc_hz() : 1;
    return ticks / hz * 1'000'000 + ticks % hz * 1'000'000 / hz;
}

// Charges `v` what it ran since its last charge: from its whole TSC count, so that no
// rounding accumulates over many short runs.
void charge(RunQueue& q, Vcpu& v) {
    const u64 total_us = tsc_to_us(v.run_tsc);
    if (total_us > v.sched.cpu_time_us) q.credit.charge(v.sched, total_us - v.sched.cpu_time_us, uptime_us());
}

// The one-shot timer: it only interrupts (a guest exits, HLT returns); the pass of the
// scheduler loop that follows does the work.
void tick(TrapFrame&) {
    g_queues[this_cpu_index()].armed_at = kNotArmed;
    ++g_queues[this_cpu_index()].timer_interrupts;
    // Taken wherever interrupts were open, also while an exit of the guest's own was
    // handled: the pass that follows must run and arm the timer again, or the vCPU is
    // entered again with no timer at all, and one that then spins without exits keeps
    // its CPU for ever (linux_svm_2vcpus_on_1cpu hung at AP bring-up).
    cpu_request_pass(this_cpu_index());
    lapic_eoi();
}

// Arms this CPU's one-shot timer for the next thing only it will notice: the credit
// policy's next decision (a slice's end when another vCPU waits here, a cap running out
// or refilling, at most a period while a vCPU runs), and the earliest timer on this CPU's queue (device
// models and the console's debug keys arm those: kernel/sched/cpu_timers.hpp). Nothing
// else needs a timer: a wake-up, work or a timer armed here from
// another CPU comes with a kick (cpu_work.hpp). So an idle CPU with nothing due sleeps
// until kicked, and a lost kick would show as a hang, not as a delay of a tick.
// Returns when the first of those is due (~0: none).
u64 arm_timer(RunQueue& q, u64 now, bool running_one) {
    u64 at = q.decide_at == kCreditNever ? ~0ull : q.decide_at > now ? q.decide_at : now + 1;
    u64 timer = timers_next_deadline_here();
    if (const u64 rescue = timers_next_rescue_deadline(); rescue < timer) timer = rescue;
    if (timer < at) at = timer;
    const u64 due = at;
    // A timer already armed for earlier stays: firing early costs one pass, while arming
    // again on every pass costs every exit.
    // One that should have fired a while ago was lost (seen under QEMU's TCG with SVM, where
    // nothing else bounds a guest's run as VMX's preemption timer does): armed again.
    if (!running_one && now + kIdleCheckMicroseconds < at) at = now + kIdleCheckMicroseconds;
    const bool lost = q.armed_at != kNotArmed && now > q.armed_at + kLostTimerMicroseconds;
    if (q.armed_at != kNotArmed && q.armed_at <= at && !lost) return due;
    if (at == ~0ull) return due;
    if (!running_one && this_cpu_index() == g_lose_timer_interrupts_cpu) {
        lapic_timer_stop();  // nor does one armed earlier (for a slice) wake it
        q.armed_at = at;     // as if armed, and its interrupt lost
        return due;
    }
    // Noted first: should the timer fire at once, its interrupt finds it noted and
    // clears it, rather than the note outliving a timer that already went off.
    q.armed_at = at;
    lapic_timer_oneshot(at > now ? at - now : 1, kVectorSchedulerTick);
    return due;
}

// A CPU whose one-shot timer is long overdue lost that interrupt. Busy, a guest that
// spins without exits would keep it forever (a 2-vCPU Linux hung at AP bring-up: the AP
// queued behind a BSP that never left the guest); idle, it would halt until something
// kicked it, while what it waited for (a capped vCPU's refill, a slice) is the credit
// policy's and no timer another CPU could run for it (seen under QEMU's TCG: a capped
// vCPU alone on its CPU ran 0 ms of 10 s). Every other CPU's pass kicks it: the kick
// makes the guest exit or the halt return, and the CPU's next pass arms its timer
// again (arm_timer). Each CPU watches all the others, so none goes unwatched.
void watch_other_cpus(u64 now) {
    const u32 me = this_cpu_index();
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (c == me) continue;
        const RunQueue& q = g_queues[c];
        const u64 armed = __atomic_load_n(&q.armed_at, __ATOMIC_RELAXED);
        if (armed != kNotArmed && now > armed + kLostTimerMicroseconds) cpu_kick(c);
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

// A vCPU queued here that is pinned elsewhere (xm vcpu-pin) moves to one of its CPUs, an
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

// Runnable vCPUs queued here that may not run here (pinned elsewhere since) move, one per pass.
void move_misplaced(RunQueue& q) {
    const u32 me = this_cpu_index();
    const u32 count = __atomic_load_n(&q.count, __ATOMIC_ACQUIRE);
    for (u32 i = 0; i < count; ++i) {
        Vcpu& v = *q.vcpus[i];
        if (can_run(v) && !allowed_on(v, me)) {
            move_to_allowed_cpu(v);
            return;
        }
    }
}

// Load balancing: at a slice boundary, a CPU where two or more vCPUs could run gives one
// to an idle CPU, so both run at once: the credit policy chooses which (one that may run
// there, preferably one whose soft affinity names it, else the one whose slice just
// ended, whose FPU registers and VMCS are the live ones here and which migrate() moves out).
void balance(RunQueue& q, u64 now) {
    if (q.credit.current() && now < q.credit.slice_end_us()) return;
    const u32 me = this_cpu_index();
    u32 target = kMaxCpus;
    for (u32 c = 0; c < g_cpu_count; ++c) {
        if (c != me && percpu(c).online && percpu(c).idle) {
            target = c;
            break;
        }
    }
    if (target == kMaxCpus) return;
    CreditCandidate cands[kMaxVcpusPerCpu];
    const u32 count = candidates(q, cands);
    const CreditVcpu* chosen = q.credit.choose_push(cands, count, me, target, now);
    if (Vcpu* candidate = chosen ? vcpu_of(q, cands, count, chosen) : nullptr) migrate(*candidate, target);
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
            const CreditVcpu& s = v.sched;
            console_line(
                "  cpu%u: %s vcpu%u %s%s, %s, credit %lld us, cpu time %llu us, weight %u cap %u%%, "
                "affinity %#llx",
                c, v.domain->name, v.index,
                v.state == VcpuState::Runnable  ? "runnable"
                : v.state == VcpuState::Blocked ? "blocked"
                                                : "stopped",
                s.parked ? " (parked by its cap)" : "", credit_priority_name(s.priority), (long long)s.credit_us,
                (unsigned long long)s.cpu_time_us, __atomic_load_n(&v.domain->sched.weight, __ATOMIC_RELAXED),
                __atomic_load_n(&v.domain->sched.cap_percent, __ATOMIC_RELAXED),
                (unsigned long long)__atomic_load_n(&s.hard_affinity, __ATOMIC_RELAXED));
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
        v.sched.domain = &domain.sched;
        v.cpu = first_allowed_cpu(v, __atomic_fetch_add(&g_next_cpu, 1, __ATOMIC_RELAXED) % g_cpu_count);
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
        __atomic_store_n(&vcpu.preempted_tsc, 0, __ATOMIC_RELAXED);  // stopped is not waiting for a CPU
        vcpu.regs = {};
        vcpu_reset(vcpu, entry);
        vcpu_set_state(vcpu, VcpuState::Runnable);  // after its registers
    }
    cpu_kick(vcpu.cpu);
    return true;
}

void scheduler_notify_vcpu(Vcpu& vcpu) {
    if (vcpu_change_state(vcpu, VcpuState::Blocked, VcpuState::Runnable)) {
        credit_note_wake(vcpu.sched);  // boosted at its CPU's next decision (before the kick)
        cpu_kick(vcpu.cpu);
    } else if (vcpu.gate.in_use()) {
        cpu_kick(vcpu.cpu);
    }
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

// TSC ticks to nanoseconds (as tsc_to_us).
u64 tsc_to_ns(u64 ticks) {
    const u64 hz = tsc_hz() ? tsc_hz() : 1;
    return ticks / hz * 1'000'000'000 + ticks % hz * 1'000'000'000 / hz;
}

// KVM's steal time (kernel/vm/devices/pc/steal_time.hpp) at a hand-over of this CPU from
// the vCPU it ran last to `next`: the last one, if it could still run, was preempted (its
// record says so from now on, and the time until it runs again is stolen from it); `next`
// owes its record an update before it enters (resume_due, taken in run_vcpu). Inside the
// last one's RunGate: a paused domain's memory is left alone.
void note_switch(RunQueue& q, Vcpu& next) {
    Vcpu* last = q.last;
    q.last = &next;
    __atomic_store_n(&next.resume_due, true, __ATOMIC_RELAXED);
    if (!last || !can_run(*last) || !last->gate.try_enter(last->domain->lifecycle)) return;
    __atomic_store_n(&last->preempted_tsc, x86::rdtsc(), __ATOMIC_RELAXED);
    __atomic_store_n(&last->resume_due, true, __ATOMIC_RELAXED);
    last->domain->platform->vcpu_preempted(*last);
    last->gate.leave();
}

// Before `v` enters, in its RunGate: its steal-time record takes the time it waited and
// loses the preempted mark, and a TLB flush another vCPU asked of it meanwhile is done.
void resume(Vcpu& v) {
    __atomic_store_n(&v.resume_due, false, __ATOMIC_RELAXED);
    const u64 since = __atomic_exchange_n(&v.preempted_tsc, 0, __ATOMIC_RELAXED);
    const u64 now = x86::rdtsc();
    const u64 waited = since && now > since ? tsc_to_ns(now - since) : 0;
    if (v.domain->platform->vcpu_resumed(v, waited)) v.backend->flush_guest_tlb();
}

// Enters `v` and handles its exit, through its RunGate (kernel/domain/run_gate.hpp), so
// that domain_quiesce either sees it in use or is seen by it. Exits the fast path
// handles whole (kernel/vm/exit_fast_path.hpp) do not come back here: the backend enters
// the guest again at once while a pass would decide nothing new (no pass requested,
// nothing due before `until`, as in scheduler_run_this_cpu's loop). True when it exited
// for something of its own (no host interrupt came, which may have changed what a pass
// sees); its CPU time is charged by the caller.
bool run_vcpu(Vcpu& v, u64 until) {
    if (!v.gate.try_enter(v.domain->lifecycle)) return false;
    const u64 start = x86::rdtsc();
    bool own_exit = false;
    if (__atomic_load_n(&v.resume_due, __ATOMIC_RELAXED)) resume(v);
    // A vCPU waiting for a device model in Domain-0 does not enter; one whose answer
    // came has its exit handled again first (kernel/ioreq/ioreq_server.hpp).
    // (Each ioreq_ call is for a vCPU with a device model only: tested here, not called.)
    if (!(v.ioreq && ioreq_vcpu_hold(v)) && v.domain->platform->before_entry(v)) {
        VmExit exit;
        fpu_switch_to(v);
        debug_load(v);
        const FastExitBounds bounds{g_fast_exits ? cpu_pass_request_flag() : nullptr, until};
        const bool handled = v.backend->run(v, exit, bounds);
        debug_save(v);
        v.domain->platform->after_exit(v);
        if (!handled) {
            if (v.ioreq) ioreq_begin_handling(v);
            handle_vm_exit(v, exit);
            if (v.ioreq) ioreq_after_exit(v, exit);
        }
        own_exit = exit.kind != ExitKind::PhysicalInterrupt;
    }
    __atomic_store_n(&v.run_tsc, v.run_tsc + (x86::rdtsc() - start), __ATOMIC_RELAXED);
    v.gate.leave();
    return own_exit;
}

// The TSC value before which nothing this CPU's pass looks at is due, from the pass's
// TSC and uptime (`now`, read after it) and the first thing due (arm_timer): rounded
// down, so the pass is never late. At most a second away, which keeps the product
// within 64 bits.
u64 due_tsc(u64 pass_tsc, u64 now, u64 due) {
    if (due <= now) return 0;
    const u64 us = due - now < 1'000'000 ? due - now : 1'000'000;
    return pass_tsc + us * tsc_hz() / 1'000'000;
}

}  // namespace

void scheduler_run_this_cpu() {
    const u32 me = this_cpu_index();
    RunQueue& q = g_queues[me];
    register_interrupt_handler(kVectorSchedulerTick, tick);
    for (;;) {
        x86::cli();
        cpu_pass_begin();
        cpu_work_run_pending();
        const u64 pass_tsc = x86::rdtsc();
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
        move_misplaced(q);
        balance(q, now);
        Vcpu* v = pick_next(q, now);
        const u64 due = arm_timer(q, now, v != nullptr);
        if (!v) {
            percpu(me).idle = true;
            x86::sti_hlt();  // the one-shot timer or a kick wakes us
            percpu(me).idle = false;
            continue;
        }
        if (v != q.last) note_switch(q, *v);
        // The vCPU is entered again at once after an exit while a pass would decide
        // nothing new: no host interrupt came (the timer's or a kick's), nothing asked
        // this CPU to look (cpu_pass_requested: wake-ups, timers armed, work posted),
        // nothing is due yet (the policy's next decision, a timer), and it can still
        // run. An exit then costs its handling only, not the pass (as KVM's vcpu_run
        // loop re-enters until a request is pending). Its CPU time is charged once after.
        const u64 until = due_tsc(pass_tsc, now, due);
        while (run_vcpu(*v, until) && !cpu_pass_requested() && can_run(*v) && x86::rdtsc() < until) {
        }
        charge(q, *v);
    }
}

void scheduler_lose_timer_interrupts(u32 cpu) { g_lose_timer_interrupts_cpu = cpu; }

void scheduler_disable_fast_exits() { g_fast_exits = false; }

void scheduler_use_round_robin() {
    for (RunQueue& q : g_queues) q.credit.set_round_robin(true);
}

bool scheduler_set_affinity(Vcpu& vcpu, u64 mask) {
    if (!(mask & percpu_online_mask())) return false;
    __atomic_store_n(&vcpu.sched.hard_affinity, mask, __ATOMIC_RELAXED);
    cpu_kick(__atomic_load_n(&vcpu.cpu, __ATOMIC_RELAXED));  // its CPU looks at it again
    return true;
}

void scheduler_reconsider_vcpu(Vcpu& vcpu) { cpu_kick(__atomic_load_n(&vcpu.cpu, __ATOMIC_RELAXED)); }

bool scheduler_set_soft_affinity(Vcpu& vcpu, u64 mask) {
    if (!(mask & percpu_online_mask())) return false;
    // Read only when a busy CPU chooses what to give an idle one: no kick.
    __atomic_store_n(&vcpu.sched.soft_affinity, mask, __ATOMIC_RELAXED);
    return true;
}
