// The guest's e820 memory map (what INT 15h AX=E820h would return, handed to Linux in
// boot_params.e820_table): built from the guest physical layout in guest_pc_layout.hpp
// for a domain's RAM size. Pure logic; unit-tested.
#pragma once

#include "kernel/types.hpp"

// Address range types (ACPI 6.5 15.2 "E820 Assumptions and Limitations", Table 15.1).
inline constexpr u32 kE820Ram = 1;
inline constexpr u32 kE820Reserved = 2;
inline constexpr u32 kE820Acpi = 3;  // ACPI reclaimable
inline constexpr u32 kE820Nvs = 4;
inline constexpr u32 kE820Unusable = 5;

struct E820Entry {
    u64 address;
    u64 size;
    u32 type;
};

struct E820Map {
    // As many as boot_params.e820_table holds (E820_MAX_ENTRIES_ZEROPAGE, Linux's
    // bootparam.h): a virtual PC needs 4, but dom0's map follows the host's, which firmware
    // of large machines makes long. About 3 KiB, so it may still live on a hypervisor stack
    // (32 KiB) while a guest loads.
    static constexpr usize kMaxEntries = 128;
    E820Entry entries[kMaxEntries];
    usize count;
};
static_assert(sizeof(E820Map) <= 4 * KiB);

// The smallest domain: the kernel alone needs far more, but below this the layout itself
// (conventional memory, the BIOS area, RAM above 1 MiB) does not exist.
inline constexpr u64 kGuestMinimumRamBytes = 2 * MiB;

// Fills `out` (sorted by address, no overlaps) for a domain of `ram_bytes` (a multiple of
// 4 KiB, at least kGuestMinimumRamBytes): conventional RAM, the reserved BIOS area holding
// the ACPI tables, RAM from 1 MiB up to the 3 GiB hole and, for larger domains, the rest
// above 4 GiB. The hole itself is left out so the guest can place PCI BARs there.
// Returns false with a sentence in *error when ram_bytes is unusable.
bool build_guest_e820(u64 ram_bytes, E820Map& out, const char** error);
