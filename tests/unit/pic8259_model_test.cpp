#include "kernel/vm/devices/pc/pic8259_model.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u16 kMasterCmd = Pic8259Pair::kMasterCommandPort;
constexpr u16 kMasterData = Pic8259Pair::kMasterDataPort;
constexpr u16 kSlaveCmd = Pic8259Pair::kSlaveCommandPort;
constexpr u16 kSlaveData = Pic8259Pair::kSlaveDataPort;

// Linux's vectors for the legacy IRQs on x86-64 (ISA_IRQ_VECTOR(0) = 0x30).
constexpr u8 kMasterBase = 0x30;
constexpr u8 kSlaveBase = 0x38;

void outb(Pic8259Pair& pic, u16 port, u8 value) { pic.port_write(port, 1, value); }
u8 inb(Pic8259Pair& pic, u16 port) { return u8(pic.port_read(port, 1)); }

// arch/x86/kernel/i8259.c init_8259A(auto_eoi = 0), then all IRQs unmasked.
void linux_init_8259a(Pic8259Pair& pic, bool auto_eoi = false) {
    outb(pic, kMasterData, 0xff);  // mask all of 8259A-1
    outb(pic, kSlaveData, 0xff);
    outb(pic, kMasterCmd, 0x11);                     // ICW1: edge, cascade, ICW4
    outb(pic, kMasterData, kMasterBase);             // ICW2
    outb(pic, kMasterData, 1u << 2);                 // ICW3: slave on IR2
    outb(pic, kMasterData, auto_eoi ? 0x03 : 0x01);  // ICW4: 8086 mode (+AEOI)
    outb(pic, kSlaveCmd, 0x11);
    outb(pic, kSlaveData, kSlaveBase);
    outb(pic, kSlaveData, 2);     // ICW3: slave ID 2
    outb(pic, kSlaveData, 0x01);  // ICW4
    outb(pic, kMasterData, 0x00);
    outb(pic, kSlaveData, 0x00);
}

// Linux's mask_and_ack_8259A ends each interrupt with specific EOIs.
void linux_eoi(Pic8259Pair& pic, u8 irq) {
    if (irq & 8) {
        outb(pic, kSlaveCmd, u8(0x60 + (irq & 7)));
        outb(pic, kMasterCmd, 0x60 + 2);
    } else {
        outb(pic, kMasterCmd, u8(0x60 + irq));
    }
}

void pulse(Pic8259Pair& pic, u8 irq) {
    pic.set_irq(irq, true);
    pic.set_irq(irq, false);
}

u8 read_isr(Pic8259Pair& pic, u16 cmd) {
    outb(pic, cmd, 0x0b);
    const u8 isr = inb(pic, cmd);
    outb(pic, cmd, 0x0a);
    return isr;
}

TEST(Pic8259, PowerOnStateIsMaskedAndQuiet) {
    Pic8259Pair pic;
    EXPECT_EQ(inb(pic, kMasterData), 0xff);
    EXPECT_EQ(inb(pic, kSlaveData), 0xff);
    pulse(pic, 1);
    EXPECT_FALSE(pic.interrupt_pending());
    EXPECT_EQ(inb(pic, Pic8259Pair::kElcrMasterPort), 0);
    EXPECT_EQ(inb(pic, Pic8259Pair::kElcrSlavePort), 0);
}

TEST(Pic8259, LinuxProbeReadsBackTheMask) {
    // probe_8259A(): the mask written must read back.
    Pic8259Pair pic;
    outb(pic, kSlaveData, 0xff);
    outb(pic, kMasterData, 0xfb);
    EXPECT_EQ(inb(pic, kMasterData), 0xfb);
}

TEST(Pic8259, LinuxInitThenTimerInterrupt) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    EXPECT_FALSE(pic.interrupt_pending());
    pulse(pic, 0);
    ASSERT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
    EXPECT_FALSE(pic.interrupt_pending());
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x01);
    linux_eoi(pic, 0);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x00);
}

TEST(Pic8259, EdgeLatchedRequestSurvivesThePulse) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 4);
    outb(pic, kMasterCmd, 0x0a);
    EXPECT_EQ(inb(pic, kMasterCmd), 0x10);  // IRR
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
    EXPECT_EQ(inb(pic, kMasterCmd), 0x00);
}

