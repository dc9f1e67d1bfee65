#include "kernel/vm/devices/pc/uart16550_model.hpp"

#include "kernel/hot_path.hpp"
#include "kernel/vm/devices/pc/port_access.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
// Register bits, named as in the PC16550D datasheet (section 8).
constexpr u8 kIerRxData = 0x01;       // ERBFI
constexpr u8 kIerThrEmpty = 0x02;     // ETBEI
constexpr u8 kIerLineStatus = 0x04;   // ELSI
constexpr u8 kIerModemStatus = 0x08;  // EDSSI
constexpr u8 kIerWritable = 0x0f;     // bits 7:4 are always 0 on a 16550A

constexpr u8 kIirNone = 0x01;
constexpr u8 kIirModemStatus = 0x00;
constexpr u8 kIirThrEmpty = 0x02;
constexpr u8 kIirRxData = 0x04;
constexpr u8 kIirLineStatus = 0x06;
constexpr u8 kIirCharTimeout = 0x0c;
constexpr u8 kIirFifosEnabled = 0xc0;

constexpr u8 kFcrEnable = 0x01;
constexpr u8 kFcrClearRx = 0x02;
constexpr u8 kFcrKept = 0xc9;  // enable, DMA mode select, receiver trigger (bits 1, 2 self-clear)

constexpr u8 kLcrDlab = 0x80;

constexpr u8 kMcrDtr = 0x01;
constexpr u8 kMcrRts = 0x02;
constexpr u8 kMcrOut1 = 0x04;
constexpr u8 kMcrOut2 = 0x08;
constexpr u8 kMcrLoop = 0x10;
constexpr u8 kMcrWritable = 0x1f;

constexpr u8 kLsrDataReady = 0x01;
constexpr u8 kLsrOverrun = 0x02;
constexpr u8 kLsrBreak = 0x10;
constexpr u8 kLsrErrors = 0x1e;  // OE, PE, FE, BI: the receiver line status interrupt sources
constexpr u8 kLsrThrEmpty = 0x20;
constexpr u8 kLsrTransmitterEmpty = 0x40;
constexpr u8 kLsrFifoError = 0x80;

constexpr u8 kMsrDeltaCts = 0x01;
constexpr u8 kMsrDeltaDsr = 0x02;
constexpr u8 kMsrTrailingRi = 0x04;
constexpr u8 kMsrDeltaDcd = 0x08;
constexpr u8 kMsrDeltas = 0x0f;
constexpr u8 kMsrCts = 0x10;
constexpr u8 kMsrDsr = 0x20;
constexpr u8 kMsrRi = 0x40;
constexpr u8 kMsrDcd = 0x80;
// Outside loopback the other end is always there and ready: CTS, DSR and DCD asserted.
constexpr u8 kMsrPeerReady = kMsrCts | kMsrDsr | kMsrDcd;

constexpr u32 kTriggerLevels[4] = {1, 4, 8, 14};
}  // namespace

Uart16550::Uart16550(UartOutput& output, InterruptLines& lines, u16 base, u8 irq)
    : output_(output), lines_(lines), base_(base), irq_(irq) {
    reset();
}

void Uart16550::reset() {
    rx_head_ = rx_count_ = 0;
    last_rx_ = 0;
    ier_ = fcr_ = lcr_ = mcr_ = 0;
    lsr_errors_ = 0;
    scr_ = 0;
    dll_ = 1;
    dlm_ = 0;
    thr_interrupt_ = false;
    // The lines have been steady since power-on: no deltas to report.
    msr_ = modem_status_lines();
    update_irq();
}

// The UART sits on an 8-bit bus: a wider access becomes byte cycles on consecutive
// ports, least significant first; bytes past the UART's eight ports read as ones.
VIREO_HOT_PATH u32 Uart16550::port_read(u16 port, u8 size) {
    u32 value = 0;
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 offset = u32(port) + i - base_;
        const u8 byte = offset < kPortCount ? read_register(u16(offset)) : 0xff;
        value |= u32(byte) << (8 * i);
    }
    update_irq();
    return value;
}

