#include "kernel/vm/devices/pc/uart16550_model.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

constexpr u16 kBase = Uart16550::kCom1Base;
constexpr u16 kRbr = kBase + 0, kThr = kBase + 0, kDll = kBase + 0, kIer = kBase + 1, kDlm = kBase + 1;
constexpr u16 kIir = kBase + 2, kFcr = kBase + 2, kLcr = kBase + 3, kMcr = kBase + 4, kLsr = kBase + 5;
constexpr u16 kMsr = kBase + 6, kScr = kBase + 7;

// Register values as Linux's include/uapi/linux/serial_reg.h names them.
constexpr u8 kIerRdi = 0x01, kIerThri = 0x02, kIerRlsi = 0x04, kIerMsi = 0x08;
constexpr u8 kIirNoInt = 0x01, kIirMsi = 0x00, kIirThri = 0x02, kIirRdi = 0x04, kIirRlsi = 0x06, kIirTimeout = 0x0c;
constexpr u8 kIirFifos = 0xc0;
constexpr u8 kFcrEnable = 0x01, kFcrClearRx = 0x02, kFcrClearTx = 0x04, kFcrTrigger8 = 0x80;
constexpr u8 kLcrDlab = 0x80, kLcrWlen8 = 0x03;
constexpr u8 kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr u8 kLsrDr = 0x01, kLsrOe = 0x02, kLsrBi = 0x10, kLsrThre = 0x20, kLsrTemt = 0x40, kLsrFifoErr = 0x80;
constexpr u8 kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08;
constexpr u8 kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

class RecordingOutput final : public UartOutput {
public:
    void uart_transmit(u8 byte) override { sent.push_back(char(byte)); }
    std::string sent;
};

class RecordingLines final : public InterruptLines {
public:
    void set_isa_irq(u8 irq, bool high) override {
        changes.push_back({irq, high});
        level[irq] = high;
    }
    struct Change {
        u8 irq;
        bool high;
    };
    std::vector<Change> changes;
    bool level[16] = {};
};

struct Fixture {
    RecordingOutput out;
    RecordingLines lines;
    Uart16550 uart{out, lines};

    u8 in(u16 port) { return u8(uart.port_read(port, 1)); }
    void out8(u16 port, u8 value) { uart.port_write(port, 1, value); }
    bool irq() const { return lines.level[Uart16550::kCom1Irq]; }
    // What serial8250_do_startup and set_termios leave: 8N1, OUT2 (IRQ enabled on a PC),
    // DTR/RTS, FIFOs on with an 8-byte trigger.
    void linux_setup() {
        out8(kLcr, kLcrWlen8);
        out8(kMcr, kMcrDtr | kMcrRts | kMcrOut2);
        out8(kFcr, kFcrEnable | kFcrClearRx | kFcrClearTx | kFcrTrigger8);
    }
};

TEST(Uart16550Model, PowerOnState) {
    Fixture f;
    EXPECT_EQ(f.in(kIer), 0);
    EXPECT_EQ(f.in(kIir), kIirNoInt);
    EXPECT_EQ(f.in(kLcr), 0);
    EXPECT_EQ(f.in(kMcr), 0);
    EXPECT_EQ(f.in(kLsr), kLsrThre | kLsrTemt);
    EXPECT_EQ(f.in(kMsr), kMsrCts | kMsrDsr | kMsrDcd);  // peer ready, no deltas
    EXPECT_TRUE(f.lines.changes.empty());
}

TEST(Uart16550Model, ScratchRegisterTest) {
    // serial8250's "scratch register" presence check writes and reads back patterns.
    Fixture f;
    for (u8 value : {0xa5, 0x5a, 0x00, 0xff}) {
        f.out8(kScr, value);
        EXPECT_EQ(f.in(kScr), value);
    }
}

