#include "drivers/acpi/dmar.hpp"

#include <stdio.h>
#include <string.h>

#include "drivers/acpi/table_bytes.hpp"

namespace {

using table_bytes::read_u16;
using table_bytes::read_u64;

// VT-d 8.1: the 36-byte ACPI header, Host Address Width (u8, the width less one),
// Flags (u8), 10 reserved bytes, then the remapping structures.
constexpr usize kWidthOffset = 36;
constexpr usize kFlagsOffset = 37;
constexpr usize kFirstStructure = 48;
constexpr u8 kFlagInterruptRemapping = 1u << 0;

// VT-d 8.2: every structure starts with Type (u16) and Length (u16).
constexpr usize kStructureHeader = 4;
constexpr u16 kTypeDrhd = 0;
constexpr u16 kTypeRmrr = 1;

// VT-d 8.3: DRHD: Flags (u8) at 4 (bit 0 INCLUDE_PCI_ALL), Size (u8) at 5, Segment (u16)
// at 6, Register Base Address (u64) at 8, device scopes from 16.
constexpr usize kDrhdLength = 16;
constexpr u8 kDrhdIncludeAll = 1u << 0;
// VT-d 8.4: RMRR: Segment (u16) at 6, Base Address (u64) at 8, Limit Address (u64) at
// 16, device scopes from 24.
constexpr usize kRmrrLength = 24;

bool fail(DmarInfo& out, usize offset, const char* what) {
    snprintf(out.error, sizeof out.error, "DMAR: %s (structure at offset %zu)", what, offset);
    return false;
}

}  // namespace

bool parse_dmar(const u8* table, usize length, DmarInfo& out) {
    memset(&out, 0, sizeof out);
    if (length < kFirstStructure) return fail(out, 0, "table shorter than its fixed part");
    out.host_address_width = u8(table[kWidthOffset] + 1);
    out.interrupt_remapping = table[kFlagsOffset] & kFlagInterruptRemapping;
    usize offset = kFirstStructure;
    while (offset < length) {
        if (length - offset < kStructureHeader) return fail(out, offset, "a structure header runs past the end");
        const u8* s = table + offset;
        const u16 type = read_u16(s);
        const u16 s_length = read_u16(s + 2);
        if (s_length < kStructureHeader) return fail(out, offset, "a structure shorter than its header");
        if (s_length > length - offset) return fail(out, offset, "a structure runs past the end");
        if (type == kTypeDrhd) {
            if (s_length < kDrhdLength) return fail(out, offset, "DRHD structure too short");
            if (out.unit_count == DmarInfo::kMaxUnits)
                return fail(out, offset, "more remapping units than Vireo can hold");
            DmarUnit& u = out.units[out.unit_count++];
            u.include_pci_all = s[4] & kDrhdIncludeAll;
            u.segment = read_u16(s + 6);
            u.register_base = read_u64(s + 8);
            if (u.register_base == 0) return fail(out, offset, "DRHD structure without a register base");
        } else if (type == kTypeRmrr) {
            if (s_length < kRmrrLength) return fail(out, offset, "RMRR structure too short");
            if (out.reserved_count == DmarInfo::kMaxReserved)
                return fail(out, offset, "more reserved memory regions than Vireo can hold");
            DmarReservedMemory& r = out.reserved[out.reserved_count++];
            r.segment = read_u16(s + 6);
            r.base = read_u64(s + 8);
            r.limit = read_u64(s + 16);
            if (r.limit < r.base) return fail(out, offset, "RMRR structure ending before it starts");
        }
        // Other types (ATSR, RHSA, ANDD, SATC, ...) say nothing DMA remapping needs.
        offset += s_length;
    }
    return true;
}
