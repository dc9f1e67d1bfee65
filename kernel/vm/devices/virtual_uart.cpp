#include "kernel/vm/devices/virtual_uart.hpp"

#include "kernel/domain/domain.hpp"

namespace {
constexpr u8 kDlab = 0x80;
constexpr u8 kLineStatusIdle = 0x60;  // transmitter holding register and shift register empty
constexpr u8 kNoInterruptPending = 0x01;
constexpr u8 kModemStatusReady = 0xb0;  // CTS, DSR, DCD
}  // namespace

u32 VirtualUart::io_read(Vcpu&, u16 port, u8) {
    const bool dlab = line_control_ & kDlab;
    switch (port - kCom1) {
        case 0: return dlab ? divisor_low_ : 0;  // nothing to receive
        case 1: return dlab ? divisor_high_ : interrupt_enable_;
        case 2: return kNoInterruptPending;
        case 3: return line_control_;
        case 4: return modem_control_;
        case 5: return kLineStatusIdle;
        case 6: return kModemStatusReady;
        default: return scratch_;
    }
}

void VirtualUart::io_write(Vcpu&, u16 port, u8, u32 value) {
    const u8 byte = u8(value);
    const bool dlab = line_control_ & kDlab;
    switch (port - kCom1) {
        case 0:
            if (dlab)
                divisor_low_ = byte;
            else
                domain_console_write(domain_, reinterpret_cast<const char*>(&byte), 1);
            break;
        case 1:
            if (dlab)
                divisor_high_ = byte;
            else
                interrupt_enable_ = byte & 0x0f;
            break;
        case 3: line_control_ = byte; break;
        case 4: modem_control_ = byte & 0x1f; break;
        case 7: scratch_ = byte; break;
        default: break;  // FIFO control and the read-only status registers
    }
}
