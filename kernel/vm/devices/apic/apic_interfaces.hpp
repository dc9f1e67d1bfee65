// What the APIC models need from each other and from the hypervisor, as small interfaces
// so that each model is unit-tested alone with fakes.
//
// Locking: the models have none; the platform holds one per-domain lock around every call
// into any of them (the calls below happen inside such calls, under the same lock).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_message.hpp"

// The APIC bus as its senders see it: local APICs (IPIs) and the IOAPIC hand it messages.
class ApicMessageSink {
public:
    // Returns how many local APICs accepted the message (0 when it matched nobody or every
    // target refused it): the IOAPIC sets remote IRR only when someone accepted.
    virtual u32 send_message(const ApicMessage& message) = 0;

protected:
    ~ApicMessageSink() = default;
};

// A local APIC's EOI broadcast for a level-triggered vector (SDM 11.8.5): the IOAPIC
// clears the remote IRR of the entries with that vector.
class EoiListener {
public:
    virtual void eoi(u8 vector) = 0;

protected:
    ~EoiListener() = default;
};

// Something new arrived for vCPU `index` (an interrupt in IRR, NMI, INIT, SIPI, an
// ExtINT): the hypervisor wakes it if it is blocked (HLT) or kicks it out of the guest if
// it runs elsewhere. May be called for the vCPU that is running the current exit.
class ApicWakeup {
public:
    virtual void wake_vcpu(u32 index) = 0;

protected:
    ~ApicWakeup() = default;
};

// The 8259A pair as the local APIC sees it through LINT0 in ExtINT mode (virtual-wire
// mode, SDM 11.5.1; MP spec 3.6.2.2): ExtINT vectors come from the PIC's INTA cycle, not
// from the APIC, and bypass its priority logic.
class ExtIntSource {
public:
    // The PIC's INTR output is high.
    virtual bool extint_pending() const = 0;
    // The INTA cycle: the PIC moves its highest request to in-service and returns its
    // vector (the PIC's spurious vector when the request went away).
    virtual u8 extint_acknowledge() = 0;

protected:
    ~ExtIntSource() = default;
};

// The guest's time-stamp counter as the TSC-deadline timer (SDM 11.5.4.1) needs it: when,
// in GuestClock nanoseconds, the guest's TSC reaches a value. An interface rather than a
// frequency because only the hypervisor knows the guest's TSC offset (and it changes when
// the guest writes IA32_TSC); LinearGuestTsc (apic_time.hpp) is the usual implementation.
class GuestTsc {
public:
    // The earliest device time at which the guest's TSC is >= tsc (a time at or before
    // now when it already is).
    virtual u64 ns_when_tsc_reaches(u64 tsc) const = 0;

protected:
    ~GuestTsc() = default;
};
