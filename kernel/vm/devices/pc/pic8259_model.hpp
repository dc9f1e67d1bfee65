// The PC's two cascaded 8259A programmable interrupt controllers (master at 0x20/0x21,
// slave at 0xa0/0xa1, the slave's INT wired to the master's IR2) and the ICH's
// edge/level control registers (ELCR, 0x4d0/0x4d1). Pure model: the platform feeds the
// ISA IRQ lines in with set_irq(), looks at the master's INT pin with
// interrupt_pending(), and runs the CPU's interrupt-acknowledge cycle with acknowledge()
// when it injects the interrupt (ExtINT through LINT0, or a virtual-wire PIC mode).
//
// References: Intel 8259A datasheet (231468), "Interrupt Sequence", "Programming the
// 8259A" (ICW1-ICW4, OCW1-OCW3), "Edge and Level Triggered Modes", "The Special Mask
// Mode", "Poll Command", "Cascading"; Intel ICH9 datasheet (316972) 5.9 "8259
// Interrupt Controllers" and 13.4 (ELCR1/ELCR2).
#pragma once

#include "kernel/types.hpp"

class StateWriter;
class StateReader;

// One 8259A. Its IR pins are inputs; its INT pin is int_output().
class Pic8259Chip {
public:
    explicit Pic8259Chip(bool is_master, u8 elcr_writable_mask)
        : is_master_(is_master), elcr_writable_mask_(elcr_writable_mask) {}

    // Drives IR `pin` (0-7): a rising edge latches IRR in edge mode; in level mode IRR
    // follows the pin.
    void set_input(u8 pin, bool level);
    bool int_output() const { return highest_unserviced_request() >= 0; }
    // The IR pin that INTA would service now, or -1 (nothing, or it is masked or of
    // lower priority than what is in service).
    int highest_unserviced_request() const;
    // The INTA cycle's bookkeeping for `pin`: sets ISR (unless auto-EOI) and clears the
    // edge-latched IRR bit.
    void acknowledge_pin(u8 pin);
    u8 vector_for(u8 pin) const { return u8(vector_base_ | pin); }
    bool single_mode() const { return single_mode_; }

    void write_command(u8 value);  // A0 = 0: ICW1, OCW2, OCW3
    void write_data(u8 value);     // A0 = 1: ICW2-ICW4 during initialization, else OCW1
    u8 read_command();             // IRR or ISR (OCW3), or the poll word
    u8 read_data();                // IMR (or the poll word)
    void write_elcr(u8 value) {
        elcr_ = value & elcr_writable_mask_;
        refresh_level_requests();
    }
    u8 read_elcr() const { return elcr_; }

    u8 irr() const { return irr_; }
    u8 isr() const { return isr_; }
    u8 imr() const { return imr_; }

    // Save and restore (platform_state_codec.hpp): every register and the initialization
    // and OCW3 state, explicit fields. load() checks a saved state against this chip
    // without changing it; restore() makes a loaded one the chip's.
    struct State {
        u8 irr, isr, imr, pin_levels, elcr, vector_base, highest_priority_pin, init_step;
        bool icw4_expected, single_mode, level_triggered_all, auto_eoi, rotate_on_auto_eoi, special_fully_nested,
            special_mask, read_isr, poll_pending;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    enum class InitStep : u8 { kReady, kExpectIcw2, kExpectIcw3, kExpectIcw4 };

    u8 level_triggered_pins() const { return level_triggered_all_ ? 0xff : elcr_; }
    // In level mode IRR mirrors the pins (a request that went away is gone).
    void refresh_level_requests();
    // Position (0 = highest) of the highest-priority bit of `bits` under the current
    // rotation, or 8 when `bits` is empty.
    u8 priority_of_highest(u8 bits) const;
    int highest_in_service() const;
    void end_of_interrupt(u8 ocw2);
    u8 poll();

    const bool is_master_;
    const u8 elcr_writable_mask_;
    u8 irr_ = 0;
    u8 isr_ = 0;
    // Undefined after power-on per the datasheet; all masked is the safe choice until
    // the guest's ICW1 (which clears it) and OCW1.
    u8 imr_ = 0xff;
    u8 pin_levels_ = 0;
    u8 elcr_ = 0;
    u8 vector_base_ = 0;
    u8 highest_priority_pin_ = 0;  // rotation: this IR has priority 0, IR-1 priority 7
    InitStep init_step_ = InitStep::kReady;
    bool icw4_expected_ = false;
    bool single_mode_ = false;
    bool level_triggered_all_ = false;  // ICW1.LTIM
    bool auto_eoi_ = false;
    bool rotate_on_auto_eoi_ = false;
    bool special_fully_nested_ = false;
    bool special_mask_ = false;
    bool read_isr_ = false;
    bool poll_pending_ = false;
};

class Pic8259Pair {
public:
    static constexpr u16 kMasterCommandPort = 0x20;
    static constexpr u16 kMasterDataPort = 0x21;
    static constexpr u16 kSlaveCommandPort = 0xa0;
    static constexpr u16 kSlaveDataPort = 0xa1;
    static constexpr u16 kElcrMasterPort = 0x4d0;
    static constexpr u16 kElcrSlavePort = 0x4d1;
    static constexpr u8 kCascadePin = 2;

    Pic8259Pair();

    // Byte accesses to the ports above; wider accesses are split into byte cycles on
    // consecutive ports. Other ports read as 0xff and ignore writes.
    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // ISA IRQ `irq` (0-15) now at `level`. IRQ 2 is the cascade and has no ISA pin (the
    // bus's IRQ2 line is wired to IRQ 9): it is ignored, as are numbers above 15.
    void set_irq(u8 irq, bool level);
    // The master's INT pin.
    bool interrupt_pending() const { return master_.int_output(); }
    // The INTA cycle: the vector of the highest-priority request (resolving the cascade),
    // or the spurious IR7 vector of the chip whose request vanished. The master's IR2 is
    // edge triggered (ELCR1 bit 2 is fixed 0), so once it latched the slave's INT, a slave
    // request that goes away before INTA yields IRQ 15's vector with the master's IR2 in
    // service, which the guest's EOI to the master clears (as on QEMU and Bochs).
    //
    // Edge-triggered inputs keep their latched request after the pin falls: ISA sources
    // here signal an edge as a raise-then-lower pulse (device_interfaces.hpp), so the
    // datasheet's "IR must stay high until INTA" cannot apply to them.
    u8 acknowledge();

    const Pic8259Chip& master() const { return master_; }
    const Pic8259Chip& slave() const { return slave_; }

    // Save and restore: the master's state, then the slave's.
    struct State {
        Pic8259Chip::State master, slave;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    u8 read_byte(u16 port);
    void write_byte(u16 port, u8 value);
    // The slave's INT pin drives the master's IR2.
    void propagate_cascade() { master_.set_input(kCascadePin, slave_.int_output()); }

    Pic8259Chip master_;
    Pic8259Chip slave_;
};
