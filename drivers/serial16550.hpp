// Driver for the 16550 UART used as the hypervisor console (polled transmit; the
// console must work before interrupts do, and inside the panic path).
#pragma once

#include "drivers/port_io.hpp"
#include "kernel/types.hpp"

class Serial16550 {
public:
    static constexpr u32 kDefaultBaud = 115200;

    Serial16550(PortIo& io, u16 base) : io_(io), base_(base) {}

    // Programs 8N1 at `baud`, FIFOs on, interrupts off. Returns false when no UART
    // answers at this base (the scratch register does not hold a value).
    bool init(u32 baud = kDefaultBaud);
    void write_byte(u8 byte);
    // A received byte, if one is waiting (line status bit 0, data ready).
    bool read_byte(u8& byte);
    // Writes `len` bytes, turning "\n" into "\r\n" for terminals.
    void write(const char* text, usize len);
    u16 base() const { return base_; }

    // Register offsets from the base port (PC16550D datasheet, table 2).
    static constexpr u16 kData = 0;
    static constexpr u16 kInterruptEnable = 1;
    static constexpr u16 kFifoControl = 2;
    static constexpr u16 kLineControl = 3;
    static constexpr u16 kModemControl = 4;
    static constexpr u16 kLineStatus = 5;
    static constexpr u16 kScratch = 7;
    static constexpr u8 kLineStatusTransmitEmpty = 0x20;
    static constexpr u8 kLineControlDlab = 0x80;
    static constexpr u8 kLineControl8N1 = 0x03;

private:
    PortIo& io_;
    u16 base_;
};
