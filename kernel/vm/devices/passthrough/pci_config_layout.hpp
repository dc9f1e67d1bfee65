// The names of PCI configuration space that the passthrough code uses: a function's
// address (bus, device, function), the header registers, the capability IDs, and the
// byte-lane arithmetic of accesses inside one configuration dword.
#pragma once

#include "kernel/types.hpp"

// A function's address on segment 0 (PCI Local Bus spec 3.0, 3.2.2.3.2).
struct PciBdf {
    u8 bus = 0;
    u8 device = 0;    // 0-31
    u8 function = 0;  // 0-7

    friend constexpr bool operator==(PciBdf a, PciBdf b) = default;
};

namespace pci_config {
// Configuration space size: 256 bytes through the 0xCF8/0xCFC mechanism, 4 KiB through
// the PCI Express enhanced configuration access mechanism (PCIe base spec 7.2.2).
inline constexpr u32 kSpaceSize = 4096;

// Header registers common to both header types (PCI Local Bus spec 3.0, 6.1-6.2).
inline constexpr u16 kVendorId = 0x00;
inline constexpr u16 kCommand = 0x04;
inline constexpr u16 kStatus = 0x06;
inline constexpr u16 kRevisionClass = 0x08;  // revision ID, then the 3-byte class code
inline constexpr u16 kHeaderType = 0x0e;
inline constexpr u16 kBar0 = 0x10;
inline constexpr u16 kCapabilityPointer = 0x34;

// Type 1 (PCI-to-PCI bridge) header: bus numbers (PCI-to-PCI Bridge spec 1.2, 3.2.5.2-3.2.5.4).
inline constexpr u16 kPrimaryBus = 0x18;
inline constexpr u16 kSecondaryBus = 0x19;
inline constexpr u16 kSubordinateBus = 0x1a;

inline constexpr u16 kCommandIoSpace = 1u << 0;
inline constexpr u16 kCommandMemorySpace = 1u << 1;
inline constexpr u16 kStatusCapabilityList = 1u << 4;

// Class code 06h, subclass 00h: a host bridge (PCI Code and ID Assignment spec 1.11, 1.7).
inline constexpr u8 kClassBridge = 0x06;
inline constexpr u8 kSubclassHostBridge = 0x00;

inline constexpr u8 kHeaderTypeMask = 0x7f;
inline constexpr u8 kHeaderMultiFunction = 0x80;
inline constexpr u8 kHeaderTypeNormal = 0;
inline constexpr u8 kHeaderTypeBridge = 1;

// BARs: six in a type 0 header, two in a type 1 header (PCI Local Bus spec 3.0, 6.2.5.1).
inline constexpr u32 kBarsNormal = 6;
inline constexpr u32 kBarsBridge = 2;

// Capability IDs (PCI Local Bus spec 3.0, appendix H).
inline constexpr u8 kCapabilityMsi = 0x05;
inline constexpr u8 kCapabilityMsix = 0x11;
// The capability list lives above the predefined header (6.7).
inline constexpr u16 kFirstCapabilityOffset = 0x40;

inline constexpr u16 kNoVendor = 0xffff;
}  // namespace pci_config

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