TEST(Pic8259, EdgeHeldHighRequestsOnlyOnce) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pic.set_irq(3, true);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
    linux_eoi(pic, 3);
    pic.set_irq(3, true);  // still high: no new edge
    EXPECT_FALSE(pic.interrupt_pending());
    pic.set_irq(3, false);
    pic.set_irq(3, true);
    EXPECT_TRUE(pic.interrupt_pending());
}

TEST(Pic8259, PriorityAndNesting) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 5);
    pulse(pic, 3);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
    // IR5 is lower priority than the in-service IR3: blocked until the EOI.
    EXPECT_FALSE(pic.interrupt_pending());
    pulse(pic, 1);  // higher priority nests
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x0a);
    outb(pic, kMasterCmd, 0x20);  // non-specific EOI clears the highest: IR1
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x08);
    EXPECT_FALSE(pic.interrupt_pending());
    outb(pic, kMasterCmd, 0x20);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
}

TEST(Pic8259, MaskBlocksAndUnmaskDelivers) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, kMasterData, 0x02);
    pulse(pic, 1);
    EXPECT_FALSE(pic.interrupt_pending());
    outb(pic, kMasterData, 0x00);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
}

TEST(Pic8259, CascadeDeliversSlaveVectorAndNeedsBothEois) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 14);
    ASSERT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 6);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x04);
    EXPECT_EQ(read_isr(pic, kSlaveCmd), 0x40);
    // Another slave IRQ of lower priority waits; a master IRQ of higher priority nests.
    pulse(pic, 15);
    EXPECT_FALSE(pic.interrupt_pending());
    pulse(pic, 1);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
    linux_eoi(pic, 1);
    linux_eoi(pic, 14);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 7);
    linux_eoi(pic, 15);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);
    EXPECT_EQ(read_isr(pic, kSlaveCmd), 0);
    EXPECT_FALSE(pic.interrupt_pending());
}

TEST(Pic8259, SlaveRequestDuringSlaveServiceWaitsForMasterEoi) {
    // Fully nested mode: the master's IR2 in service blocks a higher slave request.
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 12);
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 4);
    pulse(pic, 8);
    EXPECT_FALSE(pic.interrupt_pending());
    linux_eoi(pic, 12);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 0);
}

TEST(Pic8259, SpecialFullyNestedLetsHigherSlaveRequestThrough) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, kMasterCmd, 0x11);
    outb(pic, kMasterData, kMasterBase);
    outb(pic, kMasterData, 0x04);
    outb(pic, kMasterData, 0x11);  // ICW4: SFNM + 8086
    outb(pic, kMasterData, 0x00);
    pulse(pic, 12);
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 4);
    pulse(pic, 8);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 0);
}

TEST(Pic8259, SpuriousMasterIrq7WhenLevelRequestVanishes) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, Pic8259Pair::kElcrMasterPort, 0x20);  // IRQ 5 level
    pic.set_irq(5, true);
    ASSERT_TRUE(pic.interrupt_pending());
    pic.set_irq(5, false);
    EXPECT_FALSE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);  // no ISR bit for a spurious interrupt
}

TEST(Pic8259, SpuriousMasterIrq7WhenMaskedBeforeInta) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 6);
    outb(pic, kMasterData, 0x40);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);
}

TEST(Pic8259, SpuriousSlaveIrq15SetsMasterIr2InService) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 10);
    ASSERT_TRUE(pic.interrupt_pending());
    outb(pic, kSlaveData, 0x04);  // masked on the slave after the master latched IR2
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 7);
    EXPECT_EQ(read_isr(pic, kSlaveCmd), 0);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x04);
    linux_eoi(pic, 15);  // Linux's handling of the spurious IRQ 15
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);
}

TEST(Pic8259, NothingPendingAcknowledgesAsSpurious) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
}

TEST(Pic8259, LevelTriggeredReassertsAfterEoiWhileHigh) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, Pic8259Pair::kElcrSlavePort, 0x02);  // IRQ 9 (ACPI SCI) level
    EXPECT_EQ(inb(pic, Pic8259Pair::kElcrSlavePort), 0x02);
    pic.set_irq(9, true);
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 1);
    EXPECT_FALSE(pic.interrupt_pending());
    linux_eoi(pic, 9);
    EXPECT_TRUE(pic.interrupt_pending());
    // The request goes away before INTA: the master has latched its cascade input, the
    // slave has nothing left to give and answers with its IR7 (IRQ 15).
    pic.set_irq(9, false);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kSlaveBase + 7);
    linux_eoi(pic, 15);
    EXPECT_FALSE(pic.interrupt_pending());
}

