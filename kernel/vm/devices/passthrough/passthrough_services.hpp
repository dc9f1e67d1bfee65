// The hypervisor's services that the passthrough mediators share, handed to each of them
// once, and what a device interrupt's delivery to dom0 came to.
#pragma once

#include "kernel/vm/devices/apic/apic_interfaces.hpp"
#include "kernel/vm/devices/passthrough/passthrough_interfaces.hpp"

struct PassthroughServices {
    PciConfigSpace& config;  // the real configuration space
    DeviceMmio& mmio;        // the real MSI-X tables, PBAs and their pages
    MsiInterruptRouter& router;
    ApicMessageSink& apic;  // dom0's APIC bus
    PciPassthroughListener& listener;
};

enum class MsiDelivery : u8 {
    Delivered,    // dom0's message went to its APIC bus
    HeldPending,  // dom0 has the source masked: its pending bit is set, sent at unmask
    // Nobody to deliver to: the source is disabled in dom0's view, unknown, or dom0's
    // address is no interrupt address (msi_address_is_interrupt).
    Dropped,
};

// Sends dom0's `message` to its APIC bus (SDM vol. 3A, 11.11).
inline MsiDelivery send_msi_to_guest(ApicMessageSink& apic, const MsiMessage& message) {
    if (!msi_address_is_interrupt(message.address)) return MsiDelivery::Dropped;
    apic.send_message(message_from_msi(message.address, message.data));
    return MsiDelivery::Delivered;
}
