// Finding a capability in a function's capability list (PCI Local Bus spec 3.0, 6.7),
// with a bounded walk: a list that loops or points into the header ends the search.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

// At most this many entries fit above the 64-byte header, one per dword (6.7).
inline constexpr u32 kMaxCapabilities = (256 - pci_config::kFirstCapabilityOffset) / 4;

// The offset of the first capability `id` of `bdf`, or 0 when it has none (no list, the
// list ends, or it is malformed).
u16 pci_find_capability(PciConfigSpace& config, PciBdf bdf, u8 id);
