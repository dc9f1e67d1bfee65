#include "kernel/vm/devices/pc/pci_host_bridge.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"
#include "kernel/vm/devices/pci_config_space.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
// CONFIG_ADDRESS: enable (31), bus (23:16), device (15:11), function (10:8), register
// (7:2). Bits 30:24 are reserved and bits 1:0 read as 0.
constexpr u32 kAddressWritable = 0x80fffffc;

// 82441FX power-on values: PCICMD 0006 (memory access and bus mastering hardwired on),
// PCISTS 0280 (fast back-to-back capable, medium DEVSEL timing).
constexpr u16 kCommandDefault = 0x0006;
constexpr u16 kStatusDefault = 0x0280;
// Writable bits: PCICMD SERR# enable (8) and parity error enable (6); MLT bits 7:3.
// The status error bits are write-1-to-clear but never set here, so read-only.
constexpr u16 kCommandWritable = 0x0140;
constexpr u8 kLatencyTimerWritable = 0xf8;

}  // namespace

PciHostBridge::PciHostBridge(ResetControl& reset_control) : reset_control_(reset_control) { reset(); }

void PciHostBridge::reset() {
    address_ = 0;
    for (u8& byte : config_) byte = 0;
    config_[pci_config::kVendorId] = u8(kVendorId);
    config_[pci_config::kVendorId + 1] = u8(kVendorId >> 8);
    config_[pci_config::kDeviceId] = u8(kDeviceId);
    config_[pci_config::kDeviceId + 1] = u8(kDeviceId >> 8);
    config_[pci_config::kCommand] = u8(kCommandDefault);
    config_[pci_config::kCommand + 1] = u8(kCommandDefault >> 8);
    config_[pci_config::kStatus] = u8(kStatusDefault);
    config_[pci_config::kStatus + 1] = u8(kStatusDefault >> 8);
    config_[pci_config::kRevisionId] = kRevision;
    config_[pci_config::kBaseClass] = kClassHostBridge;  // subclass 0x00, programming interface 0x00
}

u32 PciHostBridge::port_read(u16 port, u8 size) {
    if (port < kFirstPort || port - kFirstPort >= kPortCount) return port_access_mask(size);
    if (port == kConfigAddressPort && size == 4) return address_;
    u32 value = 0;
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 byte_port = u32(port) + i;
        u8 byte = 0xff;
        if (byte_port == ResetControl::kPort) {
            byte = u8(reset_control_.port_read(ResetControl::kPort, 1));
        } else if (byte_port >= kConfigDataPort && byte_port < kFirstPort + kPortCount && addresses_host_bridge()) {
            byte = config_read_byte((address_ & 0xfc) + (byte_port - kConfigDataPort));
        }
        value |= u32(byte) << (8 * i);
    }
    return value;
}

void PciHostBridge::port_write(u16 port, u8 size, u32 value) {
    if (port < kFirstPort || port - kFirstPort >= kPortCount) return;
    if (port == kConfigAddressPort && size == 4) {
        address_ = value & kAddressWritable;
        return;
    }
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 byte_port = u32(port) + i;
        const u8 byte = u8(value >> (8 * i));
        if (byte_port == ResetControl::kPort) {
            reset_control_.port_write(ResetControl::kPort, 1, byte);
        } else if (byte_port >= kConfigDataPort && byte_port < kFirstPort + kPortCount && addresses_host_bridge()) {
            config_write_byte((address_ & 0xfc) + (byte_port - kConfigDataPort), byte);
        }
    }
}

// The bits of configuration register byte `offset` that software writes.
u8 PciHostBridge::writable_bits(u32 offset) {
    if (offset == pci_config::kCommand) return u8(kCommandWritable);
    if (offset == pci_config::kCommand + 1) return u8(kCommandWritable >> 8);
    if (offset == pci_config::kLatencyTimer) return kLatencyTimerWritable;
    return 0;
}

// Only an enabled type 0 cycle to bus 0, device 0, function 0 finds a target.
bool PciHostBridge::addresses_host_bridge() const { return (address_ & kConfigEnable) && (address_ & 0x00ffff00) == 0; }

u8 PciHostBridge::config_read_byte(u32 offset) const { return config_[offset & 0xff]; }

void PciHostBridge::config_write_byte(u32 offset, u8 value) {
    offset &= 0xff;
    const u8 writable = writable_bits(offset);
    config_[offset] = u8((config_[offset] & ~writable) | (value & writable));
}

// --- Save and restore ------------------------------------------------------------------

void PciHostBridge::save(StateWriter& out) const {
    out.put_u32(address_);
    out.put_bytes(config_, sizeof(config_));
}

bool PciHostBridge::load(StateReader& in, State& out) const {
    out.address = in.get_u32();
    in.get_bytes(out.config, sizeof(out.config));
    in.require((out.address & ~kAddressWritable) == 0);
    for (u32 i = 0; i < sizeof(config_); ++i) in.require(((out.config[i] ^ config_[i]) & ~writable_bits(i)) == 0);
    return !in.failed();
}

void PciHostBridge::restore(const State& s) {
    address_ = s.address;
    for (u32 i = 0; i < sizeof(config_); ++i) config_[i] = s.config[i];
}
