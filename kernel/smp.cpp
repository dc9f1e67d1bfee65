#include "kernel/smp.hpp"

#include <string.h>

#include "drivers/lapic.hpp"
#include "kernel/assert.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/panic.hpp"
#include "kernel/percpu.hpp"
#include "kernel/time.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

extern "C" const u8 ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_parameters[];

namespace {

constexpr u64 kApStartTimeoutUs = 2000000;  // generous: emulated CPUs are slow

struct __attribute__((packed)) ApStartParameters {  // boot/ap_trampoline.S
    u32 cr3;
    u32 efer_bits;
    u64 stack;
    u64 entry;
    u32 cpu_index;
    u32 reserved;
};

ApMain g_ap_main = nullptr;

extern "C" [[noreturn]] void ap_entry(u32 cpu_index) {
    percpu_load(cpu_index);
    g_ap_main(cpu_index);
    for (;;) x86::hlt();
}

bool wait_online(u32 index, u64 timeout_us) {
    const u64 step = 50;
    for (u64 waited = 0; waited < timeout_us; waited += step) {
        if (percpu(index).online) return true;
        udelay(step);
    }
    return percpu(index).online;
}

}  // namespace

u32 smp_start_aps(const SmpCpu* cpus, u32 count, u32 boot_apic_id, ApMain ap_main, bool low_page_usable) {
    g_ap_main = ap_main;
    const u64 size = u64(ap_trampoline_end - ap_trampoline_start);
    if (size > kPageSize)
        panic("smp: the AP start-up code (%llu bytes) is larger than a page", (unsigned long long)size);
    if (!low_page_usable) {
        log_error("smp: the memory map does not give page %#llx as RAM; running on the boot CPU only",
                  (unsigned long long)kApTrampolinePhys);
        return 1;
    }
    // APs load CR3 while still in 32-bit mode (boot/ap_trampoline.S).
    VIREO_ASSERT(kernel_page_table_root() < 4 * GiB);
    memcpy(phys_to_virt(kApTrampolinePhys), ap_trampoline_start, size);
    auto* params =
        phys_to_virt<ApStartParameters>(kApTrampolinePhys + u64(ap_trampoline_parameters - ap_trampoline_start));
    if (!map_identity_code_page(kApTrampolinePhys)) {
        log_error("smp: cannot map the AP start-up page; running on the boot CPU only");
        return 1;
    }
    u32 online = 1;
    bool any_failed = false;
    for (u32 i = 0; i < count; ++i) {
        if (cpus[i].apic_id == boot_apic_id) continue;
        if (online == kMaxCpus) {
            log_warn("smp: more than %u CPUs; the rest stay off", kMaxCpus);
            break;
        }
        // Above a guard page, as every hypervisor stack (mm/kernel_address_space.hpp).
        const VirtAddr stack_top = map_stack(kKernelStackSize, online, "kernel stack");
        if (!stack_top) {
            log_error("smp: out of memory for the stack of APIC %u", cpus[i].apic_id);
            break;
        }
        PerCpu& cpu = percpu(online);
        cpu.online = false;
        cpu.apic_id = cpus[i].apic_id;
        cpu.kernel_stack_top = stack_top;
        params->cr3 = u32(kernel_page_table_root());
        params->efer_bits = u32(msr_bits::kEferLme | (x86::rdmsr(Msr::Efer) & msr_bits::kEferNxe));
        params->stack = cpu.kernel_stack_top;
        params->entry = reinterpret_cast<u64>(&ap_entry);
        params->cpu_index = online;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);

        // INIT, 10 ms, SIPI, 200 us, SIPI (SDM vol. 3, 9.4.4.1).
        bool sent = lapic_send_init(cpu.apic_id);
        udelay(10000);
        sent = sent && lapic_send_startup(cpu.apic_id, u8(kApTrampolinePhys >> 12));
        udelay(200);
        if (sent && !percpu(online).online) sent = lapic_send_startup(cpu.apic_id, u8(kApTrampolinePhys >> 12));
        if (!sent || !wait_online(online, kApStartTimeoutUs)) {
            // Park it with INIT so a late start cannot use this slot, whose stack and
            // parameters go to the next AP; its stack is leaked rather than reused.
            lapic_send_init(cpu.apic_id);
            any_failed = true;
            log_error("smp: CPU with APIC ID %u did not start (%s); continuing without it", cpu.apic_id,
                      sent ? "no answer within 2 s" : "the IPI was not accepted");
            continue;
        }
        ++online;
    }
    // A parked AP could still be inside the start-up page; then it stays mapped.
    if (!any_failed) unmap_identity_code_page(kApTrampolinePhys);
    return online;
}
