// The Multiboot (version 1) information structure a guest kernel receives in EBX
// (Multiboot spec 0.6.96, section 3.3): memory sizes, memory map, command line, modules
// and boot loader name, laid out in one block of guest memory. Pure logic; unit-tested.
#pragma once

#include "kernel/types.hpp"

inline constexpr u32 kMultiboot1BootloaderMagic = 0x2badb002;

struct Multiboot1Module {
    u32 start, end;  // guest-physical, end exclusive
    const char* cmdline;
};

struct Multiboot1Layout {
    u64 memory_bytes;     // the domain's RAM, from guest-physical 0
    const char* cmdline;  // the kernel's command line
    const Multiboot1Module* modules;
    usize module_count;
};

// Writes the structure for `layout` into `buffer`, which will sit at guest-physical
// `base`; returns the bytes used, or 0 when `buffer_size` is too small.
usize build_multiboot1_info(const Multiboot1Layout& layout, u32 base, u8* buffer, usize buffer_size);
