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
