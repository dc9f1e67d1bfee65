#include "kernel/vm/devices/apic/virtual_ioapic.hpp"

#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

// Bits of an entry's low dword software writes: vector, delivery mode, destination mode,
// polarity, trigger mode, mask (delivery status and remote IRR are read-only).
constexpr u64 kLowWritable = 0xff | (7u << 8) | (1u << 11) | VirtualIoapic::kEntryActiveLow |
                             VirtualIoapic::kEntryLevelTriggered | VirtualIoapic::kEntryMasked;
// The high dword holds the destination in bits 31:24 (entry bits 63:56).
constexpr u64 kHighWritable = 0xff000000;
constexpr u32 kIdMask = 0x0f000000;  // 4-bit IOAPIC ID in bits 27:24

}  // namespace

VirtualIoapic::VirtualIoapic(ApicMessageSink& bus, u8 version, u8 id, u32 pins)
    : bus_(bus),
      version_(version == 0x20 ? 0x20 : 0x11),
      pins_(pins >= 1 && pins <= kMaxPins ? pins : kPins),
      id_(id & 0xf) {
    reset();
}

void VirtualIoapic::reset() {
    ioregsel_ = 0;
    for (u32 pin = 0; pin < pins_; ++pin) {
        entries_[pin] = kEntryMasked;
        pin_level_[pin] = false;
    }
}

u32 VirtualIoapic::mmio_read(u32 offset) {
    if (offset == kIoRegSel) return ioregsel_;
    if (offset == kIoWin) return read_indirect(ioregsel_);
    return 0;  // includes the write-only EOI register
}

void VirtualIoapic::mmio_write(u32 offset, u32 value) {
    if (offset == kIoRegSel)
        ioregsel_ = u8(value);
    else if (offset == kIoWin)
        write_indirect(ioregsel_, value);
    else if (offset == kEoiRegister && version_ == 0x20)
        eoi(u8(value));
}

u64 VirtualIoapic::mmio_read_sized(u64 offset, u8 size) {
    if (offset >= kMmioSize || size == 0) return 0;
    const u32 in_slot = u32(offset & 0xf);
    if (size == 8 && in_slot == 0) return mmio_read(u32(offset));
    if (in_slot + size > 4) return 0;
    const u32 value = mmio_read(u32(offset & ~0xfull)) >> (in_slot * 8);
    return size == 4 ? value : value & ((1u << (size * 8)) - 1);
}

void VirtualIoapic::mmio_write_sized(u64 offset, u8 size, u64 value) {
    if (offset >= kMmioSize || size == 0 || size > 8) return;
    const u32 low = size >= 4 ? u32(value) : u32(value) & ((1u << (size * 8)) - 1);
    mmio_write(u32(offset), low);
}

u32 VirtualIoapic::read_indirect(u8 index) const {
    switch (index) {
        case kRegId:
        case kRegArbitration: return u32(id_) << 24;  // the arbitration ID follows the ID
        case kRegVersion: return ((pins_ - 1) << 16) | version_;
        default: break;
    }
    if (index < kRegRedirectionTable || index >= kRegRedirectionTable + 2 * pins_) return 0;
    const u64 entry = entries_[(index - kRegRedirectionTable) / 2];
    return (index & 1) ? u32(entry >> 32) : u32(entry);
}

void VirtualIoapic::write_indirect(u8 index, u32 value) {
    if (index == kRegId) {
        id_ = u8((value & kIdMask) >> 24);
        return;
    }
    if (index < kRegRedirectionTable || index >= kRegRedirectionTable + 2 * pins_) return;
    const u8 pin = u8((index - kRegRedirectionTable) / 2);
    u64& entry = entries_[pin];
    if (index & 1) {
        entry = (entry & 0xffffffffull) | ((u64(value) & kHighWritable) << 32);
        return;
    }
    entry = (entry & ~kLowWritable) | (value & kLowWritable);
    // Remote IRR means nothing for edge triggering: switching to edge clears it (Linux
    // relies on this to unstick a level entry on version 0x11, as KVM implements).
    if (!(entry & kEntryLevelTriggered)) entry &= ~kEntryRemoteIrr;
    if (listener_) listener_->pin_programmed(pin, entry);
    service_level(pin);
}

