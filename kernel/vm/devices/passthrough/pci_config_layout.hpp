// What the passthrough code adds to the register names of PCI configuration space
// (kernel/vm/devices/pci_config_space.hpp, which Domain-0's device model uses too): a function's
// address (bus, device, function) and the byte-lane arithmetic of accesses inside one
// configuration dword.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/pci_config_space.hpp"

// A function's address on segment 0 (PCI Local Bus spec 3.0, 3.2.2.3.2).
struct PciBdf {
    u8 bus = 0;
    u8 device = 0;    // 0-31
    u8 function = 0;  // 0-7

    friend constexpr bool operator==(PciBdf a, PciBdf b) = default;
};

// An access of `size` bytes (1, 2 or 4) at `offset` stays inside one dword.
constexpr bool pci_access_in_dword(u32 offset, u8 size) {
    return (size == 1 || size == 2 || size == 4) && (offset & 3) + size <= 4;
}

// The bits of a dword an access of `size` bytes at `offset` covers.
constexpr u32 pci_lane_mask(u32 offset, u8 size) {
    const u32 width = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return width << (8 * (offset & 3));
}

// `value`, written by an access at `offset`, in its place in the dword.
constexpr u32 pci_lanes_value(u32 offset, u32 value) { return value << (8 * (offset & 3)); }

// What an access of `size` bytes at `offset` reads from the dword `dword`.
constexpr u32 pci_lanes_extract(u32 dword, u32 offset, u8 size) {
    return (dword & pci_lane_mask(offset, size)) >> (8 * (offset & 3));
}

// `old` with the lanes of `mask` replaced by those of `value`.
constexpr u32 pci_merge_lanes(u32 old, u32 value, u32 mask) { return (old & ~mask) | (value & mask); }

// All ones of an access of `size` bytes: what a read from nowhere returns (master abort).
constexpr u32 pci_all_ones(u8 size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }
