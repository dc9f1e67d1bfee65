// Enumeration of the real PCI buses: every function on the root buses and, through each
// PCI-to-PCI bridge, on its secondary bus (PCI-to-PCI Bridge spec 1.2, 3.2.5.3), the way
// firmware numbered them. Bounded: each of the 256 bus numbers is scanned at most once,
// so a bridge pointing back at an earlier bus (misconfigured, or a loop) adds nothing.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

struct PciFunctionFound {
    PciBdf bdf;
    u8 header_type = 0;  // without the multi-function bit
};

struct PciScanResult {
    usize count = 0;  // functions written to the output
    // Functions that did not fit in the output (they are not in it), and the first one.
    usize dropped = 0;
    PciBdf first_dropped;
};

// Scans from `root_buses` (bus 0 alone when `root_count` is 0), in breadth-first order
// from each root. A bridge whose secondary bus is not above its own bus is not followed
// (firmware left it unconfigured; nothing behind it can be reached as numbered).
PciScanResult pci_scan_buses(PciConfigSpace& config, const u8* root_buses, usize root_count, PciFunctionFound* out,
                             usize capacity);