VIREO_HOT_PATH void Uart16550::port_write(u16 port, u8 size, u32 value) {
    for (u32 i = 0; i < port_access_bytes(size); ++i) {
        const u32 offset = u32(port) + i - base_;
        if (offset < kPortCount) write_register(u16(offset), u8(value >> (8 * i)));
    }
    update_irq();
}

bool Uart16550::receive(u8 byte) {
    // In loopback the receiver listens to the transmitter only (SIN is disconnected).
    if (mcr_ & kMcrLoop) return false;
    const bool taken = push_rx(byte, 0);
    update_irq();
    return taken;
}

bool Uart16550::receive_break() {
    if (mcr_ & kMcrLoop) return false;
    const bool taken = push_rx(0, kLsrBreak);
    update_irq();
    return taken;
}

bool Uart16550::receive_fifo_full() const { return rx_count_ >= rx_capacity(); }

VIREO_HOT_PATH u8 Uart16550::read_register(u16 offset) {
    const bool dlab = lcr_ & kLcrDlab;
    switch (offset) {
        case kRbrThr:
            if (dlab) return dll_;
            return rx_count_ ? pop_rx() : last_rx_;
        case kIer: return dlab ? dlm_ : ier_;
        case kIirFcr: {
            const u8 id = pending_interrupt();
            // Reading IIR acknowledges a THRE interrupt, but only when it is the one shown.
            if (id == kIirThrEmpty) thr_interrupt_ = false;
            return u8(id | ((fcr_ & kFcrEnable) ? kIirFifosEnabled : 0));
        }
        case kLcr: return lcr_;
        case kMcr: return mcr_;
        case kLsr: {
            const u8 value = line_status();
            lsr_errors_ = 0;  // the error bits clear on read; DR and THRE follow the FIFOs
            return value;
        }
        case kMsr: {
            const u8 value = msr_;
            msr_ &= u8(~kMsrDeltas);
            return value;
        }
        default: return scr_;
    }
}

VIREO_HOT_PATH void Uart16550::write_register(u16 offset, u8 value) {
    const bool dlab = lcr_ & kLcrDlab;
    switch (offset) {
        case kRbrThr:
            if (dlab)
                dll_ = value;
            else
                transmit(value);
            break;
        case kIer:
            if (dlab) {
                dlm_ = value;
            } else {
                const u8 enabled = value & kIerWritable;
                // A rising ETBEI with THR empty raises the THRE interrupt even if an IIR
                // read had acknowledged it (Linux's UART_BUG_THRE test relies on it;
                // QEMU and Bochs resample only on the rising edge, as here). THR is
                // always empty in this model.
                if ((enabled ^ ier_) & kIerThrEmpty) thr_interrupt_ = enabled & kIerThrEmpty;
                ier_ = enabled;
            }
            break;
        case kIirFcr: {
            const bool enable = value & kFcrEnable;
            // Changing FCR0 resets both FIFOs; the other bits only take with FCR0 set.
            if (enable != bool(fcr_ & kFcrEnable)) clear_rx();
            if (enable && (value & kFcrClearRx)) clear_rx();
            fcr_ = enable ? u8(value & kFcrKept) : 0;
            break;
        }
        case kLcr: lcr_ = value; break;
        case kMcr:
            mcr_ = value & kMcrWritable;
            update_modem_status();
            break;
        case kScr: scr_ = value; break;
        default: break;  // LSR and MSR writes are for factory testing only
    }
}

