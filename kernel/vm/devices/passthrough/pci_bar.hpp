// Base address registers (PCI Local Bus spec 3.0, 6.2.5.1): their kinds, their sizes
// (found by the all-ones write the spec describes) and where they currently point.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

enum class PciBarKind : u8 {
    Unused,    // not implemented (reads 0 and sizes to 0)
    Io,        // I/O space
    Memory32,  // memory, 32-bit address
    Memory64,  // memory, 64-bit address: this register and the next
    Upper64,   // the upper half of the Memory64 BAR before it
};

struct PciBar {
    PciBarKind kind = PciBarKind::Unused;
    bool prefetchable = false;
    u64 size = 0;
    // The address the BAR holds now (for Memory64, both registers), whether or not the
    // command register lets the function decode it.
    u64 base = 0;

    constexpr bool is_memory() const { return kind == PciBarKind::Memory32 || kind == PciBarKind::Memory64; }
};

// The config offset of BAR `index`.
constexpr u16 pci_bar_offset(u32 index) { return u16(pci_config::kBar0 + 4 * index); }

// The address that BAR registers hold, from the low register (and, for Memory64, the
// high one): the type bits (3:0 for memory, 1:0 for I/O) are not part of it.
u64 pci_bar_address(PciBarKind kind, u32 low, u32 high);

// Finds the kind and size of `count` BARs of `bdf` (6 for a type 0 header, 2 for type 1)
// by writing all ones and reading back the size mask (6.2.5.1, "implementation note:
// sizing a base address register"), with decoding switched off in the command register
// meanwhile so that the function answers at no transient address. Every register and the
// command register get back their values. Only for the scan, before dom0 runs.
void pci_probe_bars(PciConfigSpace& config, PciBdf bdf, u32 count, PciBar* bars);
