// The interrupt descriptor table (shared by all CPUs) and interrupt vector allocation.
#pragma once

#include "kernel/trap_frame.hpp"
#include "kernel/types.hpp"

// Vectors Vireo uses for its own interrupts (above the 32 exception vectors and the
// 16 the 8259 PICs are remapped to, so a stray legacy interrupt is recognisable).
inline constexpr u8 kVectorLegacyPicBase = 0x20;  // 0x20..0x2f, all masked
inline constexpr u8 kVectorLapicTimer = 0xf0;
inline constexpr u8 kVectorSchedulerTick = 0xf1;
inline constexpr u8 kVectorKick = 0xf2;  // kernel/sched/cpu_work.hpp
inline constexpr u8 kVectorSpurious = 0xff;

using InterruptHandler = void (*)(TrapFrame& frame);

void idt_init();  // builds the IDT, once, on the boot CPU
void idt_load();  // loads it on the calling CPU
u64 idt_base();   // its address (for VMX host state)
void register_interrupt_handler(u8 vector, InterruptHandler handler);
// The handler of `vector`, or null.
InterruptHandler interrupt_handler(u8 vector);
