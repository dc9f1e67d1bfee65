// Per-CPU GDT and TSS (Intel SDM vol. 3, 3.4.5 and 8.2.3). The selectors match the
// boot GDT in boot/entry32.S and the AP trampoline, so no far jump changes CS meaning.
#pragma once

#include "kernel/percpu.hpp"

inline constexpr u16 kKernelCodeSelector = 0x08;
inline constexpr u16 kKernelDataSelector = 0x10;
inline constexpr u16 kTssSelector = 0x18;

// Fills this CPU's GDT and TSS (interrupt stacks must already be set) and loads them.
void gdt_load(PerCpu& cpu);
