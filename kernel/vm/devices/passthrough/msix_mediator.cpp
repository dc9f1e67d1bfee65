#include "kernel/vm/devices/passthrough/msix_mediator.hpp"

namespace {

// The capability's registers (PCI Local Bus spec 3.0, 6.8.2.3-5).
constexpr u16 kControlOffset = 2;
constexpr u16 kTableOffset = 4;
constexpr u16 kPbaOffset = 8;
constexpr u16 kTableSizeMask = 0x7ff;  // N - 1
constexpr u16 kFunctionMask = 1u << 14;
constexpr u16 kEnable = 1u << 15;

// Entry dwords (6.8.2.6-9).
constexpr u32 kAddressLow = 0;
constexpr u32 kAddressHigh = 1;
constexpr u32 kData = 2;
constexpr u32 kVectorControl = 3;
// Message Address bits 1:0 must be written as 0 (6.8.2.6).
constexpr u32 kAddressWritable = ~3u;

// The byte offset of an entry's dword `index`.
constexpr u64 entry_byte(u32 index) { return u64(index) * 4; }

}  // namespace

void MsixMediator::attach(PassthroughServices& services, PciBdf bdf, u16 capability) {
    services_ = &services;
    bdf_ = bdf;
    capability_ = capability;
    const u16 control = u16(services.config.config_read(bdf, capability + kControlOffset, 2));
    hardware_entries_ = (control & kTableSizeMask) + 1u;
    table_register_ = services.config.config_read(bdf, capability + kTableOffset, 4);
    pba_register_ = services.config.config_read(bdf, capability + kPbaOffset, 4);
    write_hardware_control();
}

u32 MsixMediator::read_control_dword() {
    const u32 header = services_->config.config_read(bdf_, capability_, 4);
    const u32 control = (visible_entries() - 1) | (enabled_ ? kEnable : 0u) | (function_masked_ ? kFunctionMask : 0u);
    return (header & 0xffff) | (control << 16);
}

void MsixMediator::write_control_dword(u32 value, u32 lanes) {
    // Bytes 0-1 (ID, next pointer) and the Table Size are read-only; enable and function
    // mask are in byte 3.
    if (!(lanes & 0xff000000)) return;
    const bool enable = value & (u32(kEnable) << 16);
    const bool was_enabled = enabled_;
    function_masked_ = value & (u32(kFunctionMask) << 16);
    enabled_ = enable;
    if (!enable) {
        write_hardware_control();
        // With MSI-X off the function signals INTx (6.8.2.3), so nothing of the table can
        // fire; the next enable brings every hardware entry up to date before it.
        if (was_enabled) unbind_all();
        return;
    }
    if (!was_enabled) sync_hardware_table();
    write_hardware_control();
    if (!function_masked_) send_pending();
}

void MsixMediator::write_hardware_control() {
    PciConfigSpace& config = services_->config;
    const bool enable = enabled_ && usable_;
    const bool mask = function_masked_ || (enabled_ && !hardware_synced_);
    const u16 control = u16(config.config_read(bdf_, capability_ + kControlOffset, 2));
    const u16 value = u16((control & ~(kEnable | kFunctionMask)) | (enable ? kEnable : 0) | (mask ? kFunctionMask : 0));
    config.config_write(bdf_, capability_ + kControlOffset, 2, value);
}

void MsixMediator::set_location(u64 table_address, u64 pba_address) {
    table_address_ = table_address;
    pba_address_ = pba_address;
    if (table_address_ == 0 && hardware_synced_) {
        // Out of reach (not decoded, or refused): the function mask holds the table.
        hardware_synced_ = false;
        write_hardware_control();
        return;
    }
    if (table_address_ != 0 && enabled_ && !hardware_synced_) {
        sync_hardware_table();
        write_hardware_control();
        if (!function_masked_) send_pending();
    }
}

void MsixMediator::sync_hardware_table() {
    if (table_address_ == 0) {
        hardware_synced_ = false;
        return;
    }
    for (u32 i = 0; i < hardware_entries_; ++i) {
        if (i < visible_entries()) {
            program_entry(i);
        } else {
            mask_hardware_entry(i);
        }
    }
    hardware_synced_ = true;
}

void MsixMediator::program_entry(u32 entry) {
    if (table_address_ == 0) {
        // Out of reach: the function mask holds the whole table until it is back.
        if (hardware_synced_) {
            hardware_synced_ = false;
            write_hardware_control();
        }
        return;
    }
    Entry& e = entries_[entry];
    if (!enabled_ || (e.vector_control & kVectorMasked)) {
        mask_hardware_entry(entry);
        return;
    }
    PassthroughServices& s = *services_;
    if (!e.bound) {
        if (!s.router.bind(bdf_, entry, guest_message(entry), e.host_message)) {
            s.listener.report(bdf_, PassthroughIssue::BindFailed);
            mask_hardware_entry(entry);
            return;
        }
        e.bound = true;
    }
    // Message first, unmask last: the entry never fires half written (6.8.2.9).
    const u64 at = table_address_ + u64(entry) * kEntrySize;
    s.mmio.mmio_write(at + entry_byte(kAddressLow), 4, u32(e.host_message.address));
    s.mmio.mmio_write(at + entry_byte(kAddressHigh), 4, u32(e.host_message.address >> 32));
    s.mmio.mmio_write(at + entry_byte(kData), 4, e.host_message.data);
    s.mmio.mmio_write(at + entry_byte(kVectorControl), 4, 0);
}

