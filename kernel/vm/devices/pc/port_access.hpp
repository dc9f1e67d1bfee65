// Helpers for device models whose registers are narrower than the guest's access: the
// bytes an access covers beyond a register read as ones, as on a bus where nothing
// drives them.
#pragma once

#include "kernel/types.hpp"

// The bytes an I/O access of `size` covers (1, 2 or 4; other sizes count as 4).
constexpr u32 port_access_bytes(u8 size) { return size == 1 ? 1 : size == 2 ? 2 : 4; }

// The bits an I/O access of `size` bytes (1, 2 or 4) carries; other sizes count as 4.
constexpr u32 port_access_mask(u8 size) { return size == 1 ? 0xffu : size == 2 ? 0xffffu : 0xffffffffu; }

// A byte register's value as an access of `size` bytes returns it.
constexpr u32 byte_register_read(u8 value, u8 size) { return (port_access_mask(size) & ~0xffu) | value; }