VIREO_HOT_PATH void Uart16550::transmit(u8 byte) {
    if (mcr_ & kMcrLoop) {
        // Loopback: the byte goes straight to the receiver, never to the line. A full
        // receiver is an overrun: in FIFO mode the new byte is lost, in 16450 mode it
        // overwrites the holding register.
        if (!push_rx(byte, 0)) {
            lsr_errors_ |= kLsrOverrun;
            if (!(fcr_ & kFcrEnable)) rx_[rx_head_] = {byte, 0};
        }
    } else {
        output_.uart_transmit(byte);
    }
    // Writing THR acknowledged the THRE interrupt; the byte left at once, so THR is
    // empty again and the interrupt is raised anew.
    thr_interrupt_ = true;
}

bool Uart16550::push_rx(u8 byte, u8 errors) {
    if (rx_count_ >= rx_capacity()) return false;
    rx_[(rx_head_ + rx_count_) % kFifoSize] = {byte, errors};
    ++rx_count_;
    if (rx_count_ == 1) reveal_top_errors();
    return true;
}

u8 Uart16550::pop_rx() {
    const u8 byte = rx_[rx_head_].byte;
    rx_head_ = (rx_head_ + 1) % kFifoSize;
    --rx_count_;
    last_rx_ = byte;
    reveal_top_errors();
    return byte;
}

void Uart16550::clear_rx() {
    rx_head_ = 0;
    rx_count_ = 0;
}

// A byte's errors show in LSR (and raise the line status interrupt) when that byte
// reaches the top of the FIFO, not when it arrives (datasheet, LSR bits 2-4).
void Uart16550::reveal_top_errors() {
    if (rx_count_) lsr_errors_ |= rx_[rx_head_].errors;
}

u8 Uart16550::line_status() const {
    u8 value = lsr_errors_ | kLsrThrEmpty | kLsrTransmitterEmpty;
    if (rx_count_) value |= kLsrDataReady;
    if (fcr_ & kFcrEnable) {
        for (u32 i = 0; i < rx_count_; ++i) {
            if (rx_[(rx_head_ + i) % kFifoSize].errors) value |= kLsrFifoError;
        }
    }
    return value;
}

u8 Uart16550::modem_status_lines() const {
    if (!(mcr_ & kMcrLoop)) return kMsrPeerReady;
    // Loopback wires the modem control outputs to the status inputs.
    u8 lines = 0;
    if (mcr_ & kMcrRts) lines |= kMsrCts;
    if (mcr_ & kMcrDtr) lines |= kMsrDsr;
    if (mcr_ & kMcrOut1) lines |= kMsrRi;
    if (mcr_ & kMcrOut2) lines |= kMsrDcd;
    return lines;
}

void Uart16550::update_modem_status() {
    const u8 now = modem_status_lines();
    const u8 changed = u8((msr_ ^ now) & 0xf0);
    u8 deltas = msr_ & kMsrDeltas;
    if (changed & kMsrCts) deltas |= kMsrDeltaCts;
    if (changed & kMsrDsr) deltas |= kMsrDeltaDsr;
    if (changed & kMsrDcd) deltas |= kMsrDeltaDcd;
    if ((changed & kMsrRi) && !(now & kMsrRi)) deltas |= kMsrTrailingRi;  // RI reports its falling edge only
    msr_ = now | deltas;
}

// Highest-priority pending interrupt, as IIR bits 3:0 (datasheet Table 4).
u8 Uart16550::pending_interrupt() const {
    if ((ier_ & kIerLineStatus) && (lsr_errors_ & kLsrErrors)) return kIirLineStatus;
    if ((ier_ & kIerRxData) && rx_count_) {
        if (!(fcr_ & kFcrEnable) || rx_count_ >= rx_trigger_level()) return kIirRxData;
        return kIirCharTimeout;  // below the trigger level: the timeout counts as elapsed
    }
    if ((ier_ & kIerThrEmpty) && thr_interrupt_) return kIirThrEmpty;
    if ((ier_ & kIerModemStatus) && (msr_ & kMsrDeltas)) return kIirModemStatus;
    return kIirNone;
}

