// PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2) in front of a
// PciConfigSpace: dom0's own CONFIG_ADDRESS latch at 0xCF8 and CONFIG_DATA at
// 0xCFC-0xCFF, whose accesses become configuration accesses of the addressed function.
//
// 0xCF8 latches only dword writes and answers only dword reads (3.2.2.3.2); narrower
// accesses to 0xCF8, 0xCFA and 0xCFB are ordinary I/O to nothing (reads all ones, writes
// dropped). 0xCF9 is not part of this: on PC chipsets it is the Reset Control register,
// which the platform routes elsewhere (Linux only ever reaches it with byte accesses; a
// byte of a wider access that lands on it reads ones and is dropped here).
//
// CONFIG_ADDRESS holds the enable bit 31, bus 23:16, device 15:11, function 10:8 and
// register 7:2, plus bits 27:24 as the extended register number AMD processors take
// there (register bits 11:8; "IOCF8[27:24] ExtRegNo", AMD BIOS and Kernel Developer's
// Guides, family 10h and later), which Linux puts there for registers above 255 when it
// has no ECAM; Intel's reserved bits 30:28 read 0. Without the enable bit, 0xCFC-0xCFF
// read all ones and drop writes.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

class PciConfigPorts {
public:
    static constexpr u16 kAddressPort = 0xcf8;
    static constexpr u16 kResetControlPort = 0xcf9;  // not handled here
    static constexpr u16 kDataPort = 0xcfc;
    static constexpr u16 kFirstPort = 0xcf8;
    static constexpr u16 kPortCount = 8;
    static constexpr u32 kEnable = 1u << 31;

    explicit PciConfigPorts(PciConfigSpace& space) : space_(space) {}

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    u32 config_address() const { return address_; }
    void reset() { address_ = 0; }

private:
    // The configuration register offset of data port byte `byte` (0-3).
    u16 register_offset(u32 byte) const;
    PciBdf addressed_function() const;

    PciConfigSpace& space_;
    u32 address_ = 0;
};
