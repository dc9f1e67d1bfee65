#include "kernel/percpu.hpp"

#include "kernel/x86/instructions.hpp"

namespace {
PerCpu g_percpu[kMaxCpus];
bool g_gs_loaded_on_boot_cpu = false;
}  // namespace

PerCpu& percpu(u32 index) { return g_percpu[index]; }

u64 percpu_online_mask() {
    u64 online = 0;
    for (u32 c = 0; c < percpu_online_count() && c < 64; ++c)
        if (g_percpu[c].online) online |= 1ull << c;
    return online;
}

u32 percpu_online_count() {
    u32 n = 0;
    while (n < kMaxCpus && g_percpu[n].online) ++n;
    return n ? n : 1;
}

void percpu_load(u32 index) {
    PerCpu& p = g_percpu[index];
    p.self = &p;
    p.index = index;
    x86::wrmsr(Msr::GsBase, reinterpret_cast<u64>(&p));
}

void percpu_init_boot_cpu() {
    percpu_load(0);
    g_gs_loaded_on_boot_cpu = true;
}

u32 this_cpu_index() {
    // APs load GS before any code that logs; only the boot CPU runs before that.
    if (!g_gs_loaded_on_boot_cpu) return 0;
    u32 index;
    asm volatile("movl %%gs:8, %0" : "=r"(index));
    return index;
}
