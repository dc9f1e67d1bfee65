// A 16550A UART as the guest sees it (TI PC16550D / NS16550A datasheet): eight byte
// registers at a base port, 16-byte receive FIFO, interrupt identification with the
// datasheet's priorities, modem control loopback, and the PC wiring of the interrupt
// output through MCR.OUT2 to an ISA IRQ.
//
// Transmission is instant: each byte written to THR reaches the UartOutput at once, so
// THR and the transmitter are always empty (LSR.THRE and LSR.TEMT stay set). The THRE
// interrupt still follows the chip's rules (raised when THR becomes empty or when
// IER.ETBEI rises while THR is empty; cleared by reading IIR while it is the reported
// source, or by writing THR), which is what Linux's 8250 driver tests for in
// serial8250_do_startup (UART_BUG_THRE, UART_BUG_TXEN).
//
// Reception has no baud delays either: the character timeout (IIR 0xCx | 0x0C, "at
// least one byte in the FIFO and four character times without activity") counts as
// elapsed as soon as the FIFO holds bytes below the trigger level, so a single typed
// byte reaches an interrupt-driven guest at once.
//
// Ports are absolute: port_read/port_write take the I/O port the guest used
// (base..base+7). Registers are one byte wide; a wider access is split into byte
// accesses to consecutive ports, as the chipset does on the 8-bit bus.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"

class StateWriter;
class StateReader;

// Where transmitted bytes go (the domain's console).
class UartOutput {
public:
    virtual void uart_transmit(u8 byte) = 0;

protected:
    ~UartOutput() = default;
};

class Uart16550 {
public:
    static constexpr u16 kCom1Base = 0x3f8;
    static constexpr u8 kCom1Irq = 4;
    static constexpr u16 kPortCount = 8;
    static constexpr u32 kFifoSize = 16;

    // Register offsets from the base port.
    static constexpr u16 kRbrThr = 0;  // receive buffer / transmit holding (DLAB=0), DLL (DLAB=1)
    static constexpr u16 kIer = 1;     // interrupt enable (DLAB=0), DLM (DLAB=1)
    static constexpr u16 kIirFcr = 2;  // interrupt identification (read) / FIFO control (write)
    static constexpr u16 kLcr = 3;
    static constexpr u16 kMcr = 4;
    static constexpr u16 kLsr = 5;
    static constexpr u16 kMsr = 6;
    static constexpr u16 kScr = 7;

    // Constructing (and reset() on a quiet UART) never calls `lines`: the IRQ line starts low.
    Uart16550(UartOutput& output, InterruptLines& lines, u16 base = kCom1Base, u8 irq = kCom1Irq);

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);

    // Input from the outside world. False (and the byte is not taken) when the receive
    // FIFO is full (one byte with the FIFOs disabled): the caller keeps it and retries
    // after the guest has read; nothing is ever lost to an overrun this way.
    bool receive(u8 byte);
    // A break condition on the line (Linux's SysRq trigger): a zero byte with LSR.BI.
    bool receive_break();
    bool receive_fifo_full() const;

    // Back to the power-on state (datasheet "Reset" column), lowering the IRQ line.
    void reset();

    // The level this UART drives on its IRQ line (after the OUT2 gate).
    bool irq_level() const { return irq_level_; }
    u16 base() const { return base_; }
    u8 irq() const { return irq_; }

    // Save and restore (platform_state_codec.hpp): every register, the divisor latch, the
    // receive FIFO's bytes (oldest first) with the error bits that travel with each, and
    // the armed THRE interrupt. Nothing waits to be sent: a byte written to THR leaves
    // at once. restore() raises no line (the interrupt controllers keep the levels).
    struct State {
        u8 rx_bytes[kFifoSize], rx_errors[kFifoSize];
        u32 rx_count;
        u8 last_rx, ier, fcr, lcr, mcr, lsr_errors, msr, scr, dll, dlm;
        bool thr_interrupt, irq_level;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    struct RxEntry {
        u8 byte;
        u8 errors;  // LSR error bits that travel with this byte (BI, FE, PE)
    };

    u8 read_register(u16 offset);
    void write_register(u16 offset, u8 value);
    void transmit(u8 byte);
    bool push_rx(u8 byte, u8 errors);
    u8 pop_rx();
    void clear_rx();
    void reveal_top_errors();
    u8 line_status() const;
    u8 modem_status_lines() const;
    void update_modem_status();
    u8 pending_interrupt() const;
    void update_irq();
    u32 rx_capacity() const;
    u32 rx_trigger_level() const;

    UartOutput& output_;
    InterruptLines& lines_;
    u16 base_;
    u8 irq_;

    RxEntry rx_[kFifoSize] = {};
    u32 rx_head_ = 0;
    u32 rx_count_ = 0;
    u8 last_rx_ = 0;  // RBR keeps the last byte when the FIFO runs empty

    u8 ier_ = 0;
    u8 fcr_ = 0;  // FIFO enable and trigger level as last programmed
    u8 lcr_ = 0;
    u8 mcr_ = 0;
    u8 lsr_errors_ = 0;  // OE, PE, FE, BI latched until LSR is read
    u8 msr_ = 0;         // line bits 7:4 as last sampled, delta bits 3:0
    u8 scr_ = 0;
    u8 dll_ = 1, dlm_ = 0;
    bool thr_interrupt_ = false;  // the THRE interrupt is armed
    bool irq_level_ = false;
};
