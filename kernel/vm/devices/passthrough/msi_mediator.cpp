#include "kernel/vm/devices/passthrough/msi_mediator.hpp"

namespace {

// Message Control (PCI Local Bus spec 3.0, 6.8.1.3).
constexpr u16 kControlOffset = 2;
constexpr u16 kEnable = 1u << 0;
constexpr u16 kMultipleMessageEnable = 7u << 4;
constexpr u16 k64BitCapable = 1u << 7;
constexpr u16 kPerVectorMaskingCapable = 1u << 8;

constexpr u16 kAddressOffset = 4;
constexpr u16 kUpperAddressOffset = 8;
constexpr u16 kMaskOffsetFromData = 4;
constexpr u16 kPendingOffsetFromData = 8;
// Message Address bits 1:0 are reserved and read 0 (6.8.1.4).
constexpr u32 kAddressWritable = ~3u;
// The only vector granted is vector 0, whose mask and pending bits are bit 0 (6.8.1.8-9).
constexpr u32 kVector0 = 1u << 0;

}  // namespace

void MsiMediator::attach(PassthroughServices& services, PciBdf bdf, u16 capability) {
    services_ = &services;
    bdf_ = bdf;
    capability_ = capability;
    const u16 control = u16(services.config.config_read(bdf, capability + kControlOffset, 2));
    is_64bit_ = control & k64BitCapable;
    per_vector_masking_ = control & kPerVectorMaskingCapable;
    end_ = u16(data_offset() + (per_vector_masking_ ? kPendingOffsetFromData + 4 : 4));
    write_hardware_control(false);
}

u32 MsiMediator::read_dword(u16 dword_offset) {
    PciConfigSpace& config = services_->config;
    const u16 data = data_offset();
    if (dword_offset == capability_) {
        const u32 header = config.config_read(bdf_, capability_, 4);
        const u32 control = ((header >> 16) & (k64BitCapable | kPerVectorMaskingCapable)) | (enabled_ ? kEnable : 0);
        return (header & 0xffff) | (control << 16);
    }
    if (dword_offset == capability_ + kAddressOffset) return address_low_;
    if (is_64bit_ && dword_offset == capability_ + kUpperAddressOffset) return address_high_;
    if (dword_offset == data) return data_;
    if (per_vector_masking_ && dword_offset == data + kMaskOffsetFromData) return masked_ ? kVector0 : 0;
    if (per_vector_masking_ && dword_offset == data + kPendingOffsetFromData) {
        const u32 hardware = config.config_read(bdf_, dword_offset, 4) & kVector0;
        return hardware | (pending_ ? kVector0 : 0);
    }
    return 0;  // reserved (the upper half of the data dword of a 32-bit capability's end)
}

void MsiMediator::write_dword(u16 dword_offset, u32 value, u32 lanes) {
    const u16 data = data_offset();
    if (dword_offset == capability_) {
        // Bytes 0-1 are the read-only ID and next pointer; of Message Control only the
        // enable bit is dom0's to change (Multiple Message Enable is held at 0).
        if (lanes & 0x00ff0000) set_enable((value >> 16) & kEnable);
        return;
    }
    if (dword_offset == capability_ + kAddressOffset) {
        address_low_ = pci_merge_lanes(address_low_, value, lanes) & kAddressWritable;
    } else if (is_64bit_ && dword_offset == capability_ + kUpperAddressOffset) {
        address_high_ = pci_merge_lanes(address_high_, value, lanes);
    } else if (dword_offset == data) {
        data_ = u16(pci_merge_lanes(data_, value, lanes));
    } else if (per_vector_masking_ && dword_offset == data + kMaskOffsetFromData && (lanes & kVector0)) {
        masked_ = value & kVector0;
        services_->config.config_write(bdf_, dword_offset, 4, masked_ ? kVector0 : 0);
        if (!masked_ && pending_ && enabled_) {
            pending_ = false;
            send_msi_to_guest(services_->apic, guest_message());
        }
    }
    // The pending bits are read-only (6.8.1.9).
}

// Enabling binds a host vector and programs it before the hardware's enable goes on, so
// the function never signals dom0's message on the host; disabling turns the hardware
// off before the vector goes back.
void MsiMediator::set_enable(bool enable) {
    PassthroughServices& s = *services_;
    if (!enable) {
        write_hardware_control(false);
        if (bound_) s.router.unbind(bdf_, kMsiSourceIndex);
        bound_ = false;
        enabled_ = false;
        pending_ = false;
        return;
    }
    enabled_ = true;
    if (!bound_) {
        if (!s.router.bind(bdf_, kMsiSourceIndex, guest_message(), host_message_)) {
            s.listener.report(bdf_, PassthroughIssue::BindFailed);
            return;
        }
        bound_ = true;
    }
    // Written again at every enable: a function-level reset dom0 did meanwhile cleared it.
    s.config.config_write(bdf_, capability_ + kAddressOffset, 4, u32(host_message_.address));
    if (is_64bit_) s.config.config_write(bdf_, capability_ + kUpperAddressOffset, 4, u32(host_message_.address >> 32));
    s.config.config_write(bdf_, data_offset(), 2, host_message_.data & 0xffff);
    write_hardware_control(true);
}

void MsiMediator::write_hardware_control(bool enable) {
    PciConfigSpace& config = services_->config;
    const u16 control = u16(config.config_read(bdf_, capability_ + kControlOffset, 2));
    const u16 value = u16((control & ~(kEnable | kMultipleMessageEnable)) | (enable ? kEnable : 0));
    config.config_write(bdf_, capability_ + kControlOffset, 2, value);
}

void MsiMediator::reset() {
    if (!present()) return;
    set_enable(false);
    address_low_ = 0;
    address_high_ = 0;
    data_ = 0;
    masked_ = false;
    if (per_vector_masking_) services_->config.config_write(bdf_, data_offset() + kMaskOffsetFromData, 4, 0);
}

MsiDelivery MsiMediator::deliver() {
    if (!enabled_ || !bound_) return MsiDelivery::Dropped;
    if (per_vector_masking_ && masked_) {
        pending_ = true;
        return MsiDelivery::HeldPending;
    }
    return send_msi_to_guest(services_->apic, guest_message());
}
