#include "kernel/sched/cpu_work.hpp"

#include "drivers/lapic.hpp"
#include "kernel/idt.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"

namespace {

struct WorkQueue {
    SpinLock lock;
    CpuWork* head = nullptr;
    CpuWork* tail = nullptr;
    bool pass_requested = false;  // atomic: set from any CPU, cleared by its own
};

WorkQueue g_queues[kMaxCpus];

// The kick's only job is to interrupt: a guest exits, HLT returns.
void kick_interrupt(TrapFrame&) { lapic_eoi(); }

CpuWork* take_all(WorkQueue& q) {
    IrqLockGuard guard(q.lock);
    CpuWork* list = q.head;
    q.head = q.tail = nullptr;
    return list;
}

}  // namespace

void cpu_work_init() { register_interrupt_handler(kVectorKick, kick_interrupt); }

void cpu_request_pass(u32 cpu) {
    if (cpu < kMaxCpus) __atomic_store_n(&g_queues[cpu].pass_requested, true, __ATOMIC_SEQ_CST);
}

bool cpu_pass_requested() { return __atomic_load_n(&g_queues[this_cpu_index()].pass_requested, __ATOMIC_SEQ_CST); }

const bool* cpu_pass_request_flag() { return &g_queues[this_cpu_index()].pass_requested; }

void cpu_pass_begin() { __atomic_store_n(&g_queues[this_cpu_index()].pass_requested, false, __ATOMIC_SEQ_CST); }

void cpu_kick(u32 cpu) {
    // Noted before the IPI, so that the pass the IPI brings about finds it, and noted for
    // this CPU too, whose own pass must follow before its vCPU runs on.
    cpu_request_pass(cpu);
    if (cpu == this_cpu_index() || cpu >= kMaxCpus || !percpu(cpu).online) return;
    lapic_send_fixed(percpu(cpu).apic_id, kVectorKick);
}

void cpu_post(u32 cpu, CpuWork& work) {
    work.next = nullptr;
    work.done = false;
    WorkQueue& q = g_queues[cpu];
    {
        IrqLockGuard guard(q.lock);
        if (q.tail)
            q.tail->next = &work;
        else
            q.head = &work;
        q.tail = &work;
    }
    cpu_kick(cpu);
}

void cpu_call(u32 cpu, void (*run)(void*), void* arg) {
    if (cpu == this_cpu_index()) {
        cpu_request_pass(cpu);  // what it changed is looked at before the guest runs on
        run(arg);
        return;
    }
    CpuWork work;
    work.run = run;
    work.arg = arg;
    cpu_post(cpu, work);
    while (!__atomic_load_n(&work.done, __ATOMIC_ACQUIRE)) {
        cpu_work_run_pending();
        asm volatile("pause" ::: "memory");
    }
}

void cpu_work_run_pending() {
    WorkQueue& q = g_queues[this_cpu_index()];
    if (!__atomic_load_n(&q.head, __ATOMIC_ACQUIRE)) return;
    for (CpuWork* w = take_all(q); w;) {
        CpuWork* next = w->next;  // `w` may be gone once done is set
        w->run(w->arg);
        __atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
        w = next;
    }
}
