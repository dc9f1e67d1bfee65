#include "drivers/serial16550.hpp"

bool Serial16550::init(u32 baud) {
    io_.out8(base_ + kScratch, 0x5a);
    if (io_.in8(base_ + kScratch) != 0x5a) return false;
    const u32 divisor = 115200 / (baud ? baud : kDefaultBaud);
    io_.out8(base_ + kInterruptEnable, 0x00);
    io_.out8(base_ + kLineControl, kLineControlDlab);
    io_.out8(base_ + kData, u8(divisor & 0xff));
    io_.out8(base_ + kInterruptEnable, u8(divisor >> 8));
    io_.out8(base_ + kLineControl, kLineControl8N1);
    io_.out8(base_ + kFifoControl, 0xc7);   // enable and clear FIFOs, 14-byte threshold
    io_.out8(base_ + kModemControl, 0x03);  // DTR and RTS; OUT2 stays off: no interrupts
    return true;
}

void Serial16550::write_byte(u8 byte) {
    // A bounded wait: a missing or wedged UART must not hang the hypervisor.
    for (u32 spins = 0; spins < 1000000; ++spins) {
        if (io_.in8(base_ + kLineStatus) & kLineStatusTransmitEmpty) break;
    }
    io_.out8(base_ + kData, byte);
}

bool Serial16550::read_byte(u8& byte) {
    if (!(io_.in8(base_ + kLineStatus) & 0x01)) return false;
    byte = io_.in8(base_ + kData);
    return true;
}

void Serial16550::write(const char* text, usize len) {
    for (usize i = 0; i < len; ++i) {
        if (text[i] == '\n') write_byte('\r');
        write_byte(u8(text[i]));
    }
}
