// Work that must run on one particular CPU, and the "kick" that makes a CPU look at once.
//
// Some state lives in a CPU and can only be handled there: a VMCS is active on one CPU
// (VMCLEAR must run there before it is used elsewhere: SDM vol. 3C 25.1 and 25.11.1), a
// vCPU's x87/SSE registers may still be in the CPU that last ran it. So instead of
// touching a vCPU from afar, a CPU posts a work item to the vCPU's CPU and kicks it with
// an IPI (NOVA's "recall", Xen's on_selected_cpus). The item runs at that CPU's next
// scheduling point, where it runs no guest and holds no lock; the IPI makes a running
// guest exit and an idle CPU wake, so that point comes within microseconds, not at the
// next tick.
#pragma once

#include "kernel/types.hpp"

struct CpuWork {
    void (*run)(void* arg) = nullptr;
    void* arg = nullptr;
    CpuWork* next = nullptr;
    volatile bool done = false;
};

// Installs the kick handler (once, on the boot CPU).
void cpu_work_init();
// Makes `cpu` reach its scheduling point soon: an IPI, unless it is this CPU.
void cpu_kick(u32 cpu);
// Queues `work` for `cpu` and kicks it; `work` must live until it has run (`done`).
void cpu_post(u32 cpu, CpuWork& work);
// Runs `run(arg)` on `cpu` and returns when it has run. On this CPU it runs at once;
// otherwise this CPU runs its own queued work while it waits, so two CPUs calling each
// other cannot deadlock.
void cpu_call(u32 cpu, void (*run)(void*), void* arg);
// Runs everything queued for this CPU. Called at the scheduling point, interrupts off.
void cpu_work_run_pending();

// Whether something asked this CPU to look again since its scheduling point last began
// (cpu_pass_begin): a kick (from another CPU or this one: a wake-up, a timer armed, work
// posted, a vCPU queued). Between two of its passes the scheduler enters its vCPU
// again at once only while this is false, so that what a pass would see is seen at the
// next exit, as if every exit passed.
bool cpu_pass_requested();
// The flag behind it, for a loop that looks at every exit (the exit fast path's, in
// kernel/sched/scheduler.cpp): read with __atomic_load_n.
const bool* cpu_pass_request_flag();
// At the start of a pass, before it looks at anything: clears the request.
void cpu_pass_begin();
// Asks `cpu` to look again at its next exit, without an IPI (a vCPU queued there).
void cpu_request_pass(u32 cpu);
