// The guest's I/O APIC: an Intel 82093AA with 24 pins (82093AA datasheet, 3.0-3.2; Intel
// SDM vol. 3A, 11.11 for the message format; ICH/PCH datasheets for version 0x20's EOI
// register). Pins are GSIs 0-23; redirected interrupts go to the ApicBus as ApicMessages.
//
// Version: 0x11 by default (register 1 reads 0x00170011: 24 entries), as KVM's in-kernel
// IOAPIC: Linux drives it without the EOI register (it clears a stuck remote IRR by
// toggling the trigger mode, which this model honours), and the local APICs then need
// not offer EOI-broadcast suppression. Version 0x20 adds the EOI register at +0x40 for a
// platform whose local APICs advertise suppression (LapicConfig::eoi_broadcast_suppression).
//
// Pins: `set_pin(pin, level)` gives the electrical level; polarity (bit 13) says which
// level is asserted. Edge-triggered entries deliver on each rising edge of the asserted
// state while unmasked (an edge while masked is lost). Level-triggered entries deliver
// while asserted, unmasked and remote IRR is clear; remote IRR is set when a local APIC
// accepts the message and cleared by an EOI for its vector (LAPIC broadcast or the EOI
// register), after which a still-asserted pin delivers again; unmasking an asserted level
// pin delivers. Delivery happens only on those events, so a guest cannot make it loop.
// Fixed/lowest-priority entries with vectors below 16 reach the local APICs, which flag
// them in ESR and refuse them (no remote IRR); the reserved delivery modes 011 and 110
// deliver nothing.
//
// Calls: mmio_* from the vCPU that accesses the IOAPIC page, set_pin from devices,
// eoi from local APICs; all under the platform's per-domain lock.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_interfaces.hpp"

class StateWriter;
class StateReader;

// A platform whose pins follow real interrupt lines (Domain-0's) hears what the guest
// programs and when it EOIs a level-triggered entry.
class IoapicPinListener {
public:
    // The guest wrote the low dword of `pin`'s entry (mask, trigger or polarity may have
    // changed).
    virtual void pin_programmed(u8 pin, u64 entry) = 0;
    // An EOI cleared `pin`'s remote IRR; called before the model looks at the pin again,
    // so the listener may first take the pin down (set_pin) until the real line fires anew.
    virtual void pin_eoi(u8 pin) = 0;

protected:
    ~IoapicPinListener() = default;
};

class VirtualIoapic final : public EoiListener {
public:
    static constexpr u32 kPins = 24;
    // A platform may give it more pins (Domain-0's has Vireo's event line beyond the
    // machine's 24; register 1 says how many, which is how Linux counts them).
    static constexpr u32 kMaxPins = 32;
    static constexpr u64 kDefaultBase = 0xfec00000;
    static constexpr u32 kMmioSize = 0x100;  // the window KVM claims: IOREGSEL, IOWIN, EOI
    static constexpr u32 kIoRegSel = 0x00;
    static constexpr u32 kIoWin = 0x10;
    static constexpr u32 kEoiRegister = 0x40;  // version 0x20 only

    // Indirect registers (IOREGSEL values) and redirection-entry bits (datasheet 3.2).
    static constexpr u8 kRegId = 0x00;
    static constexpr u8 kRegVersion = 0x01;
    static constexpr u8 kRegArbitration = 0x02;
    static constexpr u8 kRegRedirectionTable = 0x10;  // entry n: low 0x10+2n, high 0x11+2n
    static constexpr u64 kEntryDeliveryStatus = 1ull << 12;
    static constexpr u64 kEntryActiveLow = 1ull << 13;
    static constexpr u64 kEntryRemoteIrr = 1ull << 14;
    static constexpr u64 kEntryLevelTriggered = 1ull << 15;
    static constexpr u64 kEntryMasked = 1ull << 16;

    // `version` is 0x11 or 0x20 (anything else means 0x11); `id` the IOAPIC ID (4 bits)
    // the MADT announces; `pins` 1 to kMaxPins (outside: kPins).
    explicit VirtualIoapic(ApicMessageSink& bus, u8 version = 0x11, u8 id = 0, u32 pins = kPins);
    u32 pins() const { return pins_; }

    // Power-up: every entry masked, all pins low.
    void reset();

    // 32-bit accesses at the register offsets (IOREGSEL, IOWIN, EOI); other offsets read 0
    // and ignore writes.
    u32 mmio_read(u32 offset);
    void mmio_write(u32 offset, u32 value);
    // Any size, as MmioDevice passes it: reads of 1, 2 or 4 bytes within a register's first
    // dword return those bytes (8 bytes: the register in the low half); writes of any size
    // at a register's offset write its low bytes zero-extended, elsewhere are ignored.
    u64 mmio_read_sized(u64 offset, u8 size);
    void mmio_write_sized(u64 offset, u8 size, u64 value);

    // The electrical level of input `pin` (ignored beyond its pins).
    void set_pin(u8 pin, bool level);
    bool pin_level(u8 pin) const { return pin < pins_ && pin_level_[pin]; }

    // A local APIC's EOI broadcast (and the EOI register): clears remote IRR of the entries
    // with this vector and re-delivers those whose pin is still asserted.
    void eoi(u8 vector) override;

    u64 redirection_entry(u8 pin) const { return pin < pins_ ? entries_[pin] : 0; }
    // The level that asserts `pin` as it is programmed now (polarity, bit 13).
    bool asserted_level(u8 pin) const { return pin >= pins_ || !(entries_[pin] & kEntryActiveLow); }
    void set_pin_listener(IoapicPinListener* listener) { listener_ = listener; }
    u8 version() const { return version_; }

    // Save and restore (platform_state_codec.hpp): the ID, IOREGSEL, the pin count and
    // each pin's redirection entry (82093AA datasheet 3.2.4, with its remote IRR) and
    // input level. load() refuses another pin count and entries with reserved bits set
    // (bits 55:17, or delivery status, which this model never sets); restore() delivers
    // nothing (a pending level is delivered again at its EOI, as before the save).
    struct State {
        u8 id, ioregsel;
        u64 entries[kMaxPins];
        bool pin_level[kMaxPins];
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    u32 read_indirect(u8 index) const;
    void write_indirect(u8 index, u32 value);
    bool asserted(u8 pin) const;
    void service_level(u8 pin);
    void deliver(u8 pin);

    ApicMessageSink& bus_;
    IoapicPinListener* listener_ = nullptr;
    const u8 version_;
    const u32 pins_;
    u8 id_;
    u8 ioregsel_ = 0;
    u64 entries_[kMaxPins] = {};
    bool pin_level_[kMaxPins] = {};
};
