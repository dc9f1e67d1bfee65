#include "kernel/vm/devices/apic/kvm_pv_ipi.hpp"

#include "kernel/vm/devices/apic/apic_message.hpp"

namespace {

// ICR bits that KVM's kvm_pv_send_ipi refuses (APIC_DEST_MASK, APIC_SHORT_MASK): the
// bitmap names physical APIC IDs, nothing else.
constexpr u64 kRefusedIcrBits = icr_bits::kDestinationModeLogical | (3u << icr_bits::kShorthandShift);

u32 send_cluster(ApicBus& bus, const ApicMessage& message, u64 bitmap, u64 first_id, u32 bits) {
    u32 accepted = 0;
    for (u32 bit = 0; bit < bits; ++bit) {
        if (!(bitmap >> bit & 1)) continue;
        const u64 apic_id = first_id + bit;
        if (apic_id > 0xffffffffull) break;
        accepted += bus.send_to_apic_id(message, u32(apic_id));
    }
    return accepted;
}

}  // namespace

i64 kvm_pv_send_ipi(ApicBus& bus, u64 bitmap_low, u64 bitmap_high, u64 min, u64 icr, bool wide, u32 source_index) {
    if (icr & kRefusedIcrBits) return kKvmEinval;
    ApicMessage message = message_from_icr(u32(icr), 0, true, source_index);
    if (message.delivery_mode != ApicDeliveryMode::Fixed && message.delivery_mode != ApicDeliveryMode::Nmi)
        return kKvmEinval;
    const u32 cluster = wide ? 64 : 32;
    if (!wide) {
        bitmap_low &= 0xffffffffull;
        bitmap_high &= 0xffffffffull;
    }
    min &= 0xffffffffull;  // an APIC ID is 32 bits (KVM takes `min` as a u32)
    return send_cluster(bus, message, bitmap_low, min, cluster) +
           send_cluster(bus, message, bitmap_high, min + cluster, cluster);
}
