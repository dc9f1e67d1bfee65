// The guest-physical address map of a Vireo PC guest: the one place that says where RAM,
// the legacy BIOS area, the ACPI tables, the MMIO hole and the boot-time structures of a
// Linux guest live. Everything else (e820, ACPI, the bzImage loader, the device models,
// the domain's memory setup) takes its addresses from here.
//
//   0x0000_0000 .. 0x0000_0FFF   RAM (usable): real-mode IVT/BDA page, left zero
//   0x0000_1000 .. 0x0000_6FFF   RAM: boot page tables (PML4, PDPT, 4 page directories)
//   0x0000_7000 .. 0x0000_7FFF   RAM: Linux boot_params ("zero page")
//   0x0000_8000 .. 0x0000_8FFF   RAM: boot GDT
//   0x0000_9000 .. 0x0000_FFFF   RAM: boot stack (RSP starts at 0x10000)
//   0x0002_0000 .. 0x0002_FFFF   RAM: kernel command line buffer (64 KiB)
//   0x0003_0000 .. 0x0009_FBFF   RAM: free (Linux's decompressor puts its trampoline near 0x9D000)
//   0x0009_FC00 .. 0x000F_FFFF   reserved: EBDA, VGA window, option ROMs, BIOS
//       0x000E_0000 ..           ACPI tables (RSDP first, 16-byte aligned, so the
//                                legacy scan of 0xE0000-0xFFFFF finds it: ACPI 6.5 5.2.5.1)
//   0x0010_0000 .. min(RAM, 3G)  RAM; the kernel at its pref_address (16 MiB), the initrd
//                                as high as initrd_addr_max allows
//   0xC000_0000 .. 0xFFFF_FFFF   MMIO hole (not in e820): IOAPIC 0xFEC00000, LAPIC 0xFEE00000
//   0x1_0000_0000 ..             RAM beyond the first 3 GiB, for domains larger than 3 GiB
//
// A domain of `ram_bytes` has guest RAM at [0, min(ram_bytes, 3 GiB)) and, when larger,
// at [4 GiB, 4 GiB + ram_bytes - 3 GiB). The low 1 MiB is backed by RAM in full; only the
// e820 type of [0x9FC00, 0x100000) says "reserved". Pure constants; no code.
#pragma once

#include "kernel/types.hpp"

// Conventional memory: what INT 12h would report (639 KiB), below the EBDA.
inline constexpr u64 kGuestLowRamEnd = 0x9FC00;
// The legacy BIOS area: EBDA, VGA memory, option ROMs and the BIOS, up to 1 MiB.
inline constexpr u64 kGuestBiosAreaStart = kGuestLowRamEnd;
inline constexpr u64 kGuestBiosAreaEnd = 1 * MiB;
inline constexpr u64 kGuestHighRamStart = 1 * MiB;

// ACPI tables: 64 KiB in the 0xE0000 BIOS segment. Linux's legacy RSDP scan covers
// 0xE0000-0xFFFFF on 16-byte boundaries (ACPI 6.5 5.2.5.1), so the RSDP, placed first,
// is found even without boot_params.acpi_rsdp_addr.
inline constexpr u64 kGuestAcpiTablesGpa = 0xE0000;
inline constexpr u64 kGuestAcpiTablesMaxSize = 0x10000;

// The 32-bit MMIO hole: guest RAM never occupies [3 GiB, 4 GiB).
inline constexpr u64 kGuestMmioHoleStart = 3 * GiB;
inline constexpr u64 kGuestMmioHoleEnd = 4 * GiB;
inline constexpr u64 kGuestHighMemoryStart = kGuestMmioHoleEnd;

// Interrupt controllers (Intel 82093AA and SDM vol. 3A 11.4.1 default addresses).
inline constexpr u64 kGuestIoApicBase = 0xFEC00000;
inline constexpr u64 kGuestLocalApicBase = 0xFEE00000;
// The I/O APIC's id: above every local APIC id (vCPU index, 0..kMaxVcpus-1 = 0..7) and
// within the 4 bits old chipsets implement, so it never collides with a processor.
inline constexpr u8 kGuestIoApicId = 8;

// Boot-time structures of a Linux guest (linux_boot.hpp), all in conventional memory and
// away from the first page. Linux builds its own page tables and GDT early and reserves
// the whole first 1 MiB (arch/x86/kernel/setup.c), so these need not be reserved in e820.
inline constexpr u64 kGuestBootPml4Gpa = 0x1000;
inline constexpr u64 kGuestBootPdptGpa = 0x2000;
inline constexpr u64 kGuestBootPageDirectoriesGpa = 0x3000;  // 4 pages: one per GiB of [0, 4 GiB)
inline constexpr u64 kGuestBootPageTablesEnd = 0x7000;
inline constexpr u64 kGuestBootParamsGpa = 0x7000;
inline constexpr u64 kGuestBootGdtGpa = 0x8000;
inline constexpr u64 kGuestBootStackBottom = 0x9000;
inline constexpr u64 kGuestBootStackTop = 0x10000;
inline constexpr u64 kGuestCmdlineGpa = 0x20000;
// Including the NUL; far above any kernel's cmdline_size (2047 on x86_64), and it keeps
// [0x30000, 0x9FC00) free for what the guest puts in conventional memory early.
inline constexpr u64 kGuestCmdlineMaxBytes = 64 * KiB;

// Guest RAM below the hole and above 4 GiB for a domain of `ram_bytes`.
constexpr u64 guest_ram_below_4g(u64 ram_bytes) {
    return ram_bytes < kGuestMmioHoleStart ? ram_bytes : kGuestMmioHoleStart;
}
constexpr u64 guest_ram_above_4g(u64 ram_bytes) {
    return ram_bytes > kGuestMmioHoleStart ? ram_bytes - kGuestMmioHoleStart : 0;
}
// One past the highest guest-physical RAM address.
constexpr u64 guest_ram_end(u64 ram_bytes) {
    return guest_ram_above_4g(ram_bytes) != 0 ? kGuestHighMemoryStart + guest_ram_above_4g(ram_bytes) : ram_bytes;
}

static_assert(kGuestBootPageTablesEnd - kGuestBootPageDirectoriesGpa == 4 * kPageSize);
static_assert(kGuestBootPageTablesEnd <= kGuestBootParamsGpa && kGuestBootParamsGpa + kPageSize <= kGuestBootGdtGpa);
static_assert(kGuestBootGdtGpa + kPageSize <= kGuestBootStackBottom && kGuestBootStackTop <= kGuestCmdlineGpa);
static_assert(kGuestAcpiTablesGpa >= kGuestBiosAreaStart &&
              kGuestAcpiTablesGpa + kGuestAcpiTablesMaxSize <= kGuestBiosAreaEnd);
static_assert(kGuestAcpiTablesGpa % 16 == 0);
static_assert(kGuestCmdlineGpa + kGuestCmdlineMaxBytes <= kGuestLowRamEnd);