TEST(Uart16550Model, IerProbeSeesOnlyLowNibble) {
    // autoconfig(): IER=0 reads 0, IER=0x0F reads 0x0F; bits 7:4 never stick on a 16550A
    // (autoconfig_16550a would take a sticky UUE bit 6 for an XScale UART).
    Fixture f;
    f.out8(kIer, 0);
    EXPECT_EQ(f.in(kIer)&0x0f, 0);
    f.out8(kIer, 0x0f);
    EXPECT_EQ(f.in(kIer)&0x0f, 0x0f);
    f.out8(kIer, 0xff);
    EXPECT_EQ(f.in(kIer), 0x0f);
}

TEST(Uart16550Model, LinuxLoopbackTest) {
    // autoconfig(): MCR = LOOP | OUT2 | RTS, then MSR & 0xF0 must be DCD | CTS.
    Fixture f;
    f.out8(kMcr, kMcrLoop | kMcrOut2 | kMcrRts);
    EXPECT_EQ(f.in(kMsr)&0xf0, kMsrDcd | kMsrCts);
    f.out8(kMcr, 0);
    EXPECT_EQ(f.in(kMsr)&0xf0, kMsrCts | kMsrDsr | kMsrDcd);
}

TEST(Uart16550Model, LoopbackMapsEachOutputAndReportsDeltas) {
    Fixture f;
    f.out8(kMcr, kMcrLoop | kMcrDtr | kMcrRts | kMcrOut1 | kMcrOut2);
    EXPECT_EQ(f.in(kMsr), kMsrCts | kMsrDsr | kMsrRi | kMsrDcd);  // no line changed level
    f.out8(kMcr, kMcrLoop | kMcrOut1);
    EXPECT_EQ(f.in(kMsr), kMsrRi | kMsrDcts | kMsrDdsr | kMsrDdcd);
    EXPECT_EQ(f.in(kMsr), kMsrRi);  // reading cleared the deltas
    f.out8(kMcr, kMcrLoop);
    EXPECT_EQ(f.in(kMsr), kMsrTeri);  // RI's trailing edge
    f.out8(kMcr, kMcrLoop | kMcrOut1);
    EXPECT_EQ(f.in(kMsr), kMsrRi);  // its leading edge reports nothing
}

TEST(Uart16550Model, IirReportsFifoState) {
    // autoconfig(): FCR = ENABLE_FIFO, then IIR >> 6 == 3 means a 16550A.
    Fixture f;
    f.out8(kFcr, kFcrEnable);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
    EXPECT_EQ(f.in(kIir) >> 6, 3);
    f.out8(kFcr, 0);
    EXPECT_EQ(f.in(kIir), kIirNoInt);
}

TEST(Uart16550Model, No64ByteFifoAndNoEfr) {
    // autoconfig_16550a(): bit 5 (64-byte FIFO) never sets, with or without DLAB, and
    // with LCR = 0xBF (EFR access on 16650s) offset 2 still reads IIR, never 0.
    Fixture f;
    f.out8(kFcr, kFcrEnable | 0x20);
    EXPECT_EQ(f.in(kIir)&0x20, 0);
    f.out8(kLcr, kLcrDlab);
    f.out8(kFcr, kFcrEnable | 0x20);
    EXPECT_EQ(f.in(kIir)&0x20, 0);
    EXPECT_NE(f.in(kIir), 0);
    f.out8(kLcr, 0xbf);
    EXPECT_NE(f.in(kIir), 0);
}

TEST(Uart16550Model, DivisorLatchBehindDlab) {
    Fixture f;
    f.out8(kIer, kIerRdi);
    f.out8(kLcr, kLcrDlab | kLcrWlen8);
    f.out8(kDll, 0x0c);
    f.out8(kDlm, 0x01);
    EXPECT_EQ(f.in(kDll), 0x0c);
    EXPECT_EQ(f.in(kDlm), 0x01);
    EXPECT_TRUE(f.out.sent.empty());  // the DLL write did not transmit
    f.out8(kLcr, kLcrWlen8);
    EXPECT_EQ(f.in(kIer), kIerRdi);  // IER was untouched by the DLM write
    EXPECT_EQ(f.in(kLcr), kLcrWlen8);
}

