#include "kernel/vm/devices/pc/pit8254_model.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/pc/pic8259_model.hpp"
#include "kernel/vm/devices/pc/system_control_port_b.hpp"
#include "kernel/vm/devices/pc/tick_math.hpp"

namespace {

constexpr u16 kCh0 = 0x40;
constexpr u16 kCh2 = 0x42;
constexpr u16 kMode = 0x43;
constexpr u16 kPortB = 0x61;
constexpr u64 kHz = Pit8254::kInputHz;

class FakeClock final : public GuestClock {
public:
    u64 now = 0;
    u64 now_ns() const override { return now; }
};

class RecordingLines final : public InterruptLines {
public:
    struct Event {
        u8 irq;
        bool high;
    };
    std::vector<Event> events;
    void set_isa_irq(u8 irq, bool high) override { events.push_back({irq, high}); }
    int raises(u8 irq) const {
        int count = 0;
        for (const Event& event : events) count += event.irq == irq && event.high;
        return count;
    }
};

// The time at which `ticks` PIT clocks have passed since a load at `start`.
u64 at_tick(u64 ticks, u64 start = 0) { return start + ticks_to_ns_ceil(ticks, kHz); }

struct PitFixture {
    FakeClock clock;
    RecordingLines lines;
    Pit8254 pit{clock, lines};
    SystemControlPortB port_b{pit};

    void outb(u16 port, u8 value) {
        if (port == kPortB)
            port_b.port_write(port, 1, value);
        else
            pit.port_write(port, 1, value);
    }
    u8 inb(u16 port) { return u8(port == kPortB ? port_b.port_read(port, 1) : pit.port_read(port, 1)); }
    void write_count(u16 port, u16 count) {
        outb(port, u8(count));
        outb(port, u8(count >> 8));
    }
    // Counter latch command, then LSB and MSB.
    u16 latched_count(u8 counter) {
        outb(kMode, u8(counter << 6));
        const u8 low = inb(u16(kCh0 + counter));
        return u16(low | inb(u16(kCh0 + counter)) << 8);
    }
    void run_until(u64 ns) {
        clock.now = ns;
        pit.advance_to(ns);
    }
    u8 status(u8 counter) {
        outb(kMode, u8(0xe0 | 2u << counter));  // read-back: status only
        return inb(u16(kCh0 + counter));
    }
};

// drivers/clocksource/i8253.c pit_set_periodic with HZ=250 (Debian's).
constexpr u16 kLinuxLatch = (1193182 + 250 / 2) / 250;

TEST(PitTickMath, ExactAndOverflowFree) {
    EXPECT_EQ(ns_to_ticks(kNsPerSecond, kHz), kHz);
    EXPECT_EQ(ticks_to_ns_ceil(kHz, kHz), kNsPerSecond);
    EXPECT_EQ(ns_to_ticks(838, kHz), 0u);
    EXPECT_EQ(ns_to_ticks(839, kHz), 1u);
    EXPECT_EQ(ticks_to_ns_ceil(1, kHz), 839u);
    // Ten billion seconds: ns * hz would overflow u64 many times over.
    EXPECT_EQ(ns_to_ticks(10'000'000'000ull * kNsPerSecond, kHz), 10'000'000'000ull * kHz);
    EXPECT_EQ(ns_to_ticks(~0ull, kHz), 18446744073ull * kHz + 709551615ull * kHz / kNsPerSecond);
    EXPECT_EQ(ticks_to_ns_ceil(~0ull, kHz), ~0ull);  // saturates
    for (u64 ticks : {1ull, 2ull, 4773ull, 65536ull, 1193181ull, 1193183ull, 123456789012ull}) {
        const u64 ns = ticks_to_ns_ceil(ticks, kHz);
        EXPECT_EQ(ns_to_ticks(ns, kHz), ticks);
        EXPECT_EQ(ns_to_ticks(ns - 1, kHz), ticks - 1);
    }
}

TEST(Pit8254, PowerOnHasNoDeadline) {
    PitFixture f;
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    f.run_until(10 * kNsPerSecond);
    EXPECT_TRUE(f.lines.events.empty());
    EXPECT_TRUE(f.pit.output(0));
}

TEST(Pit8254, LinuxPeriodicModeRaisesIrq0EachPeriod) {
    PitFixture f;
    f.outb(kMode, 0x34);  // binary, mode 2, LSB/MSB, channel 0
    f.write_count(kCh0, kLinuxLatch);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(kLinuxLatch));
    f.run_until(at_tick(kLinuxLatch) - 1);
    EXPECT_EQ(f.lines.raises(0), 0);
    f.run_until(at_tick(kLinuxLatch));
    ASSERT_EQ(f.lines.events.size(), 2u);  // a pulse: raise then lower
    EXPECT_TRUE(f.lines.events[0].high);
    EXPECT_FALSE(f.lines.events[1].high);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(2 * kLinuxLatch));
    f.run_until(at_tick(2 * kLinuxLatch));
    EXPECT_EQ(f.lines.raises(0), 2);
}

