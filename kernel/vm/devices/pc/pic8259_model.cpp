#include "kernel/vm/devices/pc/pic8259_model.hpp"

#include "kernel/hot_path.hpp"
#include "kernel/vm/devices/pc/isa_port_access.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

// ICW1 (A0 = 0, D4 = 1).
constexpr u8 kIcw1Marker = 0x10;
constexpr u8 kIcw1NeedsIcw4 = 0x01;
constexpr u8 kIcw1Single = 0x02;
constexpr u8 kIcw1LevelTriggered = 0x08;  // LTIM
// ICW4.
constexpr u8 kIcw4AutoEoi = 0x02;
constexpr u8 kIcw4SpecialFullyNested = 0x10;
// OCW3 (A0 = 0, D4 = 0, D3 = 1).
constexpr u8 kOcw3Marker = 0x08;
constexpr u8 kOcw3ReadIsr = 0x01;       // RIS
constexpr u8 kOcw3ReadRegister = 0x02;  // RR: RIS is valid
constexpr u8 kOcw3Poll = 0x04;
constexpr u8 kOcw3SpecialMask = 0x20;     // SMM
constexpr u8 kOcw3SetSpecialMask = 0x40;  // ESMM: SMM is valid
// The poll word's "an interrupt is pending" bit (8259A datasheet, "Poll Command").
constexpr u8 kPollInterrupt = 0x80;
constexpr u8 kSpuriousPin = 7;

// ICH9 13.4.2/13.4.3: ELCR1 bits 0-2 (IRQ 0, 1, 2) and ELCR2 bits 0 and 5 (IRQ 8 and 13)
// are reserved as 0: those inputs are always edge triggered.
constexpr u8 kElcrMasterWritable = 0xf8;
constexpr u8 kElcrSlaveWritable = 0xde;

}  // namespace

void Pic8259Chip::set_input(u8 pin, bool level) {
    const u8 bit = u8(1u << (pin & 7));
    const bool was_high = pin_levels_ & bit;
    if (level) {
        pin_levels_ |= bit;
        // Edge mode latches a low-to-high transition; level mode below tracks the pin.
        if (!was_high) irr_ |= bit;
    } else {
        pin_levels_ &= u8(~bit);
    }
    refresh_level_requests();
}

void Pic8259Chip::refresh_level_requests() {
    const u8 level = level_triggered_pins();
    irr_ = u8((irr_ & ~level) | (pin_levels_ & level));
}

u8 Pic8259Chip::priority_of_highest(u8 bits) const {
    for (u8 priority = 0; priority < 8; ++priority) {
        if (bits & (1u << ((priority + highest_priority_pin_) & 7))) return priority;
    }
    return 8;
}

VIREO_HOT_PATH int Pic8259Chip::highest_unserviced_request() const {
    const u8 requests = irr_ & u8(~imr_);
    const u8 request_priority = priority_of_highest(requests);
    if (request_priority == 8) return -1;
    // In special mask mode a masked in-service level stops blocking lower priorities;
    // in special fully nested mode the master lets a slave interrupt the slave's own
    // in-service cascade input (8259A datasheet, "Special Mask Mode", "Special Fully
    // Nested Mode").
    u8 in_service = isr_;
    if (special_mask_) in_service &= u8(~imr_);
    if (special_fully_nested_ && is_master_) in_service &= u8(~(1u << Pic8259Pair::kCascadePin));
    if (request_priority >= priority_of_highest(in_service)) return -1;
    return (request_priority + highest_priority_pin_) & 7;
}

int Pic8259Chip::highest_in_service() const {
    const u8 priority = priority_of_highest(isr_);
    return priority == 8 ? -1 : (priority + highest_priority_pin_) & 7;
}

void Pic8259Chip::acknowledge_pin(u8 pin) {
    const u8 bit = u8(1u << pin);
    if (auto_eoi_) {
        // AEOI performs the EOI at the end of the INTA sequence; with rotation the
        // serviced IR becomes the lowest priority.
        if (rotate_on_auto_eoi_) highest_priority_pin_ = (pin + 1) & 7;
    } else {
        isr_ |= bit;
    }
    // The request is consumed; a level-triggered one stays set while its pin is high.
    irr_ &= u8(~bit);
    refresh_level_requests();
}

void Pic8259Chip::end_of_interrupt(u8 ocw2) {
    const bool rotate = ocw2 & 0x80;
    const bool specific = ocw2 & 0x40;
    const bool eoi = ocw2 & 0x20;
    const u8 level = ocw2 & 7;
    // 8259A datasheet, "Operation Command Word 2" (R SL EOI).
    if (eoi) {
        const int pin = specific ? level : highest_in_service();
        if (pin < 0) return;  // non-specific EOI with nothing in service
        isr_ &= u8(~(1u << pin));
        if (rotate) highest_priority_pin_ = (pin + 1) & 7;
    } else if (specific) {
        if (rotate) highest_priority_pin_ = (level + 1) & 7;  // set priority: L lowest
        // R=0 SL=1 EOI=0 is the no-operation command.
    } else {
        rotate_on_auto_eoi_ = rotate;  // set/clear rotate in automatic EOI mode
    }
}