TEST(Uart16550Model, TransmitGoesStraightToTheOutput) {
    Fixture f;
    for (char c : std::string("hello\n")) f.out8(kThr, u8(c));
    EXPECT_EQ(f.out.sent, "hello\n");
    EXPECT_EQ(f.in(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);
}

TEST(Uart16550Model, ThreInterruptWhenEnabled) {
    // serial8250_do_startup's UART_BUG_TXEN test: IER = THRI, then LSR and IIR. IIR must
    // show the THRE interrupt, or Linux assumes a broken transmitter.
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerThri);
    EXPECT_TRUE(f.irq());
    EXPECT_TRUE(f.in(kLsr)&kLsrTemt);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirThri);
    EXPECT_FALSE(f.irq());  // reading IIR acknowledged it
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
    f.out8(kIer, 0);
}

TEST(Uart16550Model, ThreReassertsWhenEtbeiRises) {
    // serial8250_do_startup's UART_BUG_THRE test: after IIR acknowledged THRE, clearing
    // and setting IER.THRI again must raise it again.
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerThri);
    const u8 iir1 = f.in(kIir);
    f.out8(kIer, 0);
    f.out8(kIer, kIerThri);
    const u8 iir2 = f.in(kIir);
    EXPECT_FALSE(iir1 & kIirNoInt);
    EXPECT_FALSE(iir2 & kIirNoInt);
}

TEST(Uart16550Model, ThreDoesNotRearmWithoutARisingEdge) {
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerThri);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirThri);
    f.out8(kIer, kIerThri | kIerMsi);  // ETBEI stays set: no new THRE interrupt
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
}

TEST(Uart16550Model, ThreFollowsEachTransmit) {
    // Interrupt-driven transmit: each THR write acknowledges THRE, and the byte leaving
    // at once makes THR empty again, so the interrupt is back until the driver stops.
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerThri);
    ASSERT_EQ(f.in(kIir), kIirFifos | kIirThri);
    EXPECT_FALSE(f.irq());
    f.out8(kThr, 'a');
    f.out8(kThr, 'b');
    EXPECT_TRUE(f.irq());
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirThri);
    f.out8(kIer, 0);  // __stop_tx
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
    EXPECT_FALSE(f.irq());
    EXPECT_EQ(f.out.sent, "ab");
}

TEST(Uart16550Model, Out2GatesTheIrqLine) {
    Fixture f;
    f.out8(kIer, kIerThri);
    EXPECT_FALSE(f.irq());  // pending, but OUT2 is low
    EXPECT_EQ(f.in(kIir), kIirThri);
    f.out8(kIer, 0);
    f.out8(kIer, kIerThri);
    f.out8(kMcr, kMcrOut2);
    EXPECT_TRUE(f.irq());
    EXPECT_TRUE(f.uart.irq_level());
    f.out8(kMcr, 0);
    EXPECT_FALSE(f.irq());
    f.out8(kMcr, kMcrOut2 | kMcrLoop);  // loopback forces the OUT2 pin inactive
    EXPECT_FALSE(f.irq());
}

TEST(Uart16550Model, ReceiveInterruptAndTimeout) {
    Fixture f;
    f.linux_setup();  // trigger level 8
    f.out8(kIer, kIerRdi | kIerRlsi);
    EXPECT_FALSE(f.irq());
    ASSERT_TRUE(f.uart.receive('x'));
    EXPECT_TRUE(f.irq());
    // Below the trigger level: the character timeout (no baud delays here).
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirTimeout);
    for (char c : std::string("1234567")) ASSERT_TRUE(f.uart.receive(u8(c)));
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirRdi);
    std::string got;
    while (f.in(kLsr)&kLsrDr) got.push_back(char(f.in(kRbr)));
    EXPECT_EQ(got, "x1234567");
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
    EXPECT_FALSE(f.irq());
}

