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

void cpu_kick(u32 cpu) {
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
