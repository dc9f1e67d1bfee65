// The I/O Virtualization Reporting Structure (IVRS), the ACPI table that describes the
// machine's AMD IOMMUs (AMD I/O Virtualization Technology (IOMMU) Specification, 48882
// rev. 3.x, 5.2 "IVRS"): an I/O virtualization hardware definition block (IVHD) per
// IOMMU, types 10h, 11h and 40h (one IOMMU may be described by several of them, one per
// type, for software of different ages), and I/O virtualization memory definition blocks
// (IVMD, types 20h-22h) naming memory that devices must reach untranslated (unity maps,
// e.g. for the firmware's USB legacy emulation).
//
// Pure: the bytes of the whole table in, the units and ranges out; unit-tested.
#pragma once

#include "kernel/types.hpp"

// A special device of an IVHD (device entry type 48h, 48882 5.2.2.2): an I/O APIC or an
// HPET, whose interrupts reach the IOMMU with this device ID.
struct IvrsSpecialDevice {
    static constexpr u8 kIoApic = 1;
    static constexpr u8 kHpet = 2;
    u8 variety;
    u8 handle;  // the I/O APIC's ID, the HPET's number
    u16 device_id;
};

struct IvrsIommu {
    static constexpr usize kMaxSpecial = 8;

    u8 block_type;          // the IVHD type this was taken from (10h, 11h or 40h)
    u16 device_id;          // the IOMMU's own PCI function (bus << 8 | devfn)
    u16 capability_offset;  // of its IOMMU capability block in that function's space
    PhysAddr base_address;  // its MMIO registers
    u16 segment;            // PCI segment group
    u64 extended_features;  // the EFR image of an 11h/40h block; 0 from a 10h block
    IvrsSpecialDevice special[kMaxSpecial];
    usize special_count;
};

struct IvrsMemory {
    PhysAddr start;
    u64 length;
    bool unity;      // the devices may reach it untranslated (flag "Unity")
    bool readable;   // IR
    bool writable;   // IW
    bool exclusion;  // an exclusion range (flag "ExclusionRange")
    u8 block_type;   // 20h all devices, 21h one, 22h a range of devices
};

struct IvrsInfo {
    static constexpr usize kMaxIommus = 8;
    static constexpr usize kMaxMemory = 16;
    static constexpr usize kMessageLength = 96;

    u32 iv_info;  // IVinfo: virtual and physical address sizes, ATS and DMA remapping flags
    IvrsIommu iommus[kMaxIommus];
    usize iommu_count;
    IvrsMemory memory[kMaxMemory];
    usize memory_count;
    char error[kMessageLength];
};

// Parses the IVRS `table` of `length` bytes (its header's checksum already checked).
// Several IVHD blocks describing one IOMMU (same segment, device and base address) give
// one unit, from the newest type (with its special devices). False with out.error set on a malformed table (a block
// running past the end, a block too short for its type, more units or ranges than
// IvrsInfo holds: a unit left out would leave its devices' DMA unconfined; a device
// entry of unknown length).
bool parse_ivrs(const u8* table, usize length, IvrsInfo& out);
