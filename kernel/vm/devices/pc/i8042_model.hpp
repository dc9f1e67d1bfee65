// A PS/2 keyboard controller (Intel 8042 / 82C42PE command set, as in the PIIX4/ICH
// LPC "keyboard controller" interface) with both its keyboard and auxiliary ports
// empty: it exists so that Linux's i8042 probe finds a controller that answers quickly
// and so that the two classic reset paths work, command 0xFE (pulse output port bit 0,
// the CPU reset line) and command 0xD1 writing the output port with bit 0 clear. Both
// become PlatformControl::request_reset().
//
// Port 0x60 is the data port (read: output buffer; write: a command's parameter or a
// byte for the keyboard); port 0x64 reads the status register and takes commands.
// The status register reports "output buffer full" only while a byte is queued, and
// the input buffer is always empty because writes are consumed at once, so no
// polling loop on the guest's side can spin forever. Commands implemented: 0x20-0x3F
// read controller RAM (0x20: command byte), 0x60-0x7F write it, 0xA7/0xA8 disable/
// enable the aux port, 0xA9 aux interface test (0x00: ok), 0xAA self-test (0x55),
// 0xAB keyboard interface test (0x00: ok), 0xAD/0xAE disable/enable the keyboard,
// 0xC0 read input port, 0xD0/0xD1 read/write output port, 0xD2/0xD3 echo a byte as
// keyboard/aux data (Linux's aux loopback probe), 0xD4 write to the aux device,
// 0xF0-0xFF pulse output port bits. Anything else is ignored.
//
// A byte sent to either device finds nothing: the controller answers with 0xFE and
// the status register's timeout bit, which Linux's libps2 treats as a failed command
// at once instead of waiting for its own timeout.
//
// The output buffer drives IRQ 1 (keyboard data, command byte bit 0) or IRQ 12 (aux
// data, command byte bit 1) while full, as the 8042's OBF pins do. Ports are absolute;
// registers are one byte wide (wider accesses use the low byte and read ones above).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"
#include "kernel/vm/devices/pc/platform_control.hpp"

class StateWriter;
class StateReader;

class I8042 {
public:
    static constexpr u16 kDataPort = 0x60;
    static constexpr u16 kStatusPort = 0x64;  // status on read, command on write
    static constexpr u8 kKeyboardIrq = 1;
    static constexpr u8 kAuxIrq = 12;

    // Status register bits.
    static constexpr u8 kStatusOutputFull = 0x01;
    static constexpr u8 kStatusInputFull = 0x02;
    static constexpr u8 kStatusSystemFlag = 0x04;
    static constexpr u8 kStatusLastWasCommand = 0x08;
    static constexpr u8 kStatusNotInhibited = 0x10;
    static constexpr u8 kStatusAuxData = 0x20;
    static constexpr u8 kStatusTimeout = 0x40;

    // Command byte (controller RAM byte 0) bits.
    static constexpr u8 kCtrKeyboardInterrupt = 0x01;
    static constexpr u8 kCtrAuxInterrupt = 0x02;
    static constexpr u8 kCtrSystemFlag = 0x04;
    static constexpr u8 kCtrKeyboardDisabled = 0x10;
    static constexpr u8 kCtrAuxDisabled = 0x20;
    static constexpr u8 kCtrTranslate = 0x40;
    // As a PC BIOS leaves it: keyboard interrupt, POST passed, aux off, translation.
    static constexpr u8 kCtrDefault = kCtrKeyboardInterrupt | kCtrSystemFlag | kCtrAuxDisabled | kCtrTranslate;

    // Constructing never calls `lines` or `platform`: both IRQs start low.
    I8042(PlatformControl& platform, InterruptLines& lines);

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // Power-on state (empty output buffer, default command byte), IRQs lowered.
    void reset();

    u8 command_byte() const { return ram_[0]; }

    // Save and restore (platform_state_codec.hpp): the controller RAM, the output buffer
    // and its flags, a command waiting for its parameter, the output port and the two
    // IRQ levels (which the interrupt controllers keep: restore() raises no line).
    struct State {
        u8 ram[32];
        u8 output, pending_command, output_port;
        bool output_full, output_aux, timeout, last_was_command, keyboard_irq, aux_irq;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    void command(u8 cmd);
    void command_parameter(u8 cmd, u8 value);
    void queue(u8 byte, bool aux, bool timeout = false);
    void write_output_port(u8 value);
    void update_irqs();

    PlatformControl& platform_;
    InterruptLines& lines_;

    u8 ram_[32] = {};  // controller RAM; byte 0 is the command byte
    u8 output_ = 0;    // output buffer (keeps its last byte once read)
    bool output_full_ = false;
    bool output_aux_ = false;  // the queued byte came from the aux side
    bool timeout_ = false;
    bool last_was_command_ = false;
    u8 pending_command_ = 0;  // a command waiting for its parameter on port 0x60, or 0
    u8 output_port_ = 0;
    bool keyboard_irq_ = false;
    bool aux_irq_ = false;
};