TEST(Uart16550Model, ReceiveFifoHoldsSixteenBytes) {
    Fixture f;
    f.linux_setup();
    for (u32 i = 0; i < Uart16550::kFifoSize; ++i) ASSERT_TRUE(f.uart.receive(u8('a' + i)));
    EXPECT_TRUE(f.uart.receive_fifo_full());
    EXPECT_FALSE(f.uart.receive('!'));
    EXPECT_EQ(f.in(kLsr)&kLsrOe, 0);  // refused, not overrun
    EXPECT_EQ(f.in(kRbr), 'a');
    EXPECT_TRUE(f.uart.receive('!'));
    std::string got;
    while (f.in(kLsr)&kLsrDr) got.push_back(char(f.in(kRbr)));
    EXPECT_EQ(got, "bcdefghijklmnop!");
    EXPECT_EQ(f.in(kRbr), '!');  // RBR keeps the last byte
}

TEST(Uart16550Model, WithoutFifosOneByteAtATime) {
    Fixture f;
    f.out8(kIer, kIerRdi);
    f.out8(kMcr, kMcrOut2);
    ASSERT_TRUE(f.uart.receive('a'));
    EXPECT_FALSE(f.uart.receive('b'));
    EXPECT_EQ(f.in(kIir), kIirRdi);
    EXPECT_TRUE(f.irq());
    EXPECT_EQ(f.in(kRbr), 'a');
    EXPECT_FALSE(f.irq());
    EXPECT_TRUE(f.uart.receive('b'));
}

TEST(Uart16550Model, FifoClearAndDisableDropInput) {
    Fixture f;
    f.linux_setup();
    f.uart.receive('a');
    f.uart.receive('b');
    f.out8(kFcr, kFcrEnable | kFcrClearRx);
    EXPECT_EQ(f.in(kLsr)&kLsrDr, 0);
    f.uart.receive('c');
    f.out8(kFcr, 0);  // changing FCR0 resets the FIFOs
    EXPECT_EQ(f.in(kLsr)&kLsrDr, 0);
}

TEST(Uart16550Model, InterruptPriorities) {
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerRdi | kIerThri | kIerRlsi | kIerMsi);
    // THRE (armed by enabling ETBEI) and a modem status change: THRE wins.
    f.out8(kMcr, kMcrOut2 | kMcrLoop);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirThri);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirMsi);
    // Loopback data: a byte below the trigger level ranks above THRE.
    f.out8(kThr, 'z');
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirTimeout);
    // A break with an error: line status ranks above received data.
    f.out8(kMcr, kMcrOut2);
    f.out8(kFcr, kFcrEnable | kFcrClearRx | kFcrTrigger8);
    ASSERT_TRUE(f.uart.receive_break());
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirRlsi);
    const u8 lsr = f.in(kLsr);
    EXPECT_EQ(lsr & (kLsrBi | kLsrDr | kLsrFifoErr), kLsrBi | kLsrDr | kLsrFifoErr);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirTimeout);  // the error is read; the byte remains
    EXPECT_EQ(f.in(kRbr), 0);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirThri);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirMsi);
    f.in(kMsr);
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
}

TEST(Uart16550Model, ErrorsShowWhenTheirByteReachesTheTop) {
    Fixture f;
    f.linux_setup();
    f.out8(kIer, kIerRlsi);
    f.uart.receive('a');
    f.uart.receive_break();
    EXPECT_EQ(f.in(kLsr) & (kLsrBi | kLsrFifoErr), kLsrFifoErr);  // the break is second in line
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirNoInt);
    EXPECT_EQ(f.in(kRbr), 'a');
    EXPECT_EQ(f.in(kIir), kIirFifos | kIirRlsi);
    EXPECT_EQ(f.in(kLsr)&kLsrBi, kLsrBi);
    EXPECT_EQ(f.in(kLsr)&kLsrBi, 0);  // cleared by the previous read
}

