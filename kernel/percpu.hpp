// Per-CPU data. Each CPU's GS base points at its PerCpu, whose first field points at
// itself, so `this_cpu()` is one GS-relative load and works in interrupt context.
#pragma once

#include "kernel/types.hpp"

inline constexpr u32 kMaxCpus = 64;

// 64-bit TSS (Intel SDM vol. 3, 8.7): only the stack pointers matter in long mode.
struct __attribute__((packed)) TaskStateSegment {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 io_map_base;
};
static_assert(sizeof(TaskStateSegment) == 104);

// Which interrupt-stack-table slot each critical exception uses: a fresh, known-good
// stack, so #DF from a blown stack or an NMI at any moment can still report.
enum class InterruptStack : u8 { None = 0, DoubleFault = 1, Nmi = 2, MachineCheck = 3 };
inline constexpr u32 kInterruptStackCount = 3;
inline constexpr u64 kInterruptStackSize = 8 * KiB;
inline constexpr u64 kKernelStackSize = 32 * KiB;

enum class RootMode : u8 { None, Svm, Vmx };

struct PerCpu {
    PerCpu* self;  // %gs:0
    u32 index;     // %gs:8: dense CPU number used in logs
    u32 apic_id;
    alignas(16) u64 gdt[5];  // null, code64, data, TSS (two slots)
    TaskStateSegment tss;
    VirtAddr kernel_stack_top;
    VirtAddr interrupt_stack_top[kInterruptStackCount];
    PhysAddr root_mode_area;        // SVM host save area or VMXON region
    PhysAddr svm_host_vmsave_area;  // host FS/GS/TR/... across VMRUN (svm_world_switch.S)
    u64 last_vcpu_uid;              // the vCPU whose guest TLB entries this CPU may hold
    PhysAddr vmx_current_vmcs;      // the VMCS last loaded with VMPTRLD on this CPU
    void* vmx_current_owner;        // the vmx::VmxVcpu it belongs to
    struct Vcpu* fpu_owner;         // the vCPU whose x87/SSE state is in this CPU's registers
    u64 debug_vcpu_uid;             // the vCPU whose DR0-DR3 (VT-x: and DR6) are in them,
    u32 debug_version;              // as of this Vcpu::debug_version (debug_registers.hpp)
    RootMode root_mode;
    volatile bool online;
    volatile bool idle;  // in the scheduler's HLT with nothing to run (a hint for load balancing)
    volatile u64 timer_interrupts;
};

// Sets up the boot CPU's PerCpu (index 0) and loads GS; first thing kernel_main does.
void percpu_init_boot_cpu();
// Loads GS for CPU `index` (an AP, on its own first instructions in C++).
void percpu_load(u32 index);
PerCpu& percpu(u32 index);
// CPUs online (they come up in index order); at least 1.
u32 percpu_online_count();
// The online CPUs as a mask (bit n: CPU n; CPUs past 63 are left out), as affinities name them.
u64 percpu_online_mask();

inline PerCpu& this_cpu() {
    PerCpu* p;
    asm volatile("movq %%gs:0, %0" : "=r"(p));
    return *p;
}
// 0 until GS is loaded (GS base 0 would make %gs:8 read address 8), see percpu.cpp.
u32 this_cpu_index();
