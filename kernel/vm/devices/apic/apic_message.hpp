// The messages that travel between the guest's interrupt controllers over the (virtual)
// APIC bus: IPIs from a local APIC's ICR, redirected interrupts from the IOAPIC, and
// MSIs. One structure serves all of them so that the bus routes them with one set of
// rules (Intel SDM vol. 3A, 11.6.1 and 11.6.2; 82093AA datasheet, 3.2.4).
#pragma once

#include "kernel/types.hpp"

// The delivery-mode field, with its hardware encoding (ICR bits 10:8, IOAPIC
// redirection-entry bits 10:8, MSI data bits 10:8). INIT level de-assert is INIT with the
// level bit clear and level trigger (see is_init_level_deassert).
enum class ApicDeliveryMode : u8 {
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Reserved3 = 3,
    Nmi = 4,
    Init = 5,
    StartUp = 6,  // reserved in the IOAPIC and MSI encodings
    ExtInt = 7,
};

enum class ApicDestinationMode : u8 { Physical = 0, Logical = 1 };

// ICR bits 19:18 (SDM 11.6.1). Only the ICR has them; IOAPIC messages use None.
enum class ApicShorthand : u8 { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

struct ApicMessage {
    // source_index for messages that no local APIC sent (IOAPIC, MSI).
    static constexpr u32 kNoSource = ~0u;
    // Physical broadcast destinations (SDM 11.6.2.1, 11.12.9).
    static constexpr u32 kXapicBroadcast = 0xff;
    static constexpr u32 kX2apicBroadcast = ~0u;

    u8 vector = 0;
    ApicDeliveryMode delivery_mode = ApicDeliveryMode::Fixed;
    ApicDestinationMode destination_mode = ApicDestinationMode::Physical;
    ApicShorthand shorthand = ApicShorthand::None;
    // Trigger mode: true for level. IPIs are always edge except INIT level de-assert (SDM
    // 11.6.1: the trigger bit is ignored for the other modes), so the ICR decoder keeps the
    // bit only for INIT.
    bool level_triggered = false;
    // The ICR level bit (14): clear only in INIT level de-assert. IOAPIC/MSI: set.
    bool level_asserted = true;
    // True when `destination` is a 32-bit x2APIC destination (ICR written in x2APIC mode);
    // false for the 8-bit destinations of the xAPIC ICR, the IOAPIC and MSIs.
    bool x2apic_destination = false;
    u32 destination = 0;
    // The bus index of the sending local APIC (needed by Self and AllExcludingSelf).
    u32 source_index = kNoSource;
};

// INIT level de-assert (SDM 11.6.1): Linux still sends it after INIT on old CPUs; P4 and
// later ignore it, and so does the bus.
constexpr bool is_init_level_deassert(const ApicMessage& message) {
    return message.delivery_mode == ApicDeliveryMode::Init && message.level_triggered && !message.level_asserted;
}

// ICR fields (SDM 11.6.1, Figure 11-12). `destination` is ICR[63:56] in xAPIC mode and
// ICR[63:32] in x2APIC mode (SDM 11.12.9).
namespace icr_bits {
inline constexpr u32 kVectorMask = 0xff;
inline constexpr u32 kDeliveryModeShift = 8;
inline constexpr u32 kDestinationModeLogical = 1u << 11;
inline constexpr u32 kDeliveryStatus = 1u << 12;
inline constexpr u32 kLevelAssert = 1u << 14;
inline constexpr u32 kTriggerLevel = 1u << 15;
inline constexpr u32 kShorthandShift = 18;
// The bits the xAPIC ICR low word stores; all others are reserved.
inline constexpr u32 kWritableLow =
    0xff | (7u << 8) | kDestinationModeLogical | kLevelAssert | kTriggerLevel | (3u << kShorthandShift);
}  // namespace icr_bits

constexpr ApicMessage message_from_icr(u32 icr_low, u32 destination, bool x2apic, u32 source_index) {
    ApicMessage message;
    message.vector = u8(icr_low & icr_bits::kVectorMask);
    message.delivery_mode = ApicDeliveryMode((icr_low >> icr_bits::kDeliveryModeShift) & 7);
    message.destination_mode =
        (icr_low & icr_bits::kDestinationModeLogical) ? ApicDestinationMode::Logical : ApicDestinationMode::Physical;
    message.shorthand = ApicShorthand((icr_low >> icr_bits::kShorthandShift) & 3);
    message.level_asserted = (icr_low & icr_bits::kLevelAssert) != 0;
    message.level_triggered =
        message.delivery_mode == ApicDeliveryMode::Init && (icr_low & icr_bits::kTriggerLevel) != 0;
    message.x2apic_destination = x2apic;
    message.destination = destination;
    message.source_index = source_index;
    return message;
}

// Whether an MSI address reaches the processors' local APICs: bits 31:20 are 0xFEE and
// the upper half is 0 (SDM 11.11.1). Any other address makes the "MSI" an ordinary
// memory write of the data, which no APIC sees.
constexpr bool msi_address_is_interrupt(u64 address) { return (address >> 20) == 0xfee; }

// An MSI (SDM 11.11): address 0xFEExxxxx with the destination in bits 19:12 and the
// destination mode in bit 2; data with vector, delivery mode and trigger like the ICR.
// The redirection hint (address bit 3) is ignored: the message goes to the whole
// destination set (or, for lowest priority, to the bus's choice among it).
constexpr ApicMessage message_from_msi(u64 address, u32 data) {
    ApicMessage message;
    message.vector = u8(data & 0xff);
    message.delivery_mode = ApicDeliveryMode((data >> 8) & 7);
    message.destination_mode = (address & (1u << 2)) ? ApicDestinationMode::Logical : ApicDestinationMode::Physical;
    message.level_triggered = (data & (1u << 15)) != 0;
    message.level_asserted = true;
    message.destination = u32((address >> 12) & 0xff);
    return message;
}