bool VirtualIoapic::asserted(u8 pin) const { return pin_level_[pin] != ((entries_[pin] & kEntryActiveLow) != 0); }

void VirtualIoapic::set_pin(u8 pin, bool level) {
    if (pin >= pins_) return;
    const bool was_asserted = asserted(pin);
    pin_level_[pin] = level;
    if (entries_[pin] & kEntryLevelTriggered)
        service_level(pin);
    else if (asserted(pin) && !was_asserted && !(entries_[pin] & kEntryMasked))
        deliver(pin);
}

// A level entry delivers when unmasked, asserted and not awaiting its EOI.
void VirtualIoapic::service_level(u8 pin) {
    const u64 entry = entries_[pin];
    if (!(entry & kEntryLevelTriggered) || (entry & (kEntryMasked | kEntryRemoteIrr)) || !asserted(pin)) return;
    deliver(pin);
}

void VirtualIoapic::deliver(u8 pin) {
    const u64 entry = entries_[pin];
    ApicMessage message;
    message.vector = u8(entry & 0xff);
    message.delivery_mode = ApicDeliveryMode((entry >> 8) & 7);
    // 011 and 110 are reserved in the redirection entry (datasheet 3.2.4).
    if (message.delivery_mode == ApicDeliveryMode::Reserved3 || message.delivery_mode == ApicDeliveryMode::StartUp)
        return;
    message.destination_mode = (entry & (1u << 11)) ? ApicDestinationMode::Logical : ApicDestinationMode::Physical;
    message.level_triggered = (entry & kEntryLevelTriggered) != 0;
    message.destination = u32(entry >> 56);
    const u32 accepted = bus_.send_message(message);
    // Only fixed and lowest-priority interrupts are EOIed; setting remote IRR for the
    // other modes would block the pin for good.
    const bool eoi_expected =
        message.delivery_mode == ApicDeliveryMode::Fixed || message.delivery_mode == ApicDeliveryMode::LowestPriority;
    if (message.level_triggered && eoi_expected && accepted != 0) entries_[pin] |= kEntryRemoteIrr;
}

void VirtualIoapic::eoi(u8 vector) {
    for (u8 pin = 0; pin < pins_; ++pin) {
        u64& entry = entries_[pin];
        if ((entry & 0xff) != vector || !(entry & kEntryRemoteIrr)) continue;
        entry &= ~kEntryRemoteIrr;
        if (listener_) listener_->pin_eoi(pin);
        service_level(pin);
    }
}

// --- Save and restore ------------------------------------------------------------------

void VirtualIoapic::save(StateWriter& out) const {
    out.put_u8(id_);
    out.put_u8(ioregsel_);
    out.put_u32(pins_);
    for (u32 pin = 0; pin < pins_; ++pin) {
        out.put_u64(entries_[pin]);
        out.put_bool(pin_level_[pin]);
    }
}

bool VirtualIoapic::load(StateReader& in, State& out) const {
    out.id = in.get_u8();
    out.ioregsel = in.get_u8();
    const u32 pins = in.get_u32();
    in.require(pins == pins_);
    for (u32 pin = 0; pin < kMaxPins; ++pin) {
        out.entries[pin] = kEntryMasked;
        out.pin_level[pin] = false;
    }
    constexpr u64 kDefined = kLowWritable | kEntryRemoteIrr | (kHighWritable << 32);
    for (u32 pin = 0; pin < pins && pin < pins_; ++pin) {
        out.entries[pin] = in.get_u64();
        out.pin_level[pin] = in.get_bool();
        in.require((out.entries[pin] & ~kDefined) == 0);
        // Remote IRR exists for level-triggered entries only (datasheet 3.2.4).
        in.require(!(out.entries[pin] & kEntryRemoteIrr) || (out.entries[pin] & kEntryLevelTriggered));
    }
    in.require(out.id <= 0xf);
    return !in.failed();
}

void VirtualIoapic::restore(const State& s) {
    id_ = s.id;
    ioregsel_ = s.ioregsel;
    for (u32 pin = 0; pin < pins_; ++pin) {
        entries_[pin] = s.entries[pin];
        pin_level_[pin] = s.pin_level[pin];
    }
}
