// The guest's APIC bus (Intel SDM vol. 3A, 11.6.2-11.6.3; AMD APM vol. 2, 16.5-16.6):
// routes each ApicMessage (IPIs, IOAPIC interrupts, MSIs) to the local APICs its
// destination and shorthand select, and hands it to the method of each that matches the
// delivery mode. Wake-ups reach the hypervisor through each VirtualLapic's ApicWakeup,
// which attach() wires to the bus's.
//
// Destinations (matching in the receiving APIC's mode, as KVM does):
//  - physical: APIC ID; 0xFF is broadcast to xAPICs and, for 8-bit (IOAPIC/MSI/xAPIC
//    ICR) messages, to x2APICs too; 0xFFFFFFFF is the x2APIC broadcast;
//  - logical xAPIC: flat (DFR model 1111b: LDR[31:24] AND destination) or cluster (DFR
//    model 0000b: cluster in bits 7:4 equal, member bits 3:0 intersecting); 0xFF is
//    broadcast; any other DFR model matches nothing;
//  - logical x2APIC (SDM 11.12.10.2): LDR[31:16] equal to destination[31:16] and
//    LDR[15:0] AND destination[15:0] non-zero;
//  - shorthands self / all including self / all excluding self use the source index.
// Lowest priority (SDM 11.6.2.4) delivers to one target: the lowest PPR among the
// matched, software-enabled APICs, ties broken round robin after the previous winner;
// focus-processor checking is not modelled. Hardware-disabled APICs receive nothing.
// SMI, the reserved delivery mode and INIT level de-assert are dropped.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_interfaces.hpp"
#include "kernel/vm/devices/apic/virtual_lapic.hpp"

class ApicBus final : public ApicMessageSink {
public:
    static constexpr u32 kMaxLapics = 8;

    explicit ApicBus(ApicWakeup* wakeup) : wakeup_(wakeup) {}

    // Puts `lapic` in slot `index` (its vCPU index) and wires it to this bus. False when
    // the index is out of range or the slot is taken.
    bool attach(u32 index, VirtualLapic& lapic);
    VirtualLapic* lapic(u32 index) const { return index < kMaxLapics ? lapics_[index] : nullptr; }

    // Returns how many local APICs accepted the message.
    u32 send_message(const ApicMessage& message) override;
    // The message (fixed or NMI) to the hardware-enabled local APIC whose APIC ID is
    // `apic_id`, in whichever mode it is: no broadcast, logical or shorthand matching
    // (KVM's PV send-IPI names APIC IDs: kvm_pv_ipi.hpp). 1 when it took the message.
    u32 send_to_apic_id(const ApicMessage& message, u32 apic_id);

    // Whether `lapic` is in the message's destination (shorthands aside).
    static bool matches_destination(const ApicMessage& message, const VirtualLapic& lapic);

private:
    bool is_target(const ApicMessage& message, u32 index) const;
    u32 pick_lowest_priority(const ApicMessage& message);
    static bool deliver(const ApicMessage& message, VirtualLapic& lapic);

    ApicWakeup* wakeup_;
    VirtualLapic* lapics_[kMaxLapics] = {};
    u32 last_lowest_priority_ = kMaxLapics - 1;
};
