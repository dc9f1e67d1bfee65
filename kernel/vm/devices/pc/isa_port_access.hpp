// ISA port accesses wider than a byte. The PC's legacy devices (8259A, 8254, MC146818)
// sit on an 8-bit bus: a 16- or 32-bit IN/OUT reaches them as consecutive byte cycles
// on consecutive ports, least significant byte first, the way the chipset splits it.
// Each model implements byte accesses and routes wider ones through these helpers, so a
// guest's odd access size can neither misbehave nor skip a side effect.
#pragma once

#include "kernel/types.hpp"

// Clamps an access size from a decoded instruction to 1..4 bytes.
constexpr u8 isa_access_bytes(u8 size) { return size == 0 ? 1 : (size > 4 ? 4 : size); }

template <typename ReadByte>
u32 isa_split_read(u16 port, u8 size, ReadByte read_byte) {
    u32 value = 0;
    for (u8 i = 0; i < isa_access_bytes(size); ++i) value |= u32(read_byte(u16(port + i))) << (8 * i);
    return value;
}

template <typename WriteByte>
void isa_split_write(u16 port, u8 size, u32 value, WriteByte write_byte) {
    for (u8 i = 0; i < isa_access_bytes(size); ++i) write_byte(u16(port + i), u8(value >> (8 * i)));
}
