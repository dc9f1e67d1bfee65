// The processor state Linux's 32-bit boot protocol asks for (boot.rst, "32-bit Boot
// Protocol"), and the GDT behind it: protected mode with paging off, a GDT loaded with
// flat 4 GiB descriptors at __BOOT_CS (0x10, execute/read) and __BOOT_DS (0x18,
// read/write), CS = __BOOT_CS, DS = ES = SS = __BOOT_DS, interrupts off. An i386 kernel
// (no XLF_KERNEL_64) is entered this way at its load address (code32_start). Pure logic;
// unit-tested.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/firmware/long_mode_boot.hpp"
#include "mm/guest_page_walk.hpp"

// __BOOT_CS for the 32-bit entry (SDM vol. 3A 3.4.5): base 0, limit 0xFFFFF pages,
// present, DPL 0, execute/read, accessed, D = 1 (32-bit), G = 1.
inline constexpr u64 kBootCode32Descriptor = 0x00CF9B000000FFFFull;
inline constexpr u32 kBootCode32AccessRights = 0xC09B;  // VMCS layout, as in long_mode_boot.hpp

// Writes the GDT (null, unused, __BOOT_CS, __BOOT_DS) at kGuestBootGdtGpa and fills `out`
// with the matching register state (CR3, CR4 and EFER zero). False when guest memory
// refuses a write.
bool write_protected_mode_boot_structures(GuestPhysicalMemory& memory, LongModeState& out);
