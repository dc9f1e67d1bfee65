#include "kernel/vm/devices/apic/apic_bus.hpp"

bool ApicBus::attach(u32 index, VirtualLapic& lapic) {
    if (index >= kMaxLapics || lapics_[index]) return false;
    lapics_[index] = &lapic;
    lapic.connect(this, wakeup_, index);
    return true;
}

bool ApicBus::matches_destination(const ApicMessage& message, const VirtualLapic& lapic) {
    const u32 destination = message.destination;
    const bool logical = message.destination_mode == ApicDestinationMode::Logical;
    if (destination == ApicMessage::kX2apicBroadcast) return true;
    if (lapic.x2apic_mode()) {
        if (!message.x2apic_destination && destination == ApicMessage::kXapicBroadcast) return true;
        if (!logical) return destination == lapic.apic_id();
        const u32 ldr = lapic.ldr();
        return (ldr >> 16) == (destination >> 16) && (ldr & destination & 0xffff) != 0;
    }
    // An xAPIC sees 8-bit destinations; a wider x2APIC one (mixed modes, which the
    // architecture does not support) matches nothing.
    if (destination > 0xff) return false;
    if (destination == ApicMessage::kXapicBroadcast) return true;
    if (!logical) return destination == (lapic.apic_id() & 0xff);
    const u32 logical_id = lapic.ldr() >> 24;
    switch (lapic.dfr() >> 28) {
        case 0xf: return (logical_id & destination) != 0;
        case 0x0: return (logical_id >> 4) == (destination >> 4) && (logical_id & destination & 0xf) != 0;
        default: return false;
    }
}

bool ApicBus::is_target(const ApicMessage& message, u32 index) const {
    const VirtualLapic* lapic = lapics_[index];
    if (!lapic || !lapic->hw_enabled()) return false;
    switch (message.shorthand) {
        case ApicShorthand::None: return matches_destination(message, *lapic);
        case ApicShorthand::Self: return index == message.source_index;
        case ApicShorthand::AllIncludingSelf: return true;
        case ApicShorthand::AllExcludingSelf: return index != message.source_index;
    }
    return false;
}

// The matched, software-enabled APIC with the lowest PPR; among equals the first after
// the previous winner, so that equal-priority CPUs share the load. kMaxLapics if none.
u32 ApicBus::pick_lowest_priority(const ApicMessage& message) {
    u32 chosen = kMaxLapics;
    for (u32 step = 1; step <= kMaxLapics; ++step) {
        const u32 index = (last_lowest_priority_ + step) % kMaxLapics;
        if (!is_target(message, index) || !lapics_[index]->sw_enabled()) continue;
        if (chosen == kMaxLapics || lapics_[index]->ppr() < lapics_[chosen]->ppr()) chosen = index;
    }
    if (chosen != kMaxLapics) last_lowest_priority_ = chosen;
    return chosen;
}

bool ApicBus::deliver(const ApicMessage& message, VirtualLapic& lapic) {
    switch (message.delivery_mode) {
        case ApicDeliveryMode::Fixed:
        case ApicDeliveryMode::LowestPriority: return lapic.accept_fixed(message.vector, message.level_triggered);
        case ApicDeliveryMode::Nmi: return lapic.accept_nmi();
        case ApicDeliveryMode::Init: return lapic.accept_init();
        case ApicDeliveryMode::StartUp: return lapic.accept_sipi(message.vector);
        case ApicDeliveryMode::ExtInt: return lapic.accept_extint();
        case ApicDeliveryMode::Smi:  // no SMM in the guest
        case ApicDeliveryMode::Reserved3: return false;
    }
    return false;
}

u32 ApicBus::send_message(const ApicMessage& message) {
    if (is_init_level_deassert(message)) return 0;
    if (message.delivery_mode == ApicDeliveryMode::Smi || message.delivery_mode == ApicDeliveryMode::Reserved3)
        return 0;
    if (message.delivery_mode == ApicDeliveryMode::LowestPriority) {
        const u32 index = pick_lowest_priority(message);
        return index != kMaxLapics && deliver(message, *lapics_[index]) ? 1 : 0;
    }
    // Targets are chosen before any delivery: delivering INIT to the sender resets it,
    // which must not change who else receives the message.
    bool targets[kMaxLapics] = {};
    for (u32 index = 0; index < kMaxLapics; ++index) targets[index] = is_target(message, index);
    u32 accepted = 0;
    for (u32 index = 0; index < kMaxLapics; ++index) {
        if (targets[index] && deliver(message, *lapics_[index])) ++accepted;
    }
    return accepted;
}

u32 ApicBus::send_to_apic_id(const ApicMessage& message, u32 apic_id) {
    if (message.delivery_mode != ApicDeliveryMode::Fixed && message.delivery_mode != ApicDeliveryMode::Nmi) return 0;
    for (VirtualLapic* lapic : lapics_) {
        if (lapic && lapic->hw_enabled() && lapic->apic_id() == apic_id) return deliver(message, *lapic) ? 1 : 0;
    }
    return 0;
}
