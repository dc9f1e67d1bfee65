// The attack guests' GDT and TSSs (attack.hpp): segments that are not present, CPL 3
// code and data, two 32-bit TSSs and conforming code, for the fault, CPL 3 and task
// switch attacks (Intel SDM vol. 3A 3.4.5 segment descriptors, 8.2.1-8.2.2 the TSS and
// its descriptor).
#include "tests/guests/attack.hpp"

namespace {

// Naturally aligned as the CPU lays it out (every field at its own size), so not packed.
struct Tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
};
static_assert(sizeof(Tss) == 104);

Tss g_tss, g_second_tss;
uint64_t g_gdt[9];
uint8_t g_kernel_stack[4096] __attribute__((aligned(16)));

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint32_t base;
};

uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
    return (limit & 0xffff) | (uint64_t(base & 0xffffff) << 16) | (uint64_t(access) << 40) |
           (uint64_t((limit >> 16) & 0xf) << 48) | (uint64_t(flags & 0xf) << 52) | (uint64_t(base >> 24) << 56);
}

}  // namespace

// The runtime's flat code and data segments (0x08, 0x10) stay where they are; the new
// GDT adds a data segment marked not present, CPL 3 code and data, two TSSs (the first
// loaded in TR) and a conforming code segment.
void prepare_second_task(void (*entry)()) {
    static uint8_t stack[4096] __attribute__((aligned(16)));
    g_second_tss = {};
    g_second_tss.eip = uint32_t(reinterpret_cast<uintptr_t>(entry));
    g_second_tss.eflags = 0x2;
    g_second_tss.esp = uint32_t(reinterpret_cast<uintptr_t>(stack + sizeof(stack)));
    g_second_tss.cs = 0x08;
    g_second_tss.ss = g_second_tss.ds = g_second_tss.es = g_second_tss.fs = g_second_tss.gs = 0x10;
    g_second_tss.iomap_base = sizeof(Tss);
}

uint32_t* attack_tss_ss0() { return &g_tss.ss0; }

void load_attack_gdt() {
    g_gdt[1] = descriptor(0, 0xfffff, 0x9a, 0xc);
    g_gdt[2] = descriptor(0, 0xfffff, 0x92, 0xc);
    g_gdt[3] = descriptor(0, 0xfffff, 0x12, 0xc);  // data, P = 0
    g_gdt[4] = descriptor(0, 0xfffff, 0xfa, 0xc);  // code, DPL 3
    g_gdt[5] = descriptor(0, 0xfffff, 0xf2, 0xc);  // data, DPL 3
    g_tss.ss0 = 0x10;
    g_tss.esp0 = uint32_t(reinterpret_cast<uintptr_t>(g_kernel_stack + sizeof(g_kernel_stack)));
    g_tss.iomap_base = sizeof(Tss);  // past the limit: no I/O permission bitmap, IN at CPL 3 is #GP
    g_gdt[6] = descriptor(uint32_t(reinterpret_cast<uintptr_t>(&g_tss)), sizeof(Tss) - 1, 0x89, 0);
    g_gdt[7] = descriptor(uint32_t(reinterpret_cast<uintptr_t>(&g_second_tss)), sizeof(Tss) - 1, 0x89, 0);
    g_gdt[8] = descriptor(0, 0xfffff, 0x9e, 0xc);  // code, DPL 0, conforming
    const DescriptorPointer p{sizeof(g_gdt) - 1, uint32_t(reinterpret_cast<uintptr_t>(g_gdt))};
    asm volatile("lgdt %0\n\tltr %w1" ::"m"(p), "r"(kAttackTss) : "memory");
}
