// The pieces every ACPI table Vireo writes into a guest is made of (ACPI Specification
// 6.5, "ACPI 5.2.x" below): the RSDP, the system description table header and its
// checksum, and the MADT's interrupt controller structures. Shared by the tables of a
// virtual PC (guest_acpi_tables.cpp) and dom0's (dom0_acpi_tables.cpp), so both identify
// themselves alike and checksum alike. Pure logic.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/firmware/guest_memory_writer.hpp"

inline constexpr u64 kAcpiRsdpLength = 36;       // ACPI 5.2.5.3, revision 2
inline constexpr u64 kAcpiSdtHeaderLength = 36;  // ACPI 5.2.6

// MADT (ACPI 5.2.12): the fixed part, then structures of these lengths.
inline constexpr u64 kMadtFixedLength = 44;      // header + Local Interrupt Controller Address + Flags
inline constexpr u64 kMadtLocalApicLength = 8;   // 5.2.12.2
inline constexpr u64 kMadtIoApicLength = 12;     // 5.2.12.3
inline constexpr u64 kMadtOverrideLength = 10;   // 5.2.12.5
inline constexpr u64 kMadtNmiLength = 6;         // 5.2.12.7
inline constexpr u32 kMadtPcAtCompat = 1u << 0;  // Flags: dual 8259s present (Table 5.19)
inline constexpr u8 kMadtAllProcessors = 0xFF;   // Local APIC NMI: ACPI Processor UID 0xFF
inline constexpr u8 kMadtLint1 = 1;

// Writes a header (5.2.6) with Length and Checksum zero, Vireo's OEMID and Creator, and
// `oem_table_id` (8 characters, space padded); starts a new byte sum.
void write_acpi_sdt_header(GuestMemoryWriter& w, const char* signature, u8 revision, const char* oem_table_id);
// Stores Length and then the checksum that makes the table from `start` to the writer's
// position sum to zero (5.2.6).
void finish_acpi_sdt(GuestMemoryWriter& w, u64 start);

// A revision 2 RSDP (5.2.5.3) at the writer's position: both checksums, Vireo's OEMID.
// `rsdt` may be 0 when there is no RSDT (an ACPI 2.0+ reader uses the XSDT).
void write_acpi_rsdp(GuestMemoryWriter& w, u32 rsdt, u64 xsdt);

// MADT interrupt controller structures.
void write_madt_local_apic(GuestMemoryWriter& w, u8 acpi_uid, u8 apic_id);  // enabled
void write_madt_ioapic(GuestMemoryWriter& w, u8 id, u32 address, u32 gsi_base);
void write_madt_override(GuestMemoryWriter& w, u8 bus, u8 source, u32 gsi, u16 flags);
void write_madt_local_apic_nmi(GuestMemoryWriter& w, u8 acpi_uid, u16 flags, u8 lint);