TEST(Pit8254, MissedPeriodsCoalesceIntoOnePulse) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, kLinuxLatch);
    f.run_until(at_tick(10 * kLinuxLatch + 5));
    EXPECT_EQ(f.lines.raises(0), 1);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(11 * kLinuxLatch));
}

TEST(Pit8254, AdvanceBeforeDeadlineDoesNothing) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 1000);
    f.run_until(at_tick(999));
    f.pit.advance_to(at_tick(999));
    EXPECT_TRUE(f.lines.events.empty());
}

TEST(Pit8254, Mode2CountAndOutput) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 100);
    EXPECT_EQ(f.latched_count(0), 100);
    f.clock.now = at_tick(30);
    EXPECT_EQ(f.latched_count(0), 70);
    EXPECT_TRUE(f.pit.output(0));
    f.clock.now = at_tick(99);  // count 1: OUT low for one clock
    EXPECT_EQ(f.latched_count(0), 1);
    EXPECT_FALSE(f.pit.output(0));
    f.clock.now = at_tick(100);  // reloaded
    EXPECT_EQ(f.latched_count(0), 100);
    EXPECT_TRUE(f.pit.output(0));
    f.clock.now = at_tick(250);
    EXPECT_EQ(f.latched_count(0), 50);
}

TEST(Pit8254, Mode3SquareWave) {
    PitFixture f;
    f.outb(kMode, 0x36);  // mode 3
    f.write_count(kCh0, 1000);
    EXPECT_TRUE(f.pit.output(0));
    f.clock.now = at_tick(499);
    EXPECT_TRUE(f.pit.output(0));
    f.clock.now = at_tick(500);
    EXPECT_FALSE(f.pit.output(0));
    f.clock.now = at_tick(10);
    EXPECT_EQ(f.latched_count(0), 980);  // counts down by two
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(1000));
    f.run_until(at_tick(1000));
    EXPECT_EQ(f.lines.raises(0), 1);
    EXPECT_TRUE(f.pit.output(0));
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(2000));
}

TEST(Pit8254, Mode3OddCountHighOneClockLonger) {
    PitFixture f;
    f.outb(kMode, 0x36);
    f.write_count(kCh0, 5);
    f.clock.now = at_tick(2);
    EXPECT_TRUE(f.pit.output(0));
    f.clock.now = at_tick(3);
    EXPECT_FALSE(f.pit.output(0));
    f.clock.now = at_tick(5);
    EXPECT_TRUE(f.pit.output(0));
}

