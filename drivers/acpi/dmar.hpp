// The DMA Remapping Reporting table (DMAR), the ACPI table that describes the machine's
// Intel VT-d remapping hardware (Intel Virtualization Technology for Directed I/O
// Architecture Specification, rev. 4.x; "VT-d 8.1" below is a section of it): the host
// address width, a DMA-remapping hardware unit definition (DRHD) per remapping unit, and
// reserved memory region reportings (RMRR: memory that devices must keep reaching, such
// as USB legacy emulation buffers, identity-mapped).
//
// Pure: the bytes of the whole table in, the units and ranges out; unit-tested.
#pragma once

#include "kernel/types.hpp"

struct DmarUnit {
    PhysAddr register_base;  // its remapping registers
    u16 segment;             // PCI segment group
    bool include_pci_all;    // covers every device of the segment no other unit lists
};

struct DmarReservedMemory {
    PhysAddr base;
    PhysAddr limit;  // the last byte
    u16 segment;
};

struct DmarInfo {
    static constexpr usize kMaxUnits = 8;
    static constexpr usize kMaxReserved = 16;
    static constexpr usize kMessageLength = 96;

    u8 host_address_width;     // the DMA physical addressability, in bits
    bool interrupt_remapping;  // flags bit 0 (INTR_REMAP)
    DmarUnit units[kMaxUnits];
    usize unit_count;
    DmarReservedMemory reserved[kMaxReserved];
    usize reserved_count;
    char error[kMessageLength];
};

// Parses the DMAR `table` of `length` bytes (its header's checksum already checked).
// False with out.error set on a malformed table (a structure running past the end or too
// short for its type, more units or ranges than DmarInfo holds: a unit left out would
// leave its devices' DMA unconfined, a range left out would break a device).
bool parse_dmar(const u8* table, usize length, DmarInfo& out);
