#include "kernel/vm/devices/pc/i8042_model.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
constexpr u8 kCmdReadRam = 0x20;   // 0x20-0x3F
constexpr u8 kCmdWriteRam = 0x60;  // 0x60-0x7F
constexpr u8 kCmdDisableAux = 0xa7;
constexpr u8 kCmdEnableAux = 0xa8;
constexpr u8 kCmdTestAux = 0xa9;
constexpr u8 kCmdSelfTest = 0xaa;
constexpr u8 kCmdTestKeyboard = 0xab;
constexpr u8 kCmdDisableKeyboard = 0xad;
constexpr u8 kCmdEnableKeyboard = 0xae;
constexpr u8 kCmdReadInputPort = 0xc0;
constexpr u8 kCmdReadOutputPort = 0xd0;
constexpr u8 kCmdWriteOutputPort = 0xd1;
constexpr u8 kCmdEchoKeyboard = 0xd2;
constexpr u8 kCmdEchoAux = 0xd3;
constexpr u8 kCmdWriteAux = 0xd4;
constexpr u8 kCmdPulseOutputPort = 0xf0;  // 0xF0-0xFF: bits 3:0 clear = pulse that bit low

constexpr u8 kSelfTestPassed = 0x55;
constexpr u8 kInterfaceOk = 0x00;
constexpr u8 kNoDeviceReply = 0xfe;  // with the timeout bit: nothing answered on the wire

// Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate, bits 4/5
// follow the output buffer (they are the IRQ 1/12 pins), the rest are pulled high.
constexpr u8 kOutputPortReset = 0x01;
constexpr u8 kOutputPortDefault = 0xcf;  // reset inactive, A20 on (as QEMU)
constexpr u8 kOutputPortKeyboardFull = 0x10;
constexpr u8 kOutputPortAuxFull = 0x20;
// Input port: keyboard not inhibited (bit 7), nothing else of note.
constexpr u8 kInputPortDefault = 0x80;
}  // namespace

I8042::I8042(PlatformControl& platform, InterruptLines& lines) : platform_(platform), lines_(lines) { reset(); }

void I8042::reset() {
    for (u8& byte : ram_) byte = 0;
    ram_[0] = kCtrDefault;
    output_ = 0;
    output_full_ = output_aux_ = timeout_ = false;
    last_was_command_ = false;
    pending_command_ = 0;
    output_port_ = kOutputPortDefault;
    update_irqs();
}

u32 I8042::port_read(u16 port, u8 size) {
    if (port == kStatusPort) {
        u8 status = kStatusNotInhibited | (ram_[0] & kCtrSystemFlag);  // input buffer always empty
        if (output_full_) status |= kStatusOutputFull;
        if (output_full_ && output_aux_) status |= kStatusAuxData;
        if (timeout_) status |= kStatusTimeout;
        if (last_was_command_) status |= kStatusLastWasCommand;
        return byte_register_read(status, size);
    }
    if (port == kDataPort) {
        // Reading takes the byte out of the buffer; reading again repeats it.
        output_full_ = false;
        timeout_ = false;
        update_irqs();
        return byte_register_read(output_, size);
    }
    return port_access_mask(size);
}

void I8042::port_write(u16 port, u8, u32 value) {
    const u8 byte = u8(value);
    if (port == kStatusPort) {
        last_was_command_ = true;
        pending_command_ = 0;  // a new command abandons one still waiting for its parameter
        command(byte);
    } else if (port == kDataPort) {
        last_was_command_ = false;
        const u8 cmd = pending_command_;
        pending_command_ = 0;
        if (cmd)
            command_parameter(cmd, byte);
        else
            queue(kNoDeviceReply, false, true);  // a byte for the keyboard, which is not there
    }
    update_irqs();
}