TEST(Pit8254, LinuxOneshotMode4) {
    // pit_set_oneshot then pit_next_event.
    PitFixture f;
    f.outb(kMode, 0x38);
    EXPECT_TRUE(f.pit.output(0));
    f.write_count(kCh0, 500);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(501));  // OUT low at count 0, rises a clock later
    f.clock.now = at_tick(500);
    EXPECT_FALSE(f.pit.output(0));
    f.run_until(at_tick(501));
    EXPECT_EQ(f.lines.raises(0), 1);
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    // The next event: only the count is rewritten, which restarts the counter.
    f.clock.now = at_tick(2000);
    f.write_count(kCh0, 100);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(101, f.clock.now));
    f.run_until(at_tick(101, f.clock.now));
    EXPECT_EQ(f.lines.raises(0), 2);
}

TEST(Pit8254, LinuxShutdownMode0FiresOnceAtTerminalCount) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, kLinuxLatch);
    f.outb(kMode, 0x30);  // pit_shutdown
    EXPECT_FALSE(f.pit.output(0));
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    f.write_count(kCh0, 0);  // i8253_clear_counter_on_shutdown: 65536 clocks
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(65536));
    f.run_until(at_tick(65536));
    EXPECT_EQ(f.lines.raises(0), 1);
    EXPECT_TRUE(f.pit.output(0));
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    // Past terminal count the counter wraps and keeps counting.
    f.clock.now = at_tick(65536 + 5);
    EXPECT_EQ(f.latched_count(0), 0xffff - 4);
}

TEST(Pit8254, Mode0FirstByteStopsCountingAndLowersOut) {
    PitFixture f;
    f.outb(kMode, 0x30);
    f.write_count(kCh0, 10);
    f.run_until(at_tick(20));
    EXPECT_TRUE(f.pit.output(0));
    f.outb(kCh0, 0x00);
    EXPECT_FALSE(f.pit.output(0));
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    f.outb(kCh0, 0x01);  // 256
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(256, f.clock.now));
}

TEST(Pit8254, CountZeroIs65536) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 0);
    EXPECT_EQ(f.latched_count(0), 0);  // 65536 reads as 0
    f.clock.now = at_tick(1);
    EXPECT_EQ(f.latched_count(0), 0xffff);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(65536));
}

TEST(Pit8254, BcdCounting) {
    PitFixture f;
    f.outb(kMode, 0x35);  // mode 2, BCD
    f.write_count(kCh0, 0x1000);
    f.clock.now = at_tick(1);
    EXPECT_EQ(f.latched_count(0), 0x0999);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(1000));
    f.outb(kMode, 0x35);
    f.write_count(kCh0, 0);  // 10000 in BCD
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(10000, f.clock.now));
    f.clock.now += ticks_to_ns_ceil(1, kHz);
    EXPECT_EQ(f.latched_count(0), 0x9999);
}

TEST(Pit8254, LsbOnlyAndMsbOnlyAccess) {
    PitFixture f;
    f.outb(kMode, 0x14);  // LSB only, mode 2
    f.outb(kCh0, 0x80);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(0x80));
    f.clock.now = at_tick(0x10);
    EXPECT_EQ(f.inb(kCh0), 0x70);
    EXPECT_EQ(f.inb(kCh0), 0x70);  // every read is the LSB
    f.outb(kMode, 0x24);           // MSB only
    f.outb(kCh0, 0x12);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(0x1200, f.clock.now));
    EXPECT_EQ(f.inb(kCh0), 0x12);
}

TEST(Pit8254, UnlatchedWordReadsAlternateLsbMsb) {
    // quick_pit_calibrate: counter 2, mode 0, 0xffff, MSB polled without latching.
    PitFixture f;
    f.outb(kPortB, u8((f.inb(kPortB) & ~0x02) | 0x01));
    f.outb(kMode, 0xb0);
    f.outb(kCh2, 0xff);
    f.outb(kCh2, 0xff);
    f.clock.now = at_tick(256 + 3);
    EXPECT_EQ(f.inb(kCh2), 0xfc);  // 0xffff - 259 = 0xfefc
    EXPECT_EQ(f.inb(kCh2), 0xfe);
    f.clock.now = at_tick(512);
    (void)f.inb(kCh2);
    EXPECT_EQ(f.inb(kCh2), 0xfd);
}

