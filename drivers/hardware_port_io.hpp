// PortIo on the real processor (kernel only).
#pragma once

#include "drivers/port_io.hpp"
#include "kernel/x86/instructions.hpp"

class HardwarePortIo final : public PortIo {
public:
    u8 in8(u16 port) override { return x86::inb(port); }
    void out8(u16 port, u8 value) override { x86::outb(port, value); }
    u16 in16(u16 port) override { return x86::inw(port); }
    void out16(u16 port, u16 value) override { x86::outw(port, value); }
    u32 in32(u16 port) override { return x86::inl(port); }
    void out32(u16 port, u32 value) override { x86::outl(port, value); }

    static HardwarePortIo& instance();
};

// A real port access of `size` bytes (1, 2 or 4), as an intercepted guest access gives it
// (Domain-0's ports that go through to the hardware).
inline u32 hardware_port_read(u16 port, u8 size) {
    return size == 1 ? x86::inb(port) : size == 2 ? x86::inw(port) : x86::inl(port);
}
inline void hardware_port_write(u16 port, u8 size, u32 value) {
    if (size == 1)
        x86::outb(port, u8(value));
    else if (size == 2)
        x86::outw(port, u16(value));
    else
        x86::outl(port, value);
}
