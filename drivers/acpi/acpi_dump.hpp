// "acpidump": hex-dumps the RSDP and every ACPI table the parser found, one console line
// at a time, so that the tables of a real machine (or of QEMU) can be captured from the
// serial log and replayed in host unit tests (tests/unit/acpi_fixture.hpp reads it back).
//
// Format, one item per line (hex is lowercase, offsets and bytes without 0x):
//   acpidump: table SIG addr=0xADDRESS len=LENGTH     (LENGTH in decimal)
//   acpidump: SIG OFFSET: HEXBYTES                    (32 bytes per line, 2 digits each, no spaces)
//   acpidump: end SIG
//   ...
//   acpidump: done
// The RSDP comes first with the signature RSDP and addr=0x0: the parser gets a copy (from
// the Multiboot2 ACPI tag), not its physical address. A table that cannot be mapped any
// more is reported as `acpidump: missing SIG addr=0x... len=N` instead of its bytes.
#pragma once

#include "drivers/acpi/acpi_tables.hpp"

inline constexpr const char* kAcpiDumpPrefix = "acpidump: ";
inline constexpr usize kAcpiDumpBytesPerLine = 32;

// Calls emit_line once per line; `line` has no trailing newline and is only valid during
// the call. emit_line must not call mem.map() (the table being dumped stays mapped).
void dump_acpi_tables(AcpiMemory& mem, const AcpiInfo& info, void (*emit_line)(const char* line, void* ctx), void* ctx);
