// The guest's DSDT body: AML written by hand as bytes (ACPI 6.5 chapter 20, "ACPI Machine
// Language Specification"), small enough to check byte by byte. The table header around
// it comes from guest_acpi_tables.cpp.
#pragma once

#include "kernel/types.hpp"

struct AmlFragment {
    const u8* bytes;
    usize length;
};

// Name(\_S5, Package(4) {kAcpiSlpTypS5, kAcpiSlpTypS5, 0, 0}): the sleep type values for
// soft-off (ACPI 7.4.2.4), without which Linux cannot power the guest off.
AmlFragment guest_dsdt_s5_package();

// Scope(\_SB) { Device(PCI0) { _HID/_CID PNP0A03, _UID 0, _BBN 0, _CRS } }: a PCI host
// bridge for bus 0 (ACPI 6.1.5 _HID, 6.5.5 _BBN) decoding bus numbers 0-0xFF, every I/O
// port but its own 0xCF8-0xCFF, and the MMIO window [0xC0000000, 0xFEBFFFFF].
AmlFragment guest_dsdt_pci_host_bridge();
