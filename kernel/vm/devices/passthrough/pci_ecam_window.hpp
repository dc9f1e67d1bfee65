// The PCI Express enhanced configuration access mechanism (PCIe base spec 7.2.2) in front
// of a PciConfigSpace: a memory window of 1 MiB per bus (from the MCFG table's start bus
// to its end bus), in which address bits 27:20 are the bus (from the start bus), 19:15
// the device, 14:12 the function and 11:0 the register.
//
// The spec defines accesses of 1, 2 and 4 bytes inside one dword (7.2.2.2: an access
// that crosses a DWORD boundary is not supported); an aligned 8-byte access, which x86
// software may still make, is taken as two dword accesses (low first). Other accesses,
// and accesses past the window, read all ones and drop writes.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

class PciEcamWindow {
public:
    static constexpr u32 kBusShift = 20;

    PciEcamWindow(PciConfigSpace& space, u8 start_bus, u8 end_bus)
        : space_(space), start_bus_(start_bus), end_bus_(end_bus < start_bus ? start_bus : end_bus) {}

    // The window's length in bytes, from the start bus's base address.
    u64 size() const { return u64(end_bus_ - start_bus_ + 1) << kBusShift; }

    // `offset` from the window's base (the start bus's), as an MmioDevice gets it.
    u64 read(u64 offset, u8 size);
    void write(u64 offset, u8 size, u64 value);

private:
    PciBdf function_at(u64 offset) const;

    PciConfigSpace& space_;
    u8 start_bus_;
    u8 end_bus_;
};