void Uart16550::update_irq() {
    // On a PC the INTR output reaches the IRQ line through a buffer enabled by OUT2;
    // loopback forces the OUT2 pin inactive, so nothing reaches the line then.
    const bool level = pending_interrupt() != kIirNone && (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop);
    if (level == irq_level_) return;
    irq_level_ = level;
    lines_.set_isa_irq(irq_, level);
}

u32 Uart16550::rx_capacity() const { return (fcr_ & kFcrEnable) ? kFifoSize : 1; }

u32 Uart16550::rx_trigger_level() const { return kTriggerLevels[fcr_ >> 6]; }

// --- Save and restore ------------------------------------------------------------------

void Uart16550::save(StateWriter& out) const {
    out.put_u32(rx_count_);
    for (u32 i = 0; i < rx_count_; ++i) {
        const RxEntry& e = rx_[(rx_head_ + i) % kFifoSize];
        out.put_u8(e.byte);
        out.put_u8(e.errors);
    }
    out.put_u8(last_rx_);
    out.put_u8(ier_);
    out.put_u8(fcr_);
    out.put_u8(lcr_);
    out.put_u8(mcr_);
    out.put_u8(lsr_errors_);
    out.put_u8(msr_);
    out.put_u8(scr_);
    out.put_u8(dll_);
    out.put_u8(dlm_);
    out.put_bool(thr_interrupt_);
    out.put_bool(irq_level_);
}

bool Uart16550::load(StateReader& in, State& out) const {
    out.rx_count = in.get_u32();
    in.require(out.rx_count <= kFifoSize);
    for (u32 i = 0; i < kFifoSize; ++i) out.rx_bytes[i] = out.rx_errors[i] = 0;
    for (u32 i = 0; i < out.rx_count && i < kFifoSize; ++i) {
        out.rx_bytes[i] = in.get_u8();
        out.rx_errors[i] = in.get_u8();
        // BI, FE and PE travel with a byte; OE belongs to the line (16550D datasheet, LSR).
        in.require((out.rx_errors[i] & ~(kLsrErrors & ~kLsrOverrun)) == 0);
    }
    out.last_rx = in.get_u8();
    out.ier = in.get_u8();
    out.fcr = in.get_u8();
    out.lcr = in.get_u8();
    out.mcr = in.get_u8();
    out.lsr_errors = in.get_u8();
    out.msr = in.get_u8();
    out.scr = in.get_u8();
    out.dll = in.get_u8();
    out.dlm = in.get_u8();
    out.thr_interrupt = in.get_bool();
    out.irq_level = in.get_bool();
    // IER bits 7:4 and MCR bits 7:5 are 0 on a 16550A; FCR keeps only what it stores with
    // the FIFOs enabled, and nothing without; with them disabled the receiver holds one byte.
    in.require((out.ier & ~kIerWritable) == 0 && (out.mcr & ~kMcrWritable) == 0);
    in.require((out.lsr_errors & ~kLsrErrors) == 0);
    in.require(out.fcr == 0 || ((out.fcr & kFcrEnable) && (out.fcr & ~kFcrKept) == 0));
    in.require(out.rx_count <= ((out.fcr & kFcrEnable) ? kFifoSize : 1));
    return !in.failed();
}

void Uart16550::restore(const State& s) {
    rx_head_ = 0;
    rx_count_ = s.rx_count;
    for (u32 i = 0; i < kFifoSize; ++i) rx_[i] = {s.rx_bytes[i], s.rx_errors[i]};
    last_rx_ = s.last_rx;
    ier_ = s.ier;
    fcr_ = s.fcr;
    lcr_ = s.lcr;
    mcr_ = s.mcr;
    lsr_errors_ = s.lsr_errors;
    msr_ = s.msr;
    scr_ = s.scr;
    dll_ = s.dll;
    dlm_ = s.dlm;
    thr_interrupt_ = s.thr_interrupt;
    irq_level_ = s.irq_level;
}
