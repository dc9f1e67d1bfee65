#include "kernel/gdt.hpp"

namespace {

struct __attribute__((packed)) DescriptorPointer {
    u16 limit;
    u64 base;
};

constexpr u64 kCode64 = 0x00af9b000000ffffull;  // present, DPL0, code, L=1, accessed
constexpr u64 kData = 0x00cf93000000ffffull;    // present, DPL0, data, writable, accessed

// A 64-bit TSS descriptor takes two GDT slots (SDM vol. 3, figure 8-4).
void set_tss_descriptor(u64* slots, u64 base, u32 limit) {
    slots[0] = (limit & 0xffffull) | ((base & 0xffffffull) << 16) | (0x89ull << 40) |
               ((u64(limit) & 0xf0000ull) << 32) | ((base & 0xff000000ull) << 32);
    slots[1] = base >> 32;
}

}  // namespace

void gdt_load(PerCpu& cpu) {
    cpu.gdt[0] = 0;
    cpu.gdt[1] = kCode64;
    cpu.gdt[2] = kData;
    for (u32 i = 0; i < kInterruptStackCount; ++i) cpu.tss.ist[i] = cpu.interrupt_stack_top[i];
    cpu.tss.rsp[0] = cpu.kernel_stack_top;
    cpu.tss.io_map_base = sizeof(TaskStateSegment);  // no I/O permission bitmap
    set_tss_descriptor(&cpu.gdt[3], reinterpret_cast<u64>(&cpu.tss), sizeof(TaskStateSegment) - 1);

    DescriptorPointer pointer{sizeof(cpu.gdt) - 1, reinterpret_cast<u64>(cpu.gdt)};
    // Reload CS with a far return, then the data segments and the task register. FS and
    // GS are left alone: loading a selector into GS can reset the GS base, which holds
    // this CPU's PerCpu pointer.
    asm volatile(
        "lgdt %0\n"
        "pushq %1\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "movw %w2, %%ds\n"
        "movw %w2, %%es\n"
        "movw %w2, %%ss\n"
        "ltr %w3\n"
        :
        : "m"(pointer), "i"(u64(kKernelCodeSelector)), "r"(u32(kKernelDataSelector)), "r"(u32(kTssSelector))
        : "rax", "memory");
}