void Pic8259Chip::write_command(u8 value) {
    if (value & kIcw1Marker) {
        // ICW1 starts initialization (8259A datasheet, "Initialization Command Words"):
        // the edge sense circuit is reset (a pin already high must go low and high again
        // to request), IMR is cleared, IR7 gets the lowest priority, special mask mode is
        // cleared and status read is set to IRR, and without IC4 every ICW4 function is 0.
        icw4_expected_ = value & kIcw1NeedsIcw4;
        single_mode_ = value & kIcw1Single;
        level_triggered_all_ = value & kIcw1LevelTriggered;
        imr_ = 0;
        isr_ = 0;
        irr_ = 0;
        refresh_level_requests();
        highest_priority_pin_ = 0;
        special_mask_ = false;
        read_isr_ = false;
        poll_pending_ = false;
        auto_eoi_ = false;
        rotate_on_auto_eoi_ = false;
        special_fully_nested_ = false;
        init_step_ = InitStep::kExpectIcw2;
        return;
    }
    // An OCW in the middle of an ICW sequence is executed as an OCW; the sequence
    // continues with the next data-port write (QEMU and Bochs do the same).
    if (value & kOcw3Marker) {
        if (value & kOcw3Poll) poll_pending_ = true;
        if (value & kOcw3ReadRegister) read_isr_ = value & kOcw3ReadIsr;
        if (value & kOcw3SetSpecialMask) special_mask_ = value & kOcw3SpecialMask;
        return;
    }
    end_of_interrupt(value);
}

void Pic8259Chip::write_data(u8 value) {
    switch (init_step_) {
        case InitStep::kReady: imr_ = value; return;  // OCW1
        case InitStep::kExpectIcw2:
            // x86 mode: T7-T3 of the vector come from ICW2, the IR number fills T2-T0.
            vector_base_ = value & 0xf8;
            if (!single_mode_)
                init_step_ = InitStep::kExpectIcw3;
            else
                init_step_ = icw4_expected_ ? InitStep::kExpectIcw4 : InitStep::kReady;
            return;
        case InitStep::kExpectIcw3:
            // The slave bitmap (master) or ID (slave): the wiring here is fixed, the
            // slave always sits on the master's IR2, so the value only advances the step.
            init_step_ = icw4_expected_ ? InitStep::kExpectIcw4 : InitStep::kReady;
            return;
        case InitStep::kExpectIcw4:
            // uPM (8086 mode) is assumed: vectors are always x86-style. BUF and M/S do
            // not matter to a model whose wiring is fixed.
            auto_eoi_ = value & kIcw4AutoEoi;
            special_fully_nested_ = value & kIcw4SpecialFullyNested;
            init_step_ = InitStep::kReady;
            return;
    }
}

u8 Pic8259Chip::poll() {
    // The poll word: bit 7 set when a request is pending, bits 2-0 its level; reading it
    // acts as the INTA cycle (8259A datasheet, "Poll Command").
    const int pin = highest_unserviced_request();
    if (pin < 0) return 0;
    acknowledge_pin(u8(pin));
    return u8(kPollInterrupt | pin);
}

u8 Pic8259Chip::read_command() {
    if (poll_pending_) {
        poll_pending_ = false;
        return poll();
    }
    return read_isr_ ? isr_ : irr_;
}

u8 Pic8259Chip::read_data() {
    // The poll word is returned by the next read of either port.
    if (poll_pending_) {
        poll_pending_ = false;
        return poll();
    }
    return imr_;
}

Pic8259Pair::Pic8259Pair() : master_(true, kElcrMasterWritable), slave_(false, kElcrSlaveWritable) {}

void Pic8259Pair::set_irq(u8 irq, bool level) {
    if (irq < 8) {
        if (irq == kCascadePin) return;
        master_.set_input(irq, level);
    } else if (irq < 16) {
        slave_.set_input(irq - 8, level);
        propagate_cascade();
    }
}

u8 Pic8259Pair::acknowledge() {
    const int master_pin = master_.highest_unserviced_request();
    if (master_pin < 0) {
        // The request went away (its level pin dropped, or it was masked) between INT
        // and INTA: the 8259A answers with IR7's vector and sets no ISR bit.
        return master_.vector_for(kSpuriousPin);
    }
    if (master_pin == kCascadePin && !master_.single_mode()) {
        u8 vector;
        // The master's INTA selects the slave, which supplies the vector. A slave whose
        // request vanished answers with its own IR7 (IRQ 15) while the master still
        // marks IR2 in service, so the handler's EOI to the master balances it.
        const int slave_pin = slave_.highest_unserviced_request();
        if (slave_pin >= 0) {
            slave_.acknowledge_pin(u8(slave_pin));
            vector = slave_.vector_for(u8(slave_pin));
        } else {
            vector = slave_.vector_for(kSpuriousPin);
        }
        master_.acknowledge_pin(kCascadePin);
        // The slave's INT drops during its INTA cycle; if it still has a request that may
        // be serviced (auto-EOI, special mask mode), it rises again: a fresh edge on IR2.
        master_.set_input(kCascadePin, false);
        propagate_cascade();
        return vector;
    }
    master_.acknowledge_pin(u8(master_pin));
    return master_.vector_for(u8(master_pin));
}

