#include "kernel/vm/devices/passthrough/pci_config_ports.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"

namespace {
// Enable, extended register (27:24), bus, device, function, register (7:2).
constexpr u32 kAddressWritable = 0x8ffffffc;
constexpr u32 kDataPortCount = 4;
}  // namespace

PciBdf PciConfigPorts::addressed_function() const {
    return PciBdf{u8(address_ >> 16), u8((address_ >> 11) & 0x1f), u8((address_ >> 8) & 7)};
}

u16 PciConfigPorts::register_offset(u32 byte) const {
    return u16(((address_ >> 16) & 0xf00) | (address_ & 0xfc) | byte);
}

u32 PciConfigPorts::port_read(u16 port, u8 size) {
    const u32 bytes = port_access_bytes(size);
    const u32 ones = pci_all_ones(u8(bytes));
    if (port == kAddressPort && bytes == 4) return address_;
    if (port < kDataPort || port >= kFirstPort + kPortCount || !(address_ & kEnable)) return ones;
    const u32 first = port - kDataPort;
    // One configuration access when it stays inside the data dword (the usual case);
    // the bytes of a wider access past 0xCFF are not ours and read ones.
    if (first + bytes <= kDataPortCount)
        return space_.config_read(addressed_function(), register_offset(first), u8(bytes));
    u32 value = ones;
    for (u32 i = 0; first + i < kDataPortCount; ++i) {
        const u32 byte = space_.config_read(addressed_function(), register_offset(first + i), 1);
        value = (value & ~(0xffu << (8 * i))) | (byte << (8 * i));
    }
    return value;
}

void PciConfigPorts::port_write(u16 port, u8 size, u32 value) {
    const u32 bytes = port_access_bytes(size);
    if (port == kAddressPort && bytes == 4) {
        address_ = value & kAddressWritable;
        return;
    }
    if (port < kDataPort || port >= kFirstPort + kPortCount || !(address_ & kEnable)) return;
    const u32 first = port - kDataPort;
    if (first + bytes <= kDataPortCount) {
        space_.config_write(addressed_function(), register_offset(first), u8(bytes), value & pci_all_ones(u8(bytes)));
        return;
    }
    for (u32 i = 0; first + i < kDataPortCount; ++i) {
        space_.config_write(addressed_function(), register_offset(first + i), 1, (value >> (8 * i)) & 0xff);
    }
}