TEST(Pit8254, LatchHoldsValueUntilReadAndSecondLatchIsIgnored) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 1000);
    f.clock.now = at_tick(100);
    f.outb(kMode, 0x00);
    f.clock.now = at_tick(200);
    f.outb(kMode, 0x00);  // ignored: the first latch is unread
    EXPECT_EQ(f.inb(kCh0), u8(900));
    f.clock.now = at_tick(300);
    EXPECT_EQ(f.inb(kCh0), 900 >> 8);
    EXPECT_EQ(f.latched_count(0), 700);
}

TEST(Pit8254, ReadBackStatusAndCount) {
    PitFixture f;
    f.outb(kMode, 0x34);
    EXPECT_EQ(f.status(0), 0x80 | 0x40 | 0x30 | 0x04);  // OUT high, null count, LSB/MSB, mode 2
    f.write_count(kCh0, 1000);
    f.clock.now = at_tick(10);
    f.outb(kMode, 0xc2);  // latch count and status of counter 0
    EXPECT_EQ(f.inb(kCh0), 0x80 | 0x30 | 0x04);
    EXPECT_EQ(f.inb(kCh0), u8(990));
    EXPECT_EQ(f.inb(kCh0), 990 >> 8);
    // Mode 0 after its control word: OUT low, null count.
    f.outb(kMode, 0xb1);  // counter 2, LSB/MSB, mode 0, BCD
    EXPECT_EQ(f.status(2), 0x40 | 0x30 | 0x00 | 0x01);
    // Count-only read-back of several counters.
    f.outb(kMode, 0xd0 | 0x02 | 0x08);
    EXPECT_EQ(f.inb(kCh0), u8(990));
}

TEST(Pit8254, Mode2CountRewriteTakesEffectAtPeriodEnd) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 1000);
    f.clock.now = at_tick(300);
    f.write_count(kCh0, 400);
    EXPECT_TRUE(f.status(0) & 0x40);  // null count until the reload
    EXPECT_EQ(f.latched_count(0), 700);
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(1000));
    f.run_until(at_tick(1000));
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(1400));
    EXPECT_FALSE(f.status(0) & 0x40);
    f.clock.now = at_tick(1100);
    EXPECT_EQ(f.latched_count(0), 300);
}

TEST(Pit8254, LinuxPitCalibrateTscWithPortB) {
    // arch/x86/kernel/tsc.c pit_calibrate_tsc: gate on, speaker off, mode 0 on
    // counter 2, then poll port 0x61 bit 5 for OUT2.
    PitFixture f;
    f.clock.now = 5'000'000;
    f.outb(kPortB, u8((f.inb(kPortB) & ~0x02) | 0x01));
    EXPECT_TRUE(f.pit.gate(2));
    EXPECT_FALSE(f.port_b.speaker_data_enabled());
    const u16 latch = 1193182 / (1000 / 10);
    f.outb(kMode, 0xb0);
    f.outb(kCh2, u8(latch));
    f.outb(kCh2, u8(latch >> 8));
    EXPECT_EQ(f.inb(kPortB) & 0x20, 0);
    f.clock.now = at_tick(latch, 5'000'000) - 1;
    EXPECT_EQ(f.inb(kPortB) & 0x20, 0);
    f.clock.now = at_tick(latch, 5'000'000);
    EXPECT_EQ(f.inb(kPortB) & 0x20, 0x20);
    EXPECT_TRUE(f.lines.events.empty());  // counter 2 has no IRQ
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
}

