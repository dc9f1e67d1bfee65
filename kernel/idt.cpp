#include "kernel/idt.hpp"

#include "kernel/gdt.hpp"
#include "kernel/percpu.hpp"

extern "C" const u64 trap_stub_table[256];

namespace {

struct __attribute__((packed)) IdtGate {  // SDM vol. 3, figure 6-8
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attributes;
    u16 offset_mid;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

alignas(16) IdtGate g_idt[256];
InterruptHandler g_handlers[256];

constexpr u8 kInterruptGate = 0x8e;  // present, DPL0, 64-bit interrupt gate (IF cleared)

InterruptStack stack_for(u32 vector) {
    switch (vector) {
        case 2: return InterruptStack::Nmi;
        case 8: return InterruptStack::DoubleFault;
        case 18: return InterruptStack::MachineCheck;
        default: return InterruptStack::None;
    }
}

}  // namespace

void idt_init() {
    for (u32 v = 0; v < 256; ++v) {
        const u64 handler = trap_stub_table[v];
        g_idt[v] = IdtGate{u16(handler),
                           kKernelCodeSelector,
                           u8(stack_for(v)),
                           kInterruptGate,
                           u16(handler >> 16),
                           u32(handler >> 32),
                           0};
    }
}

void idt_load() {
    struct __attribute__((packed)) {
        u16 limit;
        u64 base;
    } pointer{sizeof(g_idt) - 1, reinterpret_cast<u64>(g_idt)};
    asm volatile("lidt %0" ::"m"(pointer));
}

void register_interrupt_handler(u8 vector, InterruptHandler handler) {
    __atomic_store_n(&g_handlers[vector], handler, __ATOMIC_RELEASE);
}

InterruptHandler interrupt_handler(u8 vector) { return __atomic_load_n(&g_handlers[vector], __ATOMIC_ACQUIRE); }

u64 idt_base() { return reinterpret_cast<u64>(g_idt); }