void I8042::command(u8 cmd) {
    if (cmd >= kCmdReadRam && cmd < kCmdReadRam + 0x20) {
        queue(ram_[cmd - kCmdReadRam], false);
        return;
    }
    if (cmd >= kCmdWriteRam && cmd < kCmdWriteRam + 0x20) {
        pending_command_ = cmd;
        return;
    }
    if (cmd >= kCmdPulseOutputPort) {
        if (!(cmd & kOutputPortReset)) platform_.request_reset();
        return;
    }
    switch (cmd) {
        case kCmdDisableAux: ram_[0] |= kCtrAuxDisabled; break;
        case kCmdEnableAux: ram_[0] &= u8(~kCtrAuxDisabled); break;
        case kCmdTestAux: queue(kInterfaceOk, false); break;
        case kCmdSelfTest:
            ram_[0] |= kCtrSystemFlag;  // a passed self-test sets the system flag
            queue(kSelfTestPassed, false);
            break;
        case kCmdTestKeyboard: queue(kInterfaceOk, false); break;
        case kCmdDisableKeyboard: ram_[0] |= kCtrKeyboardDisabled; break;
        case kCmdEnableKeyboard: ram_[0] &= u8(~kCtrKeyboardDisabled); break;
        case kCmdReadInputPort: queue(kInputPortDefault, false); break;
        case kCmdReadOutputPort: {
            u8 value = output_port_ & u8(~(kOutputPortKeyboardFull | kOutputPortAuxFull));
            if (output_full_) value |= output_aux_ ? kOutputPortAuxFull : kOutputPortKeyboardFull;
            queue(value, false);
            break;
        }
        case kCmdWriteOutputPort:
        case kCmdEchoKeyboard:
        case kCmdEchoAux:
        case kCmdWriteAux: pending_command_ = cmd; break;
        default: break;  // unknown or vendor-specific: ignored, as an 8042 does
    }
}

void I8042::command_parameter(u8 cmd, u8 value) {
    if (cmd >= kCmdWriteRam && cmd < kCmdWriteRam + 0x20) {
        ram_[cmd - kCmdWriteRam] = value;
        return;
    }
    switch (cmd) {
        case kCmdWriteOutputPort: write_output_port(value); break;
        case kCmdEchoKeyboard: queue(value, false); break;
        case kCmdEchoAux: queue(value, true); break;
        case kCmdWriteAux: queue(kNoDeviceReply, true, true); break;  // no mouse attached
        default: break;
    }
}

void I8042::write_output_port(u8 value) {
    output_port_ = value;
    if (!(value & kOutputPortReset)) platform_.request_reset();  // bit 0 low holds the CPU in reset
}

// One byte deep: a new byte replaces one the guest has not read, as command replies do
// on the real controller.
void I8042::queue(u8 byte, bool aux, bool timeout) {
    output_ = byte;
    output_full_ = true;
    output_aux_ = aux;
    timeout_ = timeout;
}

void I8042::update_irqs() {
    const bool keyboard = output_full_ && !output_aux_ && (ram_[0] & kCtrKeyboardInterrupt);
    const bool aux = output_full_ && output_aux_ && (ram_[0] & kCtrAuxInterrupt);
    if (keyboard != keyboard_irq_) {
        keyboard_irq_ = keyboard;
        lines_.set_isa_irq(kKeyboardIrq, keyboard);
    }
    if (aux != aux_irq_) {
        aux_irq_ = aux;
        lines_.set_isa_irq(kAuxIrq, aux);
    }
}

// --- Save and restore ------------------------------------------------------------------

void I8042::save(StateWriter& out) const {
    out.put_bytes(ram_, sizeof(ram_));
    out.put_u8(output_);
    out.put_bool(output_full_);
    out.put_bool(output_aux_);
    out.put_bool(timeout_);
    out.put_bool(last_was_command_);
    out.put_u8(pending_command_);
    out.put_u8(output_port_);
    out.put_bool(keyboard_irq_);
    out.put_bool(aux_irq_);
}

bool I8042::load(StateReader& in, State& out) const {
    in.get_bytes(out.ram, sizeof(out.ram));
    out.output = in.get_u8();
    out.output_full = in.get_bool();
    out.output_aux = in.get_bool();
    out.timeout = in.get_bool();
    out.last_was_command = in.get_bool();
    out.pending_command = in.get_u8();
    out.output_port = in.get_u8();
    out.keyboard_irq = in.get_bool();
    out.aux_irq = in.get_bool();
    // Only the commands that take a byte on port 0x60 ever wait for one.
    const u8 c = out.pending_command;
    in.require(c == 0 || (c >= kCmdWriteRam && c < kCmdWriteRam + 0x20) || c == kCmdWriteOutputPort ||
               c == kCmdEchoKeyboard || c == kCmdEchoAux || c == kCmdWriteAux);
    return !in.failed();
}

void I8042::restore(const State& s) {
    for (usize i = 0; i < sizeof(ram_); ++i) ram_[i] = s.ram[i];
    output_ = s.output;
    output_full_ = s.output_full;
    output_aux_ = s.output_aux;
    timeout_ = s.timeout;
    last_was_command_ = s.last_was_command;
    pending_command_ = s.pending_command;
    output_port_ = s.output_port;
    keyboard_irq_ = s.keyboard_irq;
    aux_irq_ = s.aux_irq;
}
