// Parser of the Multiboot2 boot information structure (Multiboot2 spec 1.0, section 3.6),
// whose physical address GRUB passes in EBX. Everything the hypervisor needs is copied
// into Multiboot2Info: no pointer into the boot information survives, because the
// identity mapping through which it is read goes away once the final page tables are
// loaded. Malformed input, and input that does not fit the fixed-size copy, is an error
// with a message; nothing is ever silently truncated.
#pragma once

#include "kernel/types.hpp"

// EAX at the 32-bit entry (Multiboot2 spec 3.3, "Machine state").
inline constexpr u32 kMultiboot2BootloaderMagic = 0x36d76289;

// Memory map entry types (Multiboot2 spec 3.6.8).
inline constexpr u32 kMultiboot2MemoryAvailable = 1;
inline constexpr u32 kMultiboot2MemoryAcpiReclaimable = 3;
inline constexpr u32 kMultiboot2MemoryNvs = 4;
inline constexpr u32 kMultiboot2MemoryBad = 5;

struct Multiboot2MemoryRegion {
    u64 base;
    u64 length;
    u32 type;  // kMultiboot2Memory*; anything other than Available must not be used
};

struct Multiboot2Module {
    PhysAddr start;  // mod_start
    PhysAddr end;    // mod_end: GRUB sets it to start + size, so [start, end) holds the module
    char cmdline[256];
    // Its command line was longer than 255 characters: `cmdline` holds the first 255,
    // and the loader starts no domain from its group (one bad line costs only its domain).
    bool cmdline_truncated;
};

// Plain data (no constructors) so that the parser can clear it with memset; it is about
// 13 KiB, so the kernel keeps it in static storage rather than on a boot stack.
struct Multiboot2Info {
    static constexpr usize kMaxMemoryRegions = 128;
    // Enough for the 64 domains Vireo runs, each a kernel and an initrd.
    static constexpr usize kMaxModules = 128;
    static constexpr usize kCmdlineCapacity = 1024;
    static constexpr usize kBootloaderNameCapacity = 64;
    static constexpr usize kModuleCmdlineCapacity = sizeof(Multiboot2Module::cmdline);
    static constexpr usize kRsdpLength = 20;  // ACPI 6.5, 5.2.5.3: revision 0 RSDP
    static constexpr usize kXsdpLength = 36;  // revision >= 2 RSDP (the "XSDP")

    PhysAddr info_start;  // physical address of the boot information (to reserve it)
    u64 info_size;        // total_size

    bool has_cmdline;
    char cmdline[kCmdlineCapacity];  // tag 1; "" when absent
    bool has_bootloader_name;
    char bootloader_name[kBootloaderNameCapacity];  // tag 2; "" when absent

    bool has_memory_map;  // tag 6
    usize memory_region_count;
    Multiboot2MemoryRegion memory_regions[kMaxMemoryRegions];

    usize module_count;  // tag 3, one tag per module, in boot-information order
    Multiboot2Module modules[kMaxModules];
    // Module tags after the first kMaxModules: not kept (their domains do not start).
    usize modules_dropped;

    // Tag 15 (new RSDP) wins over tag 14 (old RSDP) when GRUB provides both. The bytes
    // are copied verbatim; checksums are the ACPI parser's business.
    usize rsdp_length;  // 0 = no RSDP tag, 20 = RSDP, 36 = XSDP
    bool rsdp_is_xsdp;
    u8 rsdp[kXsdpLength];
};

// Parses the boot information at `info` (readable for its total_size bytes), which is at
// physical address `info_phys`. On success fills `out` completely and returns true. On
// failure returns false, sets `*error` (when `error` is not null) to a static message and
// leaves `out` cleared or partly filled: it must not be used.
bool parse_multiboot2(const u8* info, u64 info_phys, Multiboot2Info& out, const char** error);
