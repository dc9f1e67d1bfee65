// The RSDP where firmware leaves it for OSPM to find (ACPI 6.5, 5.2.5.1 "Finding the
// RSDP on IA-PC Systems"), for when the boot loader passed none: Multiboot version 1 has
// no field for it (Multiboot2 has tags 14 and 15).
#pragma once

#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/types.hpp"

struct FoundRsdp {
    PhysAddr address;
    usize length;  // 20 for a revision 0 RSDP, 36 for the XSDP of revision 2 and later
    u8 bytes[36];
};

// Searches, on 16-byte boundaries, the first KiB of the Extended BIOS Data Area (its
// segment in the BIOS data area's word at 0x40e), then the BIOS ROM at 0xe0000-0xfffff,
// for the signature "RSD PTR " with a valid checksum (and, from revision 2, a valid
// extended checksum over its length). True with `out` filled when one is found.
bool find_rsdp_in_bios_areas(AcpiMemory& memory, FoundRsdp& out);
