// Domain-0's e820 memory map (handed to Linux in boot_params.e820_table). dom0's RAM is
// identity-mapped: it is a set of host-physical ranges, and its map is the host's own,
// re-typed: dom0's ranges are RAM; host RAM it does not own (Vireo's image and heap, other
// domains' memory) is reserved, so that Linux neither uses it nor places PCI BARs over it,
// as it would in a hole; the host's reserved, ACPI, NVS and bad ranges stay as they are, so
// that Linux maps the firmware's tables and keeps its NVS; holes stay holes. The area
// holding dom0's new ACPI root tables (dom0_acpi_tables.hpp) is ACPI. Pure logic;
// unit-tested.
#pragma once

#include "boot/multiboot2.hpp"
#include "kernel/types.hpp"
#include "kernel/vm/firmware/e820_map.hpp"
#include "mm/memory_map.hpp"

// Fills `out` (sorted, no overlaps, adjacent entries of one type merged) from:
//   host, host_count: the host's memory map as Multiboot2 gives it (any order; overlapping
//       entries resolve to the highest type, as Linux sanitizes a firmware map);
//   dom0, dom0_count: the host-physical ranges dom0 owns: sorted, disjoint, non-empty,
//       4 KiB aligned, each inside host RAM (type 1);
//   acpi_tables: where dom0's ACPI root tables are (empty: none): 4 KiB aligned, inside
//       one of dom0's ranges. It becomes type 3, ACPI reclaimable (ACPI 6.5 15.2 Table
//       15.1) rather than reserved: that is the type firmware gives its own tables, so
//       Linux treats these like the host's (maps them, never hands them out: it does not
//       reclaim type 3), and tools that look for ACPI data by type (kexec and kdump pass
//       ACPI ranges on to the next kernel) find them.
// Returns false, with a sentence in *error, when an input breaks these rules or the map
// needs more than E820Map::kMaxEntries entries.
bool build_dom0_e820(const Multiboot2MemoryRegion* host, usize host_count, const PhysRange* dom0, usize dom0_count,
                     PhysRange acpi_tables, E820Map& out, const char** error);
