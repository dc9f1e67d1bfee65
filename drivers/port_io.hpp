// The narrow interface to x86 I/O ports. Drivers take a PortIo so that host unit tests
// can drive them with a fake that records every access.
#pragma once

#include "kernel/types.hpp"

class PortIo {
public:
    virtual u8 in8(u16 port) = 0;
    virtual void out8(u16 port, u8 value) = 0;
    virtual u16 in16(u16 port) = 0;
    virtual void out16(u16 port, u16 value) = 0;
    virtual u32 in32(u16 port) = 0;
    virtual void out32(u16 port, u32 value) = 0;

protected:
    ~PortIo() = default;
};
