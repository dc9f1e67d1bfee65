#include "drivers/acpi/ivrs.hpp"

#include <stdio.h>
#include <string.h>

#include "drivers/acpi/table_bytes.hpp"

namespace {

using table_bytes::read_u16;
using table_bytes::read_u32;
using table_bytes::read_u64;

// 48882 5.2.1: the 36-byte ACPI header, IVinfo (u32), 8 reserved bytes, then the blocks.
constexpr usize kIvInfoOffset = 36;
constexpr usize kFirstBlock = 48;

// Every block starts with Type (u8), Flags (u8), Length (u16).
constexpr usize kBlockHeader = 4;

// 48882 5.2.2.1 (type 10h) and 5.2.2.2 (11h, 40h): DeviceID (u16) at 4, Capability
// Offset (u16) at 6, IOMMU Base Address (u64) at 8, PCI Segment Group (u16) at 16,
// IOMMU Info (u16) at 18, and then IOMMU Feature Reporting (u32, 10h) or IOMMU
// Attributes (u32) with the EFR register image (u64) at 24 (11h, 40h).
constexpr usize kIvhd10Length = 24;
constexpr usize kIvhd11Length = 40;
constexpr usize kIvhdEfrOffset = 24;

// 48882 5.2.2.3 (IVMD types 20h-22h): Flags bit 0 Unity, 1 IR, 2 IW, 3 ExclusionRange;
// Start Address (u64) at 16, Memory Block Length (u64) at 24.
constexpr usize kIvmdLength = 32;
constexpr u8 kIvmdUnity = 1u << 0;
constexpr u8 kIvmdRead = 1u << 1;
constexpr u8 kIvmdWrite = 1u << 2;
constexpr u8 kIvmdExclusion = 1u << 3;

bool fail(IvrsInfo& out, usize offset, const char* what) {
    snprintf(out.error, sizeof out.error, "IVRS: %s (block at offset %zu)", what, offset);
    return false;
}

bool is_ivhd(u8 type) { return type == 0x10 || type == 0x11 || type == 0x40; }
bool is_ivmd(u8 type) { return type == 0x20 || type == 0x21 || type == 0x22; }

// 48882 5.2.2.2, the IVHD device entries after the block's header: types below 40h take 4
// bytes, 40h-7Fh 8, and type F0h (ACPI HID) 22 plus its UID's length (byte 21). Special
// device (48h): handle at 4, device ID at 5, variety at 7.
constexpr u8 kEntrySpecial = 0x48;
constexpr u8 kEntryAcpiHid = 0xf0;

bool read_device_entries(IvrsInfo& out, IvrsIommu& unit, const u8* entries, usize length, usize offset) {
    usize at = 0;
    while (at < length) {
        const u8 type = entries[at];
        usize size = type < 0x40 ? 4 : type < 0x80 ? 8 : 0;
        if (type == kEntryAcpiHid && length - at >= 22) size = 22 + entries[at + 21];
        if (size == 0) return fail(out, offset, "an IVHD device entry of unknown length");
        if (size > length - at) return fail(out, offset, "an IVHD device entry runs past its block");
        if (type == kEntrySpecial && unit.special_count < IvrsIommu::kMaxSpecial) {
            IvrsSpecialDevice& d = unit.special[unit.special_count++];
            d.handle = entries[at + 4];
            d.device_id = read_u16(entries + at + 5);
            d.variety = entries[at + 7];
        }
        at += size;
    }
    return true;
}

bool add_iommu(IvrsInfo& out, const u8* block, u16 block_length, usize offset) {
    const u8 type = block[0];
    const usize needed = type == 0x10 ? kIvhd10Length : kIvhd11Length;
    if (block_length < needed) return fail(out, offset, "IVHD block too short for its type");
    IvrsIommu unit{};
    unit.block_type = type;
    unit.device_id = read_u16(block + 4);
    unit.capability_offset = read_u16(block + 6);
    unit.base_address = read_u64(block + 8);
    unit.segment = read_u16(block + 16);
    unit.extended_features = type == 0x10 ? 0 : read_u64(block + kIvhdEfrOffset);
    if (unit.base_address == 0) return fail(out, offset, "IVHD block without a base address");
    if (!read_device_entries(out, unit, block + needed, block_length - needed, offset)) return false;
    for (usize i = 0; i < out.iommu_count; ++i) {
        IvrsIommu& seen = out.iommus[i];
        if (seen.segment != unit.segment || seen.device_id != unit.device_id) continue;
        if (seen.base_address != unit.base_address) return fail(out, offset, "one IOMMU at two base addresses");
        // The same unit again: keep what the newest type says (48882 5.2.2: software
        // uses the highest type it understands).
        if (type > seen.block_type) seen = unit;
        return true;
    }
    if (out.iommu_count == IvrsInfo::kMaxIommus) return fail(out, offset, "more IOMMUs than Vireo can hold");
    out.iommus[out.iommu_count++] = unit;
    return true;
}

bool add_memory(IvrsInfo& out, const u8* block, u16 block_length, usize offset) {
    if (block_length < kIvmdLength) return fail(out, offset, "IVMD block too short");
    if (out.memory_count == IvrsInfo::kMaxMemory) return fail(out, offset, "more IVMD ranges than Vireo can hold");
    const u8 flags = block[1];
    IvrsMemory m{};
    m.block_type = block[0];
    m.unity = flags & kIvmdUnity;
    m.readable = flags & kIvmdRead;
    m.writable = flags & kIvmdWrite;
    m.exclusion = flags & kIvmdExclusion;
    m.start = read_u64(block + 16);
    m.length = read_u64(block + 24);
    if (m.length == 0 || m.start + m.length < m.start) return fail(out, offset, "IVMD range empty or past 2^64");
    out.memory[out.memory_count++] = m;
    return true;
}

}  // namespace

bool parse_ivrs(const u8* table, usize length, IvrsInfo& out) {
    memset(&out, 0, sizeof out);
    if (length < kFirstBlock) return fail(out, 0, "table shorter than its fixed part");
    out.iv_info = read_u32(table + kIvInfoOffset);
    usize offset = kFirstBlock;
    while (offset < length) {
        if (length - offset < kBlockHeader) return fail(out, offset, "a block header runs past the end");
        const u8* block = table + offset;
        const u16 block_length = read_u16(block + 2);
        if (block_length < kBlockHeader) return fail(out, offset, "a block shorter than its header");
        if (block_length > length - offset) return fail(out, offset, "a block runs past the end");
        if (is_ivhd(block[0]) && !add_iommu(out, block, block_length, offset)) return false;
        if (is_ivmd(block[0]) && !add_memory(out, block, block_length, offset)) return false;
        // Other types are newer definitions (48882 5.2: software skips what it does not know).
        offset += block_length;
    }
    return true;
}