TEST(Pit8254, PortBRefreshToggleAndWritableBits) {
    PitFixture f;
    const u8 first = f.inb(kPortB);
    const u8 second = f.inb(kPortB);
    EXPECT_NE(first & 0x10, second & 0x10);
    f.outb(kPortB, 0xff);
    EXPECT_EQ(f.inb(kPortB) & 0x0f, 0x0f);
    EXPECT_TRUE(f.port_b.speaker_data_enabled());
    EXPECT_FALSE(f.port_b.serr_nmi_enabled());
    f.port_b.set_serr_nmi_status(true);  // disabled: no status
    EXPECT_EQ(f.inb(kPortB) & 0x80, 0);
    f.outb(kPortB, 0x00);
    f.port_b.set_serr_nmi_status(true);
    f.port_b.set_iochk_nmi_status(true);
    EXPECT_EQ(f.inb(kPortB) & 0xc0, 0xc0);
    f.outb(kPortB, 0x08);  // disabling IOCHK clears its status
    EXPECT_EQ(f.inb(kPortB) & 0xc0, 0x80);
    EXPECT_EQ(f.port_b.port_read(0x62, 1), 0xffu);
}

TEST(Pit8254, GateLowSuspendsMode0) {
    PitFixture f;
    f.outb(kMode, 0xb0);
    f.write_count(kCh2, 100);  // gate 2 is low at power-on
    f.clock.now = at_tick(1000);
    EXPECT_EQ(f.latched_count(2), 100);
    EXPECT_FALSE(f.pit.output(2));
    const u64 start = f.clock.now;
    f.outb(kPortB, 0x01);
    f.clock.now = at_tick(40, start);
    EXPECT_EQ(f.latched_count(2), 60);
    f.outb(kPortB, 0x00);
    f.clock.now = at_tick(500, start);
    EXPECT_EQ(f.latched_count(2), 60);
    const u64 resume = f.clock.now;
    f.outb(kPortB, 0x01);
    f.clock.now = at_tick(60, resume);
    EXPECT_TRUE(f.pit.output(2));
}

TEST(Pit8254, GateInModes2And3ForcesOutHighAndReloads) {
    PitFixture f;
    f.outb(kPortB, 0x01);
    f.outb(kMode, 0xb4);  // counter 2, mode 2
    f.write_count(kCh2, 100);
    f.clock.now = at_tick(99);
    EXPECT_FALSE(f.pit.output(2));
    f.outb(kPortB, 0x00);
    EXPECT_TRUE(f.pit.output(2));
    const u64 restart = at_tick(5000);
    f.clock.now = restart;
    f.outb(kPortB, 0x01);  // rising GATE reloads
    f.clock.now = at_tick(10, restart);
    EXPECT_EQ(f.latched_count(2), 90);
}

TEST(Pit8254, Mode1HardwareOneShotTriggeredByGate) {
    PitFixture f;
    f.outb(kMode, 0xb2);  // counter 2, mode 1
    f.write_count(kCh2, 50);
    EXPECT_TRUE(f.pit.output(2));
    f.clock.now = 1'000'000;
    f.outb(kPortB, 0x01);  // trigger
    EXPECT_FALSE(f.pit.output(2));
    f.clock.now = at_tick(50, 1'000'000);
    EXPECT_TRUE(f.pit.output(2));
    f.outb(kPortB, 0x00);
    f.clock.now = 2'000'000;
    f.outb(kPortB, 0x01);  // retrigger
    EXPECT_FALSE(f.pit.output(2));
}

TEST(Pit8254, Mode5HardwareStrobe) {
    PitFixture f;
    f.outb(kMode, 0xba);  // counter 2, mode 5
    f.write_count(kCh2, 20);
    f.clock.now = at_tick(100);
    EXPECT_TRUE(f.pit.output(2));
    const u64 trigger = f.clock.now;
    f.outb(kPortB, 0x01);
    f.clock.now = at_tick(20, trigger);
    EXPECT_FALSE(f.pit.output(2));
    f.clock.now = at_tick(21, trigger);
    EXPECT_TRUE(f.pit.output(2));
}

