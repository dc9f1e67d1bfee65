// The registers of a PCI function's configuration space, by name: one list for every
// piece of Vireo that reads or builds configuration space, in the hypervisor (dom0's
// passthrough mediator, kernel/vm/devices/passthrough/; the virtual PC's host bridge,
// kernel/vm/devices/pc/pci_host_bridge.cpp) and in Domain-0 (vireo-dm's virtio functions,
// dom0/devmodel/virtio_pci_function.cpp).
//
// Both sides compile it, as they do the firmware code: the freestanding hypervisor
// (-nostdlibinc, no C++ library, so <stdint.h> from newlib rather than <cstdint>) and
// Linux user space. Constants only: no code, no std library.
#pragma once

#include <stdint.h>

namespace pci_config {

// Configuration space size: 256 bytes through the 0xCF8/0xCFC mechanism (PCI Local Bus
// spec 3.0, 6.1), 4 KiB through the PCI Express enhanced configuration access mechanism
// (PCIe base spec 7.2.2).
inline constexpr uint32_t kConventionalSpaceSize = 256;
inline constexpr uint32_t kSpaceSize = 4096;

// Header registers common to both header types (PCI Local Bus spec 3.0, 6.1-6.2).
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionClass = 0x08;  // revision ID, then the 3-byte class code
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kClassCode = 0x09;  // programming interface, subclass, base class
inline constexpr uint16_t kBaseClass = 0x0b;
inline constexpr uint16_t kCacheLineSize = 0x0c;
inline constexpr uint16_t kLatencyTimer = 0x0d;
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kCapabilityPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;

// Type 0 (normal function) header: the subsystem IDs (6.2.4).
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;

// Type 1 (PCI-to-PCI bridge) header: bus numbers (PCI-to-PCI Bridge spec 1.2, 3.2.5.2-3.2.5.4).
inline constexpr uint16_t kPrimaryBus = 0x18;
inline constexpr uint16_t kSecondaryBus = 0x19;
inline constexpr uint16_t kSubordinateBus = 0x1a;

// Command register bits (6.2.2).
inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;
// Status register bits (6.2.3).
inline constexpr uint16_t kStatusCapabilityList = 1u << 4;

// Class code 06h, subclass 00h: a host bridge (PCI Code and ID Assignment spec 1.11, 1.7).
inline constexpr uint8_t kClassBridge = 0x06;
inline constexpr uint8_t kSubclassHostBridge = 0x00;

inline constexpr uint8_t kHeaderTypeMask = 0x7f;
inline constexpr uint8_t kHeaderMultiFunction = 0x80;
inline constexpr uint8_t kHeaderTypeNormal = 0;
inline constexpr uint8_t kHeaderTypeBridge = 1;

// BARs: six in a type 0 header, two in a type 1 header (PCI Local Bus spec 3.0, 6.2.5.1).
inline constexpr uint32_t kBarsNormal = 6;
inline constexpr uint32_t kBarsBridge = 2;

// Capability IDs (PCI Local Bus spec 3.0, appendix H).
inline constexpr uint8_t kCapabilityMsi = 0x05;
inline constexpr uint8_t kCapabilityVendor = 0x09;
inline constexpr uint8_t kCapabilityMsix = 0x11;
// The capability list lives above the predefined header (6.7).
inline constexpr uint16_t kFirstCapabilityOffset = 0x40;

// What a read of the vendor ID returns when no function answers (6.2.1).
inline constexpr uint16_t kNoVendor = 0xffff;

}  // namespace pci_config