TEST(Pic8259, Icw1LtimMakesEveryInputLevelTriggered) {
    Pic8259Pair pic;
    outb(pic, kMasterCmd, 0x19);  // ICW1 with LTIM
    outb(pic, kMasterData, 0x20);
    outb(pic, kMasterData, 0x04);
    outb(pic, kMasterData, 0x01);
    outb(pic, kMasterData, 0x00);
    pic.set_irq(1, true);
    EXPECT_TRUE(pic.interrupt_pending());
    pic.set_irq(1, false);
    EXPECT_FALSE(pic.interrupt_pending());
}

TEST(Pic8259, ElcrReservedBitsReadAsZero) {
    Pic8259Pair pic;
    outb(pic, Pic8259Pair::kElcrMasterPort, 0xff);
    outb(pic, Pic8259Pair::kElcrSlavePort, 0xff);
    EXPECT_EQ(inb(pic, Pic8259Pair::kElcrMasterPort), 0xf8);
    EXPECT_EQ(inb(pic, Pic8259Pair::kElcrSlavePort), 0xde);
    // A 16-bit access covers both registers.
    EXPECT_EQ(pic.port_read(Pic8259Pair::kElcrMasterPort, 2), 0xdef8u);
    pic.port_write(Pic8259Pair::kElcrMasterPort, 2, 0x0000);
    EXPECT_EQ(pic.port_read(Pic8259Pair::kElcrMasterPort, 2), 0u);
}

TEST(Pic8259, AutoEoiLeavesNothingInService) {
    Pic8259Pair pic;
    linux_init_8259a(pic, true);
    pulse(pic, 0);
    pulse(pic, 1);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
}

TEST(Pic8259, RotateOnNonSpecificEoi) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 1);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
    outb(pic, kMasterCmd, 0xa0);  // rotate on non-specific EOI: IR1 becomes lowest
    pulse(pic, 1);
    pulse(pic, 4);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);  // IR2..IR7 now outrank IR0, IR1
    outb(pic, kMasterCmd, 0x20);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 1);
}

TEST(Pic8259, SetPriorityCommand) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, kMasterCmd, 0xc0 | 4);  // IR4 lowest, IR5 highest
    pulse(pic, 3);
    pulse(pic, 6);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 6);
    outb(pic, kMasterCmd, 0x20);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
}

TEST(Pic8259, RotateOnSpecificEoi) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 0);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
    outb(pic, kMasterCmd, 0xe0 | 0);  // EOI IR0, IR0 lowest
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0);
    pulse(pic, 0);
    pulse(pic, 7);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
}

TEST(Pic8259, RotateInAutoEoiMode) {
    Pic8259Pair pic;
    linux_init_8259a(pic, true);
    outb(pic, kMasterCmd, 0x80);  // set rotate in AEOI
    pulse(pic, 0);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
    pulse(pic, 0);
    pulse(pic, 5);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 5);
    outb(pic, kMasterCmd, 0x00);  // clear rotate in AEOI
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 0);
}

TEST(Pic8259, PollModeReadsAndAcknowledges) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    outb(pic, kMasterData, 0xff);  // polled systems run with INT masked off
    outb(pic, kMasterData, 0x00);
    pulse(pic, 3);
    outb(pic, kMasterCmd, 0x0c);  // OCW3 poll
    EXPECT_EQ(inb(pic, kMasterCmd), 0x83);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x08);
    outb(pic, kMasterCmd, 0x0c);
    EXPECT_EQ(inb(pic, kMasterCmd), 0x00);  // nothing else pending
    // Polling the slave through the cascade.
    outb(pic, kMasterCmd, 0x20);
    pulse(pic, 11);
    outb(pic, kMasterCmd, 0x0c);
    EXPECT_EQ(inb(pic, kMasterCmd), 0x82);
    outb(pic, kSlaveCmd, 0x0c);
    EXPECT_EQ(inb(pic, kSlaveData), 0x83);  // the poll word comes from either port
    EXPECT_EQ(read_isr(pic, kSlaveCmd), 0x08);
}

