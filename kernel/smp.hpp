// Bringing up the application processors listed in the ACPI MADT.
#pragma once

#include "kernel/types.hpp"

struct SmpCpu {
    u32 apic_id;
};

// The function each AP runs in C++ once it is in long mode on its own stack.
using ApMain = void (*)(u32 cpu_index);

inline constexpr PhysAddr kApTrampolinePhys = 0x8000;  // SIPI vector 0x08: start at 0800:0000

// Starts every CPU in `cpus` except the boot CPU, one at a time, each as the next
// dense CPU index. `low_page_usable`: the memory map gives kApTrampolinePhys as RAM.
// Returns how many CPUs are online, the boot CPU included.
u32 smp_start_aps(const SmpCpu* cpus, u32 count, u32 boot_apic_id, ApMain ap_main, bool low_page_usable);
