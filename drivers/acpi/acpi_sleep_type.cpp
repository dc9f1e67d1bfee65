#include "drivers/acpi/acpi_sleep_type.hpp"

#include <string.h>

#include "drivers/acpi/acpi_tables.hpp"

namespace {

// AML encodings (ACPI 6.5 20.2).
constexpr u8 kNameOp = 0x08;        // 20.2.5.1 DefName := NameOp NameString DataRefObject
constexpr u8 kRootChar = 0x5c;      // 20.2.2 '\'
constexpr u8 kParentPrefix = 0x5e;  // 20.2.2 '^'
constexpr u8 kPackageOp = 0x12;     // 20.2.5.4 DefPackage := PackageOp PkgLength NumElements PackageElementList
constexpr u8 kZeroOp = 0x00;        // 20.2.3 ConstObj
constexpr u8 kOneOp = 0x01;
constexpr u8 kBytePrefix = 0x0a;  // 20.2.3 ComputationalData
constexpr u8 kWordPrefix = 0x0b;
constexpr u8 kDWordPrefix = 0x0c;
constexpr u8 kQWordPrefix = 0x0e;
constexpr u8 kS5[4] = {'_', 'S', '5', '_'};

// The SLP_TYP fields are 3 bits wide (ACPI 6.5 Table 4.13); the hardware sees no more.
constexpr u64 kSlpTypMask = 0x7;

// ACPI 5.2.6: the definition block's header before the AML.
constexpr u32 kSdtHeaderLength = 36;
constexpr u32 kMaxDsdtLength = 4 * MiB;

// PkgLength (ACPI 6.5 20.2.4): bits 7:6 of the lead byte count the bytes that follow
// (0-3). With none, bits 5:0 are the length; else bits 3:0 are its low nibble and each
// following byte adds 8 more bits. The length counts itself and what follows it.
bool read_pkg_length(const u8* p, usize available, usize& consumed, usize& length) {
    if (available == 0) return false;
    const u32 follow = p[0] >> 6;
    if (available < 1 + follow) return false;
    if (follow == 0) {
        length = p[0] & 0x3f;
    } else {
        if (p[0] & 0x30) return false;  // bits 5:4 must be zero in the multi-byte form
        length = p[0] & 0x0f;
        for (u32 i = 0; i < follow; ++i) length |= usize(p[1 + i]) << (4 + 8 * i);
    }
    consumed = 1 + follow;
    return length >= consumed;
}

// One package element that is an integer constant; false for anything else.
bool read_integer(const u8* p, usize available, usize& consumed, u64& value) {
    if (available == 0) return false;
    usize bytes = 0;
    switch (p[0]) {
        case kZeroOp: value = 0, consumed = 1; return true;
        case kOneOp: value = 1, consumed = 1; return true;
        case kBytePrefix: bytes = 1; break;
        case kWordPrefix: bytes = 2; break;
        case kDWordPrefix: bytes = 4; break;
        case kQWordPrefix: bytes = 8; break;
        default: return false;
    }
    if (available < 1 + bytes) return false;
    value = 0;
    for (usize i = 0; i < bytes; ++i) value |= u64(p[1 + i]) << (8 * i);
    consumed = 1 + bytes;
    return true;
}

// The package right after the name, at `p` (`available` bytes to the end of the AML).
bool read_s5_package(const u8* p, usize available, AcpiSleepType& out) {
    if (available < 1 || p[0] != kPackageOp) return false;
    usize consumed = 0, length = 0;
    if (!read_pkg_length(p + 1, available - 1, consumed, length) || length > available - 1) return false;
    const u8* at = p + 1 + consumed;
    usize left = length - consumed;
    if (left < 1) return false;
    const u8 elements = at[0];
    ++at, --left;
    u64 a = 0, b = 0;
    usize used = 0;
    if (elements == 0 || !read_integer(at, left, used, a)) return false;
    at += used, left -= used;
    if (elements == 1) {
        // One integer: SLP_TYPa in its low byte, SLP_TYPb in the next (as ACPICA's
        // acpi_get_sleep_type_data reads a one-element package).
        b = a >> 8;
    } else if (!read_integer(at, left, used, b)) {
        return false;
    }
    out.found = true;
    out.slp_typ_a = u8(a & kSlpTypMask);
    out.slp_typ_b = u8(b & kSlpTypMask);
    return true;
}

}  // namespace

AcpiSleepType acpi_find_s5_in_aml(const u8* aml, usize length) {
    AcpiSleepType result;
    if (aml == nullptr) return result;
    for (usize i = 0; i + sizeof kS5 <= length; ++i) {
        if (memcmp(aml + i, kS5, sizeof kS5) != 0) continue;
        // Name(_S5, ...), Name(\_S5, ...) or Name(^_S5, ...): NameOp, then the prefixes.
        usize j = i;
        while (j > 0 && (aml[j - 1] == kParentPrefix || aml[j - 1] == kRootChar)) {
            --j;
            if (aml[j] == kRootChar) break;  // the root comes first, once
        }
        if (j == 0 || aml[j - 1] != kNameOp) continue;
        const usize after = i + sizeof kS5;
        if (read_s5_package(aml + after, length - after, result)) return result;
    }
    return AcpiSleepType{};
}

AcpiSleepType acpi_read_s5(AcpiMemory& memory, PhysAddr dsdt) {
    if (dsdt == 0) return {};
    const u8* header = memory.map(dsdt, kSdtHeaderLength);
    if (header == nullptr || memcmp(header, "DSDT", 4) != 0) return {};
    u32 length;
    memcpy(&length, header + 4, sizeof length);
    if (length <= kSdtHeaderLength || length > kMaxDsdtLength) return {};
    const u8* table = memory.map(dsdt, length);
    if (table == nullptr) return {};
    return acpi_find_s5_in_aml(table + kSdtHeaderLength, length - kSdtHeaderLength);
}