TEST(Pic8259, SpecialMaskModeAllowsLowerPriorities) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 2 + 1);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 3);
    pulse(pic, 6);
    EXPECT_FALSE(pic.interrupt_pending());
    outb(pic, kMasterData, 0x08);  // mask the in-service IR3
    outb(pic, kMasterCmd, 0x68);   // OCW3: set special mask mode
    EXPECT_TRUE(pic.interrupt_pending());
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 6);
    outb(pic, kMasterCmd, 0x48);  // reset special mask mode
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x48);
}

TEST(Pic8259, Icw1ResetsState) {
    Pic8259Pair pic;
    linux_init_8259a(pic);
    pulse(pic, 4);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 4);
    pulse(pic, 5);
    outb(pic, kMasterCmd, 0x11);
    outb(pic, kMasterData, 0x08);
    outb(pic, kMasterData, 0x04);
    outb(pic, kMasterData, 0x01);
    EXPECT_EQ(inb(pic, kMasterData), 0x00);  // IMR cleared
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x00);
    EXPECT_FALSE(pic.interrupt_pending());  // IRR cleared
    pulse(pic, 5);
    EXPECT_EQ(pic.acknowledge(), 0x08 + 5);  // new base
}

TEST(Pic8259, Icw4OmittedWhenIc4Clear) {
    Pic8259Pair pic;
    outb(pic, kMasterCmd, 0x10);  // no ICW4
    outb(pic, kMasterData, 0x40);
    outb(pic, kMasterData, 0x04);  // ICW3, then ready
    outb(pic, kMasterData, 0xfd);  // OCW1
    EXPECT_EQ(inb(pic, kMasterData), 0xfd);
    pulse(pic, 1);
    EXPECT_EQ(pic.acknowledge(), 0x41);
}

TEST(Pic8259, SingleModeSkipsIcw3AndTreatsIr2AsOrdinary) {
    Pic8259Pair pic;
    outb(pic, kMasterCmd, 0x13);  // single, ICW4
    outb(pic, kMasterData, 0x50);
    outb(pic, kMasterData, 0x01);  // ICW4 directly
    outb(pic, kMasterData, 0x00);  // OCW1
    EXPECT_EQ(inb(pic, kMasterData), 0x00);
    pulse(pic, 9);  // slave uninitialized: masked
    pulse(pic, 1);
    EXPECT_EQ(pic.acknowledge(), 0x51);
}

TEST(Pic8259, OcwsDuringInitializationDoNotDerailIt) {
    Pic8259Pair pic;
    outb(pic, kMasterCmd, 0x11);
    outb(pic, kMasterCmd, 0x0b);  // OCW3 in the middle of the ICWs
    outb(pic, kMasterData, kMasterBase);
    outb(pic, kMasterCmd, 0x20);  // OCW2 with nothing in service
    outb(pic, kMasterData, 0x04);
    outb(pic, kMasterData, 0x01);
    outb(pic, kMasterData, 0x00);
    pulse(pic, 0);
    EXPECT_EQ(pic.acknowledge(), kMasterBase);
}

TEST(Pic8259, GarbageNeverWedgesTheModel) {
    Pic8259Pair pic;
    u32 seed = 12345;
    for (int i = 0; i < 20000; ++i) {
        seed = seed * 1103515245u + 12345u;
        const u16 ports[] = {kMasterCmd, kMasterData, kSlaveCmd, kSlaveData, 0x4d0, 0x4d1, 0x22};
        const u16 port = ports[(seed >> 8) % 7];
        const u8 value = u8(seed >> 16);
        switch ((seed >> 24) % 4) {
            case 0: outb(pic, port, value); break;
            case 1: (void)inb(pic, port); break;
            case 2: pic.set_irq(value & 15, value & 0x10); break;
            default:
                if (pic.interrupt_pending()) (void)pic.acknowledge();
        }
    }
    // Quiet lines and re-initialization bring it back to a known state.
    for (u8 irq = 0; irq < 16; ++irq) pic.set_irq(irq, false);
    outb(pic, Pic8259Pair::kElcrMasterPort, 0);
    outb(pic, Pic8259Pair::kElcrSlavePort, 0);
    linux_init_8259a(pic);
    EXPECT_FALSE(pic.interrupt_pending());
    pulse(pic, 7);
    EXPECT_EQ(pic.acknowledge(), kMasterBase + 7);
    EXPECT_EQ(read_isr(pic, kMasterCmd), 0x80);  // a real IR7, so in service
}

}  // namespace
