// PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2) on a bus that
// holds only its host bridge: an Intel 82441FX PMC (440FX, 8086:1237, class 06/00/00,
// header type 0) at bus 0 device 0 function 0, as on QEMU's "pc" machine. The 440FX
// has no enhanced (memory-mapped) configuration space, which matches a platform with
// no MCFG table.
//
// 0xCF8 CONFIG_ADDRESS latches only full dword writes and answers only dword reads;
// any narrower access to 0xCF8-0xCFB is an ordinary I/O cycle, which on PIIX/ICH
// chipsets reaches the Reset Control register at 0xCF9 (forwarded to ResetControl) and
// nothing else (reads ones). 0xCFC-0xCFF CONFIG_DATA reads or writes the bytes of the
// addressed dword that the access covers. Without the enable bit, or for any other
// bus/device/function (master abort), reads return all ones and writes are dropped.
//
// Ports are absolute: the platform routes 0xCF8-0xCFF here.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/pc/reset_control.hpp"
#include "kernel/vm/devices/pci_config_space.hpp"

class StateWriter;
class StateReader;

class PciHostBridge {
public:
    static constexpr u16 kConfigAddressPort = 0xcf8;
    static constexpr u16 kConfigDataPort = 0xcfc;
    static constexpr u16 kFirstPort = 0xcf8;
    static constexpr u16 kPortCount = 8;
    static constexpr u32 kConfigEnable = 1u << 31;

    // What the host bridge's configuration header holds (82441FX datasheet 3.2).
    static constexpr u16 kVendorId = 0x8086;
    static constexpr u16 kDeviceId = 0x1237;
    static constexpr u8 kRevision = 0x02;
    static constexpr u8 kClassHostBridge = pci_config::kClassBridge;  // subclass 0: host bridge

    explicit PciHostBridge(ResetControl& reset_control);

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // Power-on state of CONFIG_ADDRESS and of the host bridge's writable registers.
    void reset();

    u32 config_address() const { return address_; }

    // Save and restore (platform_state_codec.hpp): CONFIG_ADDRESS and the host bridge's
    // 256-byte configuration space. load() refuses reserved address bits and any byte
    // whose read-only bits differ from this bridge's (they identify the device).
    struct State {
        u32 address;
        u8 config[pci_config::kConventionalSpaceSize];
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    u8 config_read_byte(u32 offset) const;
    void config_write_byte(u32 offset, u8 value);
    bool addresses_host_bridge() const;
    static u8 writable_bits(u32 offset);

    ResetControl& reset_control_;
    u32 address_ = 0;
    u8 config_[pci_config::kConventionalSpaceSize] = {};
};
