// The processor state a kernel entered directly in 64-bit mode needs, and the guest
// memory behind it: identity-mapped page tables for the first 4 GiB and a flat GDT, at the
// fixed addresses of guest_pc_layout.hpp. Used by the Linux 64-bit boot protocol
// (boot.rst "64-bit Boot Protocol"). Pure logic; unit-tested.
#pragma once

#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

// GDT selectors Linux's boot protocol names (boot.rst): __BOOT_CS and __BOOT_DS.
inline constexpr u16 kBootCodeSelector = 0x10;
inline constexpr u16 kBootDataSelector = 0x18;
inline constexpr u16 kBootGdtEntries = 4;  // null, unused, __BOOT_CS, __BOOT_DS
// The descriptors (SDM vol. 3A 3.4.5): base 0, limit 0xFFFFF pages; code: present, DPL 0,
// execute/read, accessed, L = 1 (64-bit), G = 1; data: present, DPL 0, read/write,
// accessed, D/B = 1, G = 1.
inline constexpr u64 kBootCode64Descriptor = 0x00AF9B000000FFFFull;
inline constexpr u64 kBootDataDescriptor = 0x00CF93000000FFFFull;
// The same access rights in the VMCS layout (SDM vol. 3C 25.4.1, Table 25-2): descriptor
// bits 47:40 in 7:0 and 55:52 in 15:12. SVM's VMCB attribute field packs the same bits
// as bits 7:0 and 11:8.
inline constexpr u32 kBootCode64AccessRights = 0xA09B;
inline constexpr u32 kBootDataAccessRights = 0xC093;

inline constexpr u64 kCr0Pe = 1ull << 0, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5, kCr0Pg = 1ull << 31;
inline constexpr u64 kCr4Pae = 1ull << 5;
inline constexpr u64 kEferLme = 1ull << 8, kEferLma = 1ull << 10;
inline constexpr u64 kRflagsReserved1 = 1ull << 1;  // always 1; IF clear: interrupts disabled

struct GuestSegment {
    u16 selector;
    u64 base;
    u32 limit;          // byte granular: 0xFFFFFFFF for a flat 4 GiB segment
    u32 access_rights;  // VMCS layout (see above)
};

struct LongModeState {
    u64 cr0, cr3, cr4, efer, rflags;
    u64 gdt_base;
    u16 gdt_limit;
    GuestSegment cs, ds, es, ss, fs, gs;
};

// The boot GDT at kGuestBootGdtGpa (null, unused, __BOOT_CS with `code_descriptor`,
// __BOOT_DS), shared by the 64-bit and the 32-bit boot protocol; false when guest memory
// refuses a write.
bool write_boot_gdt(GuestPhysicalMemory& memory, u64 code_descriptor);
// GDTR for that GDT, CS = __BOOT_CS with `code_access_rights` and the data segments
// __BOOT_DS, all flat.
void set_boot_segments(LongModeState& out, u32 code_access_rights);

// Writes the boot page tables (PML4 + PDPT + four page directories of 2 MiB pages mapping
// [0, 4 GiB) onto itself; the MMIO hole [3 GiB, 4 GiB) uncached) and the GDT into guest
// memory, and fills `out` with the matching register state: paging on (PE, PG, PAE,
// EFER.LME/LMA), CS = 0x10 (64-bit code), DS = ES = SS = FS = GS = 0x18, interrupts off.
// False when guest memory refuses a write.
bool write_long_mode_boot_structures(GuestPhysicalMemory& memory, LongModeState& out);