TEST(Uart16550Model, LoopbackTransmitsToTheReceiverOnly) {
    Fixture f;
    f.linux_setup();
    f.out8(kMcr, kMcrLoop);
    f.out8(kThr, 'q');
    EXPECT_TRUE(f.out.sent.empty());
    EXPECT_FALSE(f.uart.receive('x'));  // the line input is disconnected in loopback
    EXPECT_EQ(f.in(kRbr), 'q');
    for (u32 i = 0; i <= Uart16550::kFifoSize; ++i) f.out8(kThr, u8(i));
    EXPECT_EQ(f.in(kLsr)&kLsrOe, kLsrOe);  // the seventeenth byte overran the FIFO
    EXPECT_EQ(f.in(kLsr)&kLsrOe, 0);
}

TEST(Uart16550Model, ModemStatusInterrupt) {
    Fixture f;
    f.out8(kIer, kIerMsi);
    f.out8(kMcr, kMcrOut2);
    EXPECT_FALSE(f.irq());  // the peer's lines never change outside loopback
    f.out8(kMcr, kMcrLoop | kMcrOut2);
    EXPECT_EQ(f.in(kIir), kIirMsi);
    f.out8(kMcr, kMcrOut2);
    EXPECT_TRUE(f.irq());  // leaving loopback changed CTS/DSR back: deltas again
    EXPECT_EQ(f.in(kMsr) & (kMsrDcts | kMsrDdsr), kMsrDcts | kMsrDdsr);
    EXPECT_FALSE(f.irq());
}

TEST(Uart16550Model, WideAccessesSplitIntoBytes) {
    Fixture f;
    f.uart.port_write(kLcr, 2, 0x0b03);  // LCR = 0x03, MCR = 0x0b
    EXPECT_EQ(f.in(kLcr), 0x03);
    EXPECT_EQ(f.in(kMcr), 0x0b);
    f.out8(kScr, 0x5a);
    EXPECT_EQ(f.uart.port_read(kMsr, 4), 0xffff0000u | u32(0x5a) << 8 | (kMsrCts | kMsrDsr | kMsrDcd));
    EXPECT_EQ(f.uart.port_read(0x2f8, 1), 0xffu);  // not this UART's port
}

TEST(Uart16550Model, OtherBaseAndIrq) {
    RecordingOutput out;
    RecordingLines lines;
    Uart16550 uart(out, lines, 0x2f8, 3);
    uart.port_write(0x2f8 + 4, 1, kMcrOut2);
    uart.port_write(0x2f8 + 1, 1, kIerThri);
    ASSERT_EQ(lines.changes.size(), 1u);
    EXPECT_EQ(lines.changes[0].irq, 3);
    EXPECT_TRUE(lines.changes[0].high);
    uart.reset();
    EXPECT_FALSE(lines.level[3]);
    EXPECT_EQ(uart.port_read(0x2f8 + 4, 1), 0u);
}

TEST(Uart16550Model, ArbitraryWritesStaySane) {
    // Any register sequence keeps the model consistent: reads stay within their
    // registers' shapes and the IRQ line matches irq_level().
    Fixture f;
    u32 seed = 12345;
    for (int i = 0; i < 20000; ++i) {
        seed = seed * 1103515245 + 12345;
        const u16 port = u16(kBase + ((seed >> 8) & 7));
        const u8 value = u8(seed >> 16);
        if ((seed >> 28) & 1)
            f.out8(port, value);
        else
            f.in(port);
        if (((seed >> 24) & 15) == 0) f.uart.receive(value);
        ASSERT_EQ(f.irq(), f.uart.irq_level());
        if (!(f.in(kLcr)&kLcrDlab)) ASSERT_EQ(f.in(kIer)&0xf0, 0);
    }
}

}  // namespace