u8 Pic8259Pair::read_byte(u16 port) {
    u8 value;
    switch (port) {
        case kMasterCommandPort: return master_.read_command();
        case kMasterDataPort: return master_.read_data();
        case kSlaveCommandPort: value = slave_.read_command(); break;
        case kSlaveDataPort: value = slave_.read_data(); break;
        case kElcrMasterPort: return master_.read_elcr();
        case kElcrSlavePort: return slave_.read_elcr();
        default: return 0xff;
    }
    propagate_cascade();  // a poll read is the slave's INTA
    return value;
}

void Pic8259Pair::write_byte(u16 port, u8 value) {
    switch (port) {
        case kMasterCommandPort: master_.write_command(value); return;
        case kMasterDataPort: master_.write_data(value); return;
        case kSlaveCommandPort: slave_.write_command(value); break;
        case kSlaveDataPort: slave_.write_data(value); break;
        case kElcrMasterPort: master_.write_elcr(value); return;
        case kElcrSlavePort: slave_.write_elcr(value); break;
        default: return;
    }
    propagate_cascade();
}

u32 Pic8259Pair::port_read(u16 port, u8 size) {
    return isa_split_read(port, size, [this](u16 byte_port) { return read_byte(byte_port); });
}

void Pic8259Pair::port_write(u16 port, u8 size, u32 value) {
    isa_split_write(port, size, value, [this](u16 byte_port, u8 byte) { write_byte(byte_port, byte); });
}

// --- Save and restore ------------------------------------------------------------------

void Pic8259Chip::save(StateWriter& out) const {
    out.put_u8(irr_);
    out.put_u8(isr_);
    out.put_u8(imr_);
    out.put_u8(pin_levels_);
    out.put_u8(elcr_);
    out.put_u8(vector_base_);
    out.put_u8(highest_priority_pin_);
    out.put_u8(u8(init_step_));
    out.put_bool(icw4_expected_);
    out.put_bool(single_mode_);
    out.put_bool(level_triggered_all_);
    out.put_bool(auto_eoi_);
    out.put_bool(rotate_on_auto_eoi_);
    out.put_bool(special_fully_nested_);
    out.put_bool(special_mask_);
    out.put_bool(read_isr_);
    out.put_bool(poll_pending_);
}

bool Pic8259Chip::load(StateReader& in, State& out) const {
    out.irr = in.get_u8();
    out.isr = in.get_u8();
    out.imr = in.get_u8();
    out.pin_levels = in.get_u8();
    out.elcr = in.get_u8();
    out.vector_base = in.get_u8();
    out.highest_priority_pin = in.get_u8();
    out.init_step = in.get_u8();
    out.icw4_expected = in.get_bool();
    out.single_mode = in.get_bool();
    out.level_triggered_all = in.get_bool();
    out.auto_eoi = in.get_bool();
    out.rotate_on_auto_eoi = in.get_bool();
    out.special_fully_nested = in.get_bool();
    out.special_mask = in.get_bool();
    out.read_isr = in.get_bool();
    out.poll_pending = in.get_bool();
    // ELCR's reserved bits (ICH9 13.4.2/13.4.3) are 0; ICW2 sets only T7-T3 (8259A
    // datasheet, ICW2); a priority rotation names one of 8 pins.
    in.require((out.elcr & ~elcr_writable_mask_) == 0);
    in.require((out.vector_base & 7) == 0);
    in.require(out.highest_priority_pin < 8);
    in.require(out.init_step <= u8(InitStep::kExpectIcw4));
    return !in.failed();
}

void Pic8259Chip::restore(const State& s) {
    irr_ = s.irr;
    isr_ = s.isr;
    imr_ = s.imr;
    pin_levels_ = s.pin_levels;
    elcr_ = s.elcr;
    vector_base_ = s.vector_base;
    highest_priority_pin_ = s.highest_priority_pin;
    init_step_ = InitStep(s.init_step);
    icw4_expected_ = s.icw4_expected;
    single_mode_ = s.single_mode;
    level_triggered_all_ = s.level_triggered_all;
    auto_eoi_ = s.auto_eoi;
    rotate_on_auto_eoi_ = s.rotate_on_auto_eoi;
    special_fully_nested_ = s.special_fully_nested;
    special_mask_ = s.special_mask;
    read_isr_ = s.read_isr;
    poll_pending_ = s.poll_pending;
}

void Pic8259Pair::save(StateWriter& out) const {
    master_.save(out);
    slave_.save(out);
}

bool Pic8259Pair::load(StateReader& in, State& out) const {
    const bool master = master_.load(in, out.master);
    return slave_.load(in, out.slave) && master;
}

void Pic8259Pair::restore(const State& state) {
    master_.restore(state.master);
    slave_.restore(state.slave);
}