TEST(Pit8254, ReprogrammingCatchesUpWithADueEdge) {
    PitFixture f;
    f.outb(kMode, 0x34);
    f.write_count(kCh0, 100);
    f.clock.now = at_tick(150);  // the edge at 100 is due but nobody advanced
    f.outb(kMode, 0x30);
    EXPECT_EQ(f.lines.raises(0), 1);
}

TEST(Pit8254, ControlPortReadsFloatingAndWideAccessSplits) {
    PitFixture f;
    EXPECT_EQ(f.inb(kMode), 0xff);
    f.outb(kMode, 0x34);
    f.pit.port_write(kCh0, 2, 0x3412);  // two byte cycles: 0x40 gets 0x12 (the LSB), 0x41 gets 0x34
    EXPECT_EQ(f.pit.next_deadline_ns(), kNoDeadline);
    f.pit.port_write(kCh0, 1, 0x10);  // the MSB completes counter 0's count
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(0x1012));
}

TEST(Pit8254, FarFutureClockDoesNotOverflow) {
    PitFixture f;
    f.clock.now = 1'000'000'000ull * kNsPerSecond;  // ~31 years of uptime
    f.outb(kMode, 0x34);
    f.write_count(kCh0, kLinuxLatch);
    const u64 start = f.clock.now;
    EXPECT_EQ(f.pit.next_deadline_ns(), at_tick(kLinuxLatch, start));
    f.run_until(start + 3'600'000'000'000ull);  // an hour later
    EXPECT_EQ(f.lines.raises(0), 1);
    EXPECT_GT(f.pit.next_deadline_ns(), f.clock.now);
    EXPECT_LE(f.pit.next_deadline_ns() - f.clock.now, ticks_to_ns_ceil(kLinuxLatch, kHz));
}

TEST(Pit8254, GarbageNeverWedgesTheModel) {
    PitFixture f;
    u32 seed = 987654321;
    for (int i = 0; i < 50000; ++i) {
        seed = seed * 1103515245u + 12345u;
        const u16 ports[] = {0x40, 0x41, 0x42, 0x43, 0x61};
        const u16 port = ports[(seed >> 8) % 5];
        const u8 value = u8(seed >> 16);
        switch ((seed >> 24) % 4) {
            case 0:
            case 1: f.outb(port, value); break;
            case 2: (void)f.inb(port); break;
            default: f.clock.now += (seed >> 4) % 200000;
        }
        f.pit.advance_to(f.clock.now);
        const u64 deadline = f.pit.next_deadline_ns();
        ASSERT_TRUE(deadline == kNoDeadline || deadline > f.clock.now);
    }
}

// ISA IRQs wired to the PIC pair, as the platform does.
class PicLines final : public InterruptLines {
public:
    Pic8259Pair pic;
    void set_isa_irq(u8 irq, bool high) override { pic.set_irq(irq, high); }
};

TEST(Pit8254, PeriodicTicksReachThePicAsEdges) {
    FakeClock clock;
    PicLines lines;
    Pit8254 pit(clock, lines);
    // init_8259A with IRQ 0 unmasked.
    for (u8 value : {0x11, 0x30, 0x04, 0x01}) lines.pic.port_write(value == 0x11 ? 0x20 : 0x21, 1, value);
    lines.pic.port_write(0x21, 1, 0xfe);
    pit.port_write(kMode, 1, 0x34);
    pit.port_write(kCh0, 1, u8(kLinuxLatch));
    pit.port_write(kCh0, 1, kLinuxLatch >> 8);
    for (u64 tick = 1; tick <= 3; ++tick) {
        clock.now = at_tick(tick * kLinuxLatch);
        pit.advance_to(clock.now);
        ASSERT_TRUE(lines.pic.interrupt_pending());
        EXPECT_EQ(lines.pic.acknowledge(), 0x30);
        lines.pic.port_write(0x20, 1, 0x60);  // specific EOI, IR0
        EXPECT_FALSE(lines.pic.interrupt_pending());
    }
}

}  // namespace
