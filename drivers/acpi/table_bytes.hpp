// Little-endian loads from firmware tables (ACPI, IVRS, DMAR) and a boot loader's
// information (Multiboot version 1): fields sit at any byte address and are packed, so a
// plain load may be misaligned (undefined behaviour); these read through memcpy.
#pragma once

#include <string.h>

#include "kernel/types.hpp"

namespace table_bytes {

inline u16 read_u16(const u8* p) {
    u16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

inline u32 read_u32(const u8* p) {
    u32 v;
    memcpy(&v, p, sizeof v);
    return v;
}

inline u64 read_u64(const u8* p) {
    u64 v;
    memcpy(&v, p, sizeof v);
    return v;
}

// ACPI 6.5 5.2.5.3 / 5.2.6: a structure is valid when all of its bytes sum to zero
// (mod 256).
inline u8 byte_sum(const u8* p, usize length) {
    u8 sum = 0;
    for (usize i = 0; i < length; ++i) sum = u8(sum + p[i]);
    return sum;
}

}  // namespace table_bytes