void MsixMediator::mask_hardware_entry(u32 entry) {
    services_->mmio.mmio_write(table_address_ + u64(entry) * kEntrySize + entry_byte(kVectorControl), 4, kVectorMasked);
}

MsiMessage MsixMediator::guest_message(u32 entry) const {
    const Entry& e = entries_[entry];
    return MsiMessage{(u64(e.address_high) << 32) | e.address_low, e.data};
}

u32 MsixMediator::entry_dword(u32 entry, u32 index) const {
    const Entry& e = entries_[entry];
    switch (index) {
        case kAddressLow: return e.address_low;
        case kAddressHigh: return e.address_high;
        case kData: return e.data;
        default: return e.vector_control;
    }
}

u64 MsixMediator::table_read(u32 offset, u8 size) const {
    const u32 entry = offset / kEntrySize;
    const u32 index = (offset % kEntrySize) / 4;
    // Entries past the visible table do not exist for dom0.
    if (entry >= visible_entries()) return 0;
    if (size == 8) {
        if (offset % 8) return ~0ull;
        return entry_dword(entry, index) | (u64(entry_dword(entry, index + 1)) << 32);
    }
    if (!pci_access_in_dword(offset, size)) return pci_all_ones(size);
    return pci_lanes_extract(entry_dword(entry, index), offset, size);
}

void MsixMediator::table_write(u32 offset, u8 size, u64 value) {
    const u32 entry = offset / kEntrySize;
    const u32 index = (offset % kEntrySize) / 4;
    if (entry >= visible_entries()) return;
    if (size == 8) {
        if (offset % 8) return;
        // Low dword first: a QWORD write of data and vector control unmasks last.
        write_entry_dword(entry, index, u32(value), ~0u);
        write_entry_dword(entry, index + 1, u32(value >> 32), ~0u);
        return;
    }
    if (!pci_access_in_dword(offset, size)) return;
    write_entry_dword(entry, index, pci_lanes_value(offset, u32(value)), pci_lane_mask(offset, size));
}

void MsixMediator::write_entry_dword(u32 entry, u32 index, u32 value, u32 lanes) {
    Entry& e = entries_[entry];
    switch (index) {
        case kAddressLow: e.address_low = pci_merge_lanes(e.address_low, value, lanes) & kAddressWritable; return;
        case kAddressHigh: e.address_high = pci_merge_lanes(e.address_high, value, lanes); return;
        case kData: e.data = pci_merge_lanes(e.data, value, lanes); return;
        default: break;
    }
    // Vector control: dom0's new message (if any) is in the shadow, where delivery reads
    // it; the hardware keeps the host message.
    e.vector_control = pci_merge_lanes(e.vector_control, value, lanes) & kVectorMasked;
    program_entry(entry);
    if (enabled_ && !function_masked_ && !(e.vector_control & kVectorMasked) && e.pending) {
        e.pending = false;
        send_msi_to_guest(services_->apic, guest_message(entry));
    }
}

u64 MsixMediator::pba_read(u32 offset, u8 size) {
    const u64 hardware = services_->mmio.mmio_read(pba_address_ + offset, size);
    const u32 first = (offset / 8) * 64;
    u64 shadow = 0;
    for (u32 bit = 0; bit < 64 && first + bit < visible_entries(); ++bit) {
        if (entries_[first + bit].pending) shadow |= 1ull << bit;
    }
    return hardware | ((shadow >> (8 * (offset % 8))) & mmio_access_mask(size));
}

void MsixMediator::reset() {
    if (!present()) return;
    enabled_ = false;
    function_masked_ = false;
    write_hardware_control();
    unbind_all();
    for (Entry& e : entries_) e = Entry{};
    hardware_synced_ = false;
}

MsiDelivery MsixMediator::deliver(u32 entry) {
    if (entry >= visible_entries() || !enabled_ || !entries_[entry].bound) return MsiDelivery::Dropped;
    Entry& e = entries_[entry];
    if (function_masked_ || (e.vector_control & kVectorMasked)) {
        e.pending = true;
        return MsiDelivery::HeldPending;
    }
    return send_msi_to_guest(services_->apic, guest_message(entry));
}

void MsixMediator::send_pending() {
    for (u32 i = 0; i < visible_entries(); ++i) {
        Entry& e = entries_[i];
        if (!e.pending || (e.vector_control & kVectorMasked)) continue;
        e.pending = false;
        send_msi_to_guest(services_->apic, guest_message(i));
    }
}

void MsixMediator::unbind_all() {
    for (u32 i = 0; i < visible_entries(); ++i) {
        Entry& e = entries_[i];
        if (e.bound) services_->router.unbind(bdf_, i);
        e.bound = false;
        e.pending = false;
    }
}
