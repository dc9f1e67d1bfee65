#include "kernel/vm/devices/apic/virtual_lapic.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"

namespace {

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return now; }
    u64 now = 0;
};

class RecordingSink final : public ApicMessageSink {
public:
    u32 send_message(const ApicMessage& message) override {
        messages.push_back(message);
        return 1;
    }
    std::vector<ApicMessage> messages;
};

class RecordingWakeup final : public ApicWakeup {
public:
    void wake_vcpu(u32 index) override { woken.push_back(index); }
    std::vector<u32> woken;
};

class RecordingEoi final : public EoiListener {
public:
    void eoi(u8 vector) override { vectors.push_back(vector); }
    std::vector<u8> vectors;
};

class FakePic final : public ExtIntSource {
public:
    bool extint_pending() const override { return intr; }
    u8 extint_acknowledge() override {
        intr = false;
        return vector;
    }
    bool intr = false;
    u8 vector = 0x20;
};

constexpr u32 kSvrEnabled = 0x1ff;  // software enabled, spurious vector 0xFF
constexpr u32 kLvtMasked = 1u << 16;
constexpr u32 kTimerPeriodic = 1u << 17;
constexpr u32 kTimerTscDeadline = 2u << 17;
constexpr u64 kXapicBase = lapic::kDefaultApicBase | lapic::kApicBaseEnable;
constexpr u64 kX2apicBase = kXapicBase | lapic::kApicBaseX2apic;
constexpr u32 kMsrTpr = 0x808, kMsrPpr = 0x80a, kMsrEoi = 0x80b, kMsrLdr = 0x80d, kMsrSvr = 0x80f;
constexpr u32 kMsrEsr = 0x828, kMsrIcr = 0x830, kMsrLvtTimer = 0x832, kMsrSelfIpi = 0x83f;

// One LAPIC with fakes around it; the TSC runs at 2 GHz and read 1000 at time 0.
struct Rig {
    explicit Rig(LapicConfig config = {}) : lapic(config, clock, tsc) {
        lapic.connect(&sink, &wakeup, 3);
        lapic.set_eoi_listener(&eoi);
        lapic.set_extint_source(&pic);
    }
    void enable() { lapic.mmio_write(lapic::kSvr, kSvrEnabled); }
    void enable_x2apic() {
        ASSERT_TRUE(lapic.write_apic_base(kX2apicBase));
        ASSERT_TRUE(lapic.msr_write(kMsrSvr, kSvrEnabled));
    }
    u32 read(u32 offset) { return lapic.mmio_read(offset); }
    void write(u32 offset, u32 value) { lapic.mmio_write(offset, value); }
    // ESR as Linux reads it: write, then read.
    u32 esr() {
        write(lapic::kEsr, 0);
        return read(lapic::kEsr);
    }

    FakeClock clock;
    LinearGuestTsc tsc{2'000'000'000, 1000};
    RecordingSink sink;
    RecordingWakeup wakeup;
    RecordingEoi eoi;
    FakePic pic;
    VirtualLapic lapic;
};

LapicConfig config_with_id(u32 id, bool bsp = false) {
    LapicConfig config;
    config.apic_id = id;
    config.bsp = bsp;
    return config;
}

// --- Arithmetic ---------------------------------------------------------------------------

TEST(LapicTimeMath, MulDivUsesAWideProduct) {
    EXPECT_EQ(mul_div_floor(10, 3, 4), 7u);
    EXPECT_EQ(mul_div_ceil(10, 3, 4), 8u);
    EXPECT_EQ(mul_div_ceil(12, 3, 4), 9u);
    // 2^64-1 * 10^9 / 10^9: the product needs 94 bits.
    EXPECT_EQ(mul_div_floor(~0ull, 1'000'000'000, 1'000'000'000), ~0ull);
    EXPECT_EQ(mul_div_floor(1ull << 62, 1'000'000'000, 3'000'000'000), (1ull << 62) / 3);
    EXPECT_EQ(mul_div_floor(0xffffffffull * 128, 1'000'000'000, 100'000'000), 0xffffffffull * 1280);
    EXPECT_EQ(mul_div_floor(~0ull, 2, 1), ~0ull);  // overflow saturates
    EXPECT_EQ(mul_div_floor(5, 5, 0), ~0ull);
}

TEST(LapicTimeMath, LinearTscConvertsBothWays) {
    LinearGuestTsc tsc(3'000'000'000, 500);
    EXPECT_EQ(tsc.tsc_at(0), 500u);
    EXPECT_EQ(tsc.tsc_at(1'000'000), 3'000'500u);
    EXPECT_EQ(tsc.ns_when_tsc_reaches(3'000'500), 1'000'000u);
    EXPECT_EQ(tsc.ns_when_tsc_reaches(3'000'501), 1'000'001u);  // rounded up
    EXPECT_EQ(tsc.ns_when_tsc_reaches(100), 0u);                // already passed
    // The guest sets its TSC to 0 at 1 s: the offset goes negative.
    tsc.set_tsc(1'000'000'000, 0);
    EXPECT_EQ(tsc.tsc_at(1'000'000'000), 0u);
    EXPECT_EQ(tsc.ns_when_tsc_reaches(3'000), 1'000'001'000u);
    EXPECT_EQ(tsc.ns_when_tsc_reaches(~0ull), ~0ull);  // beyond 2^64 ticks: never
}

// --- Timer alone ----------------------------------------------------------------------------

TEST(LapicTimer, DivideConfigurationEncodings) {
    LapicTimer timer(1'000'000'000);
    const u32 expected[8] = {2, 4, 8, 16, 32, 64, 128, 1};
    for (u32 n = 0; n < 8; ++n) {
        const u32 config = (n & 3) | ((n & 4) << 1);
        timer.set_divide_config(config, 0);
        EXPECT_EQ(timer.divisor(), expected[n]) << "config " << config;
        EXPECT_EQ(timer.divide_config(), config);
    }
    timer.set_divide_config(0xffffffff, 0);
    EXPECT_EQ(timer.divide_config(), 0xbu);  // bit 2 and the rest are reserved
}

TEST(LapicTimer, DivideChangeContinuesFromTheCurrentCount) {
    LapicTimer timer(1'000'000'000);
    timer.set_divide_config(0xb, 0);  // divide by 1
    timer.set_initial_count(1000, 0);
    EXPECT_EQ(timer.current_count(400), 600u);
    timer.set_divide_config(0x0, 400);  // divide by 2: 600 ticks left take 1200 ns
    EXPECT_EQ(timer.current_count(400), 600u);
    EXPECT_EQ(timer.current_count(600), 500u);
    EXPECT_EQ(timer.next_expiry_ns(), 1600u);
}

TEST(LapicTimer, SlowBusClockRoundsDeadlinesUp) {
    LapicTimer timer(3);  // 3 Hz: one tick every 333,333,333.3 ns
    timer.set_divide_config(0xb, 0);
    timer.set_initial_count(1, 0);
    EXPECT_EQ(timer.next_expiry_ns(), 333'333'334u);
    EXPECT_EQ(timer.current_count(333'333'333), 1u);
    EXPECT_EQ(timer.current_count(333'333'334), 0u);
    EXPECT_FALSE(timer.advance_to(333'333'333));
    EXPECT_TRUE(timer.advance_to(333'333'334));
}

TEST(LapicTimer, HugeCountsDoNotOverflow) {
    LapicTimer timer(1000);  // 1 kHz, divide by 128, 2^32-1 ticks: ~17 years
    timer.set_divide_config(0xa, 0);
    timer.set_initial_count(0xffffffff, 5);
    EXPECT_EQ(timer.next_expiry_ns(), 5 + 0xffffffffull * 128 * 1'000'000);
    EXPECT_EQ(timer.current_count(128'000'000ull * 10 + 5), 0xffffffffu - 10);
    LapicTimer slowest(1);  // 1 Hz: ~17,400 years, beyond 2^64 ns: never
    slowest.set_divide_config(0xa, 0);
    slowest.set_initial_count(0xffffffff, 5);
    EXPECT_EQ(slowest.next_expiry_ns(), kNoDeadline);
    EXPECT_EQ(slowest.current_count(1'000'000'000ull * 128 * 10 + 5), 0xffffffffu - 10);
    EXPECT_FALSE(slowest.advance_to(~0ull - 1));
}

// --- Registers ---------------------------------------------------------------------------

TEST(VirtualLapic, PowerUpState) {
    Rig rig(config_with_id(5, true));
    EXPECT_EQ(rig.lapic.apic_base(), 0xfee00900u);  // enabled, BSP
    EXPECT_EQ(rig.read(lapic::kId), 5u << 24);
    EXPECT_EQ(rig.read(lapic::kVersion), 0x50014u);
    EXPECT_EQ(rig.read(lapic::kSvr), 0xffu);
    EXPECT_EQ(rig.read(lapic::kDfr), 0xffffffffu);
    EXPECT_EQ(rig.read(lapic::kTpr), 0u);
    for (u32 offset = lapic::kLvtTimer; offset <= lapic::kLvtError; offset += 16)
        EXPECT_EQ(rig.read(offset), kLvtMasked) << std::hex << offset;
    EXPECT_FALSE(rig.lapic.sw_enabled());
    EXPECT_FALSE(rig.lapic.wait_for_sipi());
    Rig ap(config_with_id(1));
    EXPECT_EQ(ap.lapic.apic_base(), 0xfee00800u);
    EXPECT_TRUE(ap.lapic.wait_for_sipi());
}

TEST(VirtualLapic, ReadOnlyRegistersIgnoreWrites) {
    Rig rig(config_with_id(2));
    rig.write(lapic::kId, 0x7f000000);
    rig.write(lapic::kVersion, 0);
    rig.write(lapic::kPpr, 0xff);
    rig.write(lapic::kIrr, ~0u);
    EXPECT_EQ(rig.read(lapic::kId), 2u << 24);
    EXPECT_EQ(rig.read(lapic::kVersion), 0x50014u);
    EXPECT_EQ(rig.read(lapic::kPpr), 0u);
    EXPECT_EQ(rig.read(lapic::kIrr), 0u);
    EXPECT_EQ(rig.esr(), 0u);  // read-only is not "illegal register"
}

TEST(VirtualLapic, SoftwareDisableKeepsLvtEntriesMasked) {
    Rig rig;
    rig.write(lapic::kLvtLint0, 0x700);  // ExtINT, unmasked: forced masked while disabled
    EXPECT_EQ(rig.read(lapic::kLvtLint0), 0x700u | kLvtMasked);
    rig.enable();
    EXPECT_EQ(rig.read(lapic::kLvtLint0), 0x700u | kLvtMasked);  // enabling does not unmask
    rig.write(lapic::kLvtLint0, 0x700);
    rig.write(lapic::kLvtTimer, 0x30);
    EXPECT_EQ(rig.read(lapic::kLvtLint0), 0x700u);
    rig.write(lapic::kSvr, 0xff);
    EXPECT_EQ(rig.read(lapic::kLvtLint0), 0x700u | kLvtMasked);
    EXPECT_EQ(rig.read(lapic::kLvtTimer), 0x30u | kLvtMasked);
}

TEST(VirtualLapic, LvtWritableBits) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kLvtTimer, ~0u);
    EXPECT_EQ(rig.read(lapic::kLvtTimer), 0x700ffu);  // vector, mask, mode; no delivery status
    rig.write(lapic::kLvtLint1, ~0u);
    EXPECT_EQ(rig.read(lapic::kLvtLint1), 0x1a7ffu);  // no remote IRR, no delivery status
    rig.write(lapic::kLvtError, ~0u);
    EXPECT_EQ(rig.read(lapic::kLvtError), 0x100ffu);
    rig.write(lapic::kDfr, 0);
    EXPECT_EQ(rig.read(lapic::kDfr), 0x0fffffffu);
    rig.write(lapic::kLdr, ~0u);
    EXPECT_EQ(rig.read(lapic::kLdr), 0xff000000u);
    rig.write(lapic::kSvr, ~0u);
    EXPECT_EQ(rig.read(lapic::kSvr), 0x3ffu);  // no EOI-broadcast suppression advertised
}

TEST(VirtualLapic, SizedMmioAccesses) {
    Rig rig;
    rig.write(lapic::kTpr, 0x5a);
    EXPECT_EQ(rig.lapic.mmio_read_sized(lapic::kTpr, 1), 0x5au);
    EXPECT_EQ(rig.lapic.mmio_read_sized(lapic::kVersion + 2, 1), 0x05u);
    EXPECT_EQ(rig.lapic.mmio_read_sized(lapic::kVersion, 2), 0x14u);
    EXPECT_EQ(rig.lapic.mmio_read_sized(lapic::kVersion, 8), 0u);  // beyond the dword
    EXPECT_EQ(rig.lapic.mmio_read_sized(lapic::kVersion + 4, 4), 0u);
    rig.lapic.mmio_write_sized(lapic::kTpr, 1, 0x10);  // not 32-bit: ignored
    rig.lapic.mmio_write_sized(lapic::kTpr + 4, 4, 0x10);
    EXPECT_EQ(rig.read(lapic::kTpr), 0x5au);
    rig.lapic.mmio_write_sized(lapic::kTpr, 4, 0x10);
    EXPECT_EQ(rig.read(lapic::kTpr), 0x10u);
    EXPECT_EQ(rig.lapic.mmio_read_sized(0x2000, 4), 0u);
}

TEST(VirtualLapic, ReservedRegisterSetsIllegalRegisterAddress) {
    Rig rig;
    EXPECT_EQ(rig.read(lapic::kLvtCmci), 0u);  // only 6 LVT entries
    EXPECT_EQ(rig.esr(), lapic::kEsrIllegalRegister);
    rig.write(lapic::kSelfIpi, 0x40);  // x2APIC only
    EXPECT_EQ(rig.esr(), lapic::kEsrIllegalRegister);
    EXPECT_TRUE(rig.sink.messages.empty());
    EXPECT_EQ(rig.esr(), 0u);
}

// --- Priority and acceptance ---------------------------------------------------------------

TEST(VirtualLapic, PendingVectorFollowsPriorityClasses) {
    Rig rig;
    rig.enable();
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_TRUE(rig.lapic.accept_fixed(0x31, false));
    EXPECT_TRUE(rig.lapic.accept_fixed(0x45, false));
    EXPECT_EQ(rig.lapic.pending_vector(), 0x45);
    EXPECT_EQ(rig.read(lapic::kIrr + 0x10), 1u << (0x31 - 32));
    EXPECT_EQ(rig.read(lapic::kIrr + 0x20), 1u << (0x45 - 64));
    rig.write(lapic::kTpr, 0x40);  // class 4 is not above PPR class 4
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    rig.write(lapic::kTpr, 0x3f);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x45);
    rig.lapic.acknowledge(0x45);
    EXPECT_TRUE(rig.lapic.in_isr(0x45));
    EXPECT_FALSE(rig.lapic.in_irr(0x45));
    EXPECT_EQ(rig.read(lapic::kPpr), 0x40u);                         // in-service class outranks TPR
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);  // 0x31 blocked
    EXPECT_TRUE(rig.lapic.accept_fixed(0x51, false));
    EXPECT_EQ(rig.lapic.pending_vector(), 0x51);  // nesting
    rig.lapic.acknowledge(0x51);
    rig.write(lapic::kEoi, 0);  // retires 0x51, the highest in service
    EXPECT_FALSE(rig.lapic.in_isr(0x51));
    EXPECT_TRUE(rig.lapic.in_isr(0x45));
    rig.write(lapic::kEoi, 0);
    EXPECT_EQ(rig.read(lapic::kPpr), 0x3fu);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);  // 0x31: class 3, PPR class 3
    rig.write(lapic::kTpr, 0);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x31);
    rig.lapic.acknowledge(0x99);  // not requested: ignored
    EXPECT_FALSE(rig.lapic.in_isr(0x99));
}

// A fixed interrupt that arrives again while the first of its vector is on its way into
// the CPU is a second interrupt, not merged into the first (the lost-IPI hang of two
// vCPUs ping-ponging IPIs).
TEST(VirtualLapic, TheSameVectorArrivingWhileInFlightStaysPending) {
    Rig rig;
    rig.enable();
    ASSERT_TRUE(rig.lapic.accept_fixed(0x45, false));
    rig.lapic.mark_in_flight(0x45);
    ASSERT_TRUE(rig.lapic.accept_fixed(0x45, false));  // the IPI again, before the exit
    rig.lapic.acknowledge(0x45);                       // the first was taken
    EXPECT_TRUE(rig.lapic.in_isr(0x45));
    EXPECT_TRUE(rig.lapic.in_irr(0x45)) << "the second is pending";
    rig.write(lapic::kEoi, 0);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x45) << "and delivered after the EOI";
    rig.lapic.mark_in_flight(0x45);
    rig.lapic.acknowledge(0x45);
    EXPECT_FALSE(rig.lapic.in_irr(0x45)) << "no third";
    // Without a second arrival, acknowledging clears IRR as before.
    ASSERT_TRUE(rig.lapic.accept_fixed(0x50, false));
    rig.lapic.mark_in_flight(0x50);
    rig.lapic.acknowledge(0x50);
    EXPECT_FALSE(rig.lapic.in_irr(0x50));
}

TEST(VirtualLapic, PprAndAprValues) {
    Rig rig;
    rig.enable();
    rig.lapic.accept_fixed(0x31, false);
    rig.lapic.acknowledge(0x31);
    rig.write(lapic::kTpr, 0x25);
    EXPECT_EQ(rig.read(lapic::kPpr), 0x30u);
    rig.write(lapic::kTpr, 0x35);
    EXPECT_EQ(rig.read(lapic::kPpr), 0x35u);
    rig.write(lapic::kTpr, 0x45);
    EXPECT_EQ(rig.read(lapic::kApr), 0x45u);  // TPR outranks ISR and IRR
    rig.lapic.accept_fixed(0x61, false);
    EXPECT_EQ(rig.read(lapic::kApr), 0x60u);
}

TEST(VirtualLapic, IllegalVectorsAreRefusedAndLogged) {
    Rig rig;
    rig.enable();
    EXPECT_FALSE(rig.lapic.accept_fixed(15, false));
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_EQ(rig.read(lapic::kEsr), 0u);  // visible only after an ESR write
    EXPECT_EQ(rig.esr(), lapic::kEsrReceiveIllegalVector);
    EXPECT_EQ(rig.esr(), 0u);
    rig.write(lapic::kIcrHigh, 1u << 24);
    rig.write(lapic::kIcrLow, 0x4003);  // fixed, vector 3
    EXPECT_TRUE(rig.sink.messages.empty());
    EXPECT_EQ(rig.esr(), lapic::kEsrSendIllegalVector);
    rig.write(lapic::kIcrLow, 0x4402);  // NMI ignores the vector field
    EXPECT_EQ(rig.sink.messages.size(), 1u);
    EXPECT_EQ(rig.esr(), 0u);
}

TEST(VirtualLapic, ErrorInterruptThroughLvtError) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kLvtError, 0xfe);
    rig.lapic.accept_fixed(3, false);
    EXPECT_EQ(rig.lapic.pending_vector(), 0xfe);
    // An illegal error vector adds "receive illegal vector" without another interrupt.
    rig.write(lapic::kLvtError, 0x05);
    rig.esr();
    rig.write(lapic::kIcrLow, 0x4001);
    EXPECT_EQ(rig.esr(), lapic::kEsrSendIllegalVector | lapic::kEsrReceiveIllegalVector);
}

TEST(VirtualLapic, DisabledApicsRefuseFixedInterrupts) {
    Rig rig;
    EXPECT_FALSE(rig.lapic.accept_fixed(0x40, false));  // software disabled
    EXPECT_TRUE(rig.lapic.accept_nmi());                // NMI, INIT, SIPI still accepted
    EXPECT_TRUE(rig.lapic.take_nmi());
    EXPECT_FALSE(rig.lapic.take_nmi());
    rig.enable();
    ASSERT_TRUE(rig.lapic.write_apic_base(lapic::kDefaultApicBase));  // hardware disabled
    EXPECT_FALSE(rig.lapic.accept_fixed(0x40, false));
    EXPECT_FALSE(rig.lapic.accept_nmi());
    EXPECT_FALSE(rig.lapic.accept_init());
    EXPECT_EQ(rig.read(lapic::kVersion), 0xffffffffu);  // the page is gone: the bus floats high
}

TEST(VirtualLapic, AcceptanceWakesTheVcpu) {
    Rig rig;
    rig.enable();
    rig.lapic.accept_fixed(0x40, false);
    rig.lapic.accept_nmi();
    ASSERT_EQ(rig.wakeup.woken.size(), 2u);
    EXPECT_EQ(rig.wakeup.woken[0], 3u);
}

// --- EOI ---------------------------------------------------------------------------------

TEST(VirtualLapic, EoiBroadcastsLevelTriggeredVectorsOnly) {
    Rig rig;
    rig.enable();
    rig.lapic.accept_fixed(0x50, true);
    rig.lapic.accept_fixed(0x40, false);
    EXPECT_TRUE(rig.lapic.in_tmr(0x50));
    EXPECT_FALSE(rig.lapic.in_tmr(0x40));
    EXPECT_EQ(rig.read(lapic::kTmr + 0x20), 1u << 0x10);
    rig.lapic.acknowledge(0x50);
    rig.lapic.acknowledge(0x40);
    rig.write(lapic::kEoi, 0);
    ASSERT_EQ(rig.eoi.vectors.size(), 1u);
    EXPECT_EQ(rig.eoi.vectors[0], 0x50);
    rig.write(lapic::kEoi, 0);  // 0x40: edge
    rig.write(lapic::kEoi, 0);  // nothing in service
    EXPECT_EQ(rig.eoi.vectors.size(), 1u);
    // A later edge acceptance of the same vector clears its TMR bit.
    rig.lapic.accept_fixed(0x50, false);
    EXPECT_FALSE(rig.lapic.in_tmr(0x50));
}

TEST(VirtualLapic, EoiBroadcastSuppression) {
    LapicConfig config;
    config.eoi_broadcast_suppression = true;
    Rig rig(config);
    EXPECT_EQ(rig.read(lapic::kVersion), 0x1050014u);
    rig.write(lapic::kSvr, kSvrEnabled | lapic::kSvrSuppressEoiBroadcast);
    EXPECT_EQ(rig.read(lapic::kSvr), kSvrEnabled | lapic::kSvrSuppressEoiBroadcast);
    rig.lapic.accept_fixed(0x50, true);
    rig.lapic.acknowledge(0x50);
    rig.write(lapic::kEoi, 0);
    EXPECT_TRUE(rig.eoi.vectors.empty());
    EXPECT_FALSE(rig.lapic.in_isr(0x50));
}

// --- Timer through the registers ---------------------------------------------------------

TEST(VirtualLapic, OneShotTimer) {
    Rig rig;
    rig.enable();
    rig.clock.now = 1000;
    rig.write(lapic::kTimerDivide, 0xb);  // divide by 1: 1 tick per ns at 1 GHz
    rig.write(lapic::kLvtTimer, 0x30);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    rig.write(lapic::kTimerInitialCount, 500);
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 500u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 1500u);
    rig.clock.now = 1200;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 300u);
    rig.lapic.advance_to(1499);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    rig.lapic.advance_to(1500);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x30);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    rig.clock.now = 5000;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 0u);
    rig.write(lapic::kTimerInitialCount, 0);  // stop
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
}

TEST(VirtualLapic, PeriodicTimerAt100MHz) {
    LapicConfig config;
    config.timer_hz = 100'000'000;
    Rig rig(config);
    rig.enable();
    rig.write(lapic::kTimerDivide, 0x3);  // divide by 16
    rig.write(lapic::kLvtTimer, kTimerPeriodic | 0xef);
    rig.write(lapic::kTimerInitialCount, 625'000);  // 625000 * 16 / 100 MHz = 100 ms
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 100'000'000u);
    rig.lapic.advance_to(100'000'000);
    EXPECT_EQ(rig.lapic.pending_vector(), 0xef);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 200'000'000u);
    rig.clock.now = 150'000'000;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 312'500u);
    rig.clock.now = 200'000'000;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 625'000u);  // reloaded
    // Late: expiries at 200 and 300 ms coalesce into one interrupt.
    rig.lapic.acknowledge(0xef);
    rig.write(lapic::kEoi, 0);
    rig.lapic.advance_to(350'000'000);
    EXPECT_EQ(rig.lapic.pending_vector(), 0xef);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 400'000'000u);
}

TEST(VirtualLapic, TinyPeriodsAreRateLimited) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kTimerDivide, 0xb);
    rig.write(lapic::kLvtTimer, kTimerPeriodic | 0x40);
    rig.write(lapic::kTimerInitialCount, 1);  // 1 ns period
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 1u);
    rig.lapic.advance_to(10);
    EXPECT_GT(rig.lapic.next_deadline_ns(), 10 + LapicTimer::kMinPeriodicIntervalNs);
    EXPECT_LE(rig.lapic.next_deadline_ns(), 11 + LapicTimer::kMinPeriodicIntervalNs);
}

TEST(VirtualLapic, MaskedTimerExpiryIsLost) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kTimerDivide, 0xb);
    rig.write(lapic::kLvtTimer, kLvtMasked | 0x30);
    rig.write(lapic::kTimerInitialCount, 100);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);  // nothing to wake up for
    rig.clock.now = 500;
    rig.write(lapic::kLvtTimer, 0x30);  // unmasking after the expiry: no interrupt
    rig.lapic.advance_to(500);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
}

TEST(VirtualLapic, DueExpiryIsDeliveredBeforeTheCountIsRewritten) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kTimerDivide, 0xb);
    rig.write(lapic::kLvtTimer, 0x30);
    rig.write(lapic::kTimerInitialCount, 100);
    rig.clock.now = 150;  // due, but the platform has not called advance_to yet
    rig.write(lapic::kTimerInitialCount, 100);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x30);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 250u);
}

// Only a change to or from TSC-deadline mode disarms the timer (SDM vol. 3A 11.5.4.1);
// between one-shot and periodic the count runs on, and only what happens at 0 changes.
TEST(VirtualLapic, TimerModeChanges) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kTimerDivide, 0xb);  // divide by 1: a tick a nanosecond
    rig.write(lapic::kLvtTimer, 0x30);
    rig.write(lapic::kTimerInitialCount, 1000);
    rig.clock.now = 400;
    rig.write(lapic::kLvtTimer, kTimerPeriodic | 0x30);  // one-shot -> periodic mid-count
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 1000u);
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 600u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 1000u);
    rig.lapic.advance_to(1000);  // fires, and reloads: periodic now
    EXPECT_EQ(rig.lapic.pending_vector(), 0x30);
    rig.clock.now = 1300;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 700u);
    rig.write(lapic::kLvtTimer, 0x30);  // periodic -> one-shot: counts down from 700, then stops
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 700u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 2000u);
    rig.clock.now = 2500;
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 0u);
    rig.write(lapic::kLvtTimer, kTimerPeriodic | 0x31);  // expired one-shot: stays stopped
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 0u);
    // To TSC-deadline mode and back: disarmed, the initial count gone.
    rig.write(lapic::kTimerInitialCount, 1000);
    rig.write(lapic::kLvtTimer, kTimerTscDeadline | 0x30);
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 0u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    rig.write(lapic::kLvtTimer, kTimerPeriodic | 0x30);
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 0u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
}

TEST(VirtualLapic, TscDeadlineTimer) {
    Rig rig;  // TSC: 2 GHz, 1000 at time 0
    rig.enable();
    rig.lapic.write_tsc_deadline(5000);  // one-shot mode: ignored
    EXPECT_EQ(rig.lapic.read_tsc_deadline(), 0u);
    rig.write(lapic::kLvtTimer, kTimerTscDeadline | 0xec);
    rig.write(lapic::kTimerInitialCount, 1000);  // ignored in TSC-deadline mode
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 0u);
    u64 value = 0;
    ASSERT_TRUE(rig.lapic.msr_write(lapic::kTscDeadlineMsr, 1000 + 2'000'000));  // 1 ms
    ASSERT_TRUE(rig.lapic.msr_read(lapic::kTscDeadlineMsr, value));
    EXPECT_EQ(value, 2'001'000u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 1'000'000u);
    EXPECT_EQ(rig.read(lapic::kTimerCurrentCount), 0u);
    rig.lapic.advance_to(999'999);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    rig.lapic.advance_to(1'000'000);
    EXPECT_EQ(rig.lapic.pending_vector(), 0xec);
    EXPECT_EQ(rig.lapic.read_tsc_deadline(), 0u);  // cleared when it fires
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    // A deadline in the past fires at the next advance; 0 disarms.
    rig.lapic.acknowledge(0xec);
    rig.write(lapic::kEoi, 0);
    rig.clock.now = 2'000'000;
    rig.lapic.write_tsc_deadline(~0ull);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), ~0ull / 2 + 1 - 500);  // (2^64 - 1 - 1000) / 2 GHz
    rig.lapic.write_tsc_deadline(0);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    rig.lapic.write_tsc_deadline(10);
    EXPECT_LE(rig.lapic.next_deadline_ns(), 2'000'000u);
    rig.lapic.advance_to(2'000'000);
    EXPECT_EQ(rig.lapic.pending_vector(), 0xec);
}

TEST(VirtualLapic, TscDeadlineFollowsTheGuestTsc) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kLvtTimer, kTimerTscDeadline | 0xec);
    rig.lapic.write_tsc_deadline(1000 + 2'000'000);
    rig.tsc.set_tsc(0, 0);  // the guest rewinds its TSC by 1000 ticks (500 ns)
    rig.lapic.tsc_changed();
    EXPECT_EQ(rig.lapic.next_deadline_ns(), 1'000'500u);
}

// --- IPIs ---------------------------------------------------------------------------------

TEST(VirtualLapic, IcrWritesSendMessages) {
    Rig rig(config_with_id(0, true));
    rig.enable();
    // Linux's INIT: ICR high first, then INIT | level assert | level trigger.
    rig.write(lapic::kIcrHigh, 0x01000000);
    rig.write(lapic::kIcrLow, 0x0000c500);
    ASSERT_EQ(rig.sink.messages.size(), 1u);
    ApicMessage m = rig.sink.messages[0];
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::Init);
    EXPECT_TRUE(m.level_triggered);
    EXPECT_TRUE(m.level_asserted);
    EXPECT_FALSE(is_init_level_deassert(m));
    EXPECT_EQ(m.destination, 1u);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Physical);
    EXPECT_EQ(m.shorthand, ApicShorthand::None);
    EXPECT_FALSE(m.x2apic_destination);
    EXPECT_EQ(m.source_index, 3u);
    EXPECT_EQ(rig.read(lapic::kIcrLow), 0xc500u);  // delivery status idle
    rig.write(lapic::kIcrLow, 0x00008500);         // INIT level de-assert
    EXPECT_TRUE(is_init_level_deassert(rig.sink.messages[1]));
    rig.write(lapic::kIcrLow, 0x00000698);  // SIPI, vector 0x98
    m = rig.sink.messages[2];
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::StartUp);
    EXPECT_EQ(m.vector, 0x98);
    EXPECT_FALSE(m.level_triggered);
    // Fixed, logical, all excluding self.
    rig.write(lapic::kIcrLow, 0x000c08fd);
    m = rig.sink.messages[3];
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::Fixed);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Logical);
    EXPECT_EQ(m.shorthand, ApicShorthand::AllExcludingSelf);
    EXPECT_EQ(m.vector, 0xfd);
    rig.write(lapic::kIcrLow, 0xfff3ffff);  // reserved bits are dropped
    EXPECT_EQ(rig.read(lapic::kIcrLow), 0x0cfffu);
}

TEST(VirtualLapic, MsiMessageEncoding) {
    const ApicMessage m = message_from_msi(0xfee0300c, 0x8041);
    EXPECT_EQ(m.destination, 3u);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Logical);
    EXPECT_EQ(m.vector, 0x41);
    EXPECT_TRUE(m.level_triggered);
    EXPECT_EQ(m.source_index, ApicMessage::kNoSource);
}

// --- INIT, SIPI, NMI, LINT, ExtINT -------------------------------------------------------

TEST(VirtualLapic, InitResetsAndWaitsForSipi) {
    Rig rig(config_with_id(4, true));
    rig.enable();
    rig.write(lapic::kTpr, 0x20);
    rig.write(lapic::kLdr, 0x10000000);
    rig.write(lapic::kLvtTimer, 0x30);
    rig.write(lapic::kTimerInitialCount, 1000);
    rig.lapic.accept_fixed(0x40, false);
    EXPECT_TRUE(rig.lapic.accept_init());
    EXPECT_TRUE(rig.lapic.take_init());
    EXPECT_FALSE(rig.lapic.take_init());
    EXPECT_TRUE(rig.lapic.wait_for_sipi());
    EXPECT_EQ(rig.read(lapic::kId), 4u << 24);
    EXPECT_EQ(rig.read(lapic::kTpr), 0u);
    EXPECT_EQ(rig.read(lapic::kLdr), 0u);
    EXPECT_EQ(rig.read(lapic::kSvr), 0xffu);
    EXPECT_EQ(rig.read(lapic::kLvtTimer), kLvtMasked);
    EXPECT_EQ(rig.read(lapic::kTimerInitialCount), 0u);
    EXPECT_EQ(rig.lapic.next_deadline_ns(), kNoDeadline);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_EQ(rig.lapic.apic_base(), 0xfee00900u);
    u8 vector = 0;
    EXPECT_FALSE(rig.lapic.take_sipi(vector));
    EXPECT_TRUE(rig.lapic.accept_sipi(0x9a));
    EXPECT_FALSE(rig.lapic.accept_sipi(0x9b));  // the second SIPI finds it running
    EXPECT_TRUE(rig.lapic.take_sipi(vector));
    EXPECT_EQ(vector, 0x9a);
    EXPECT_FALSE(rig.lapic.take_sipi(vector));
    EXPECT_FALSE(rig.lapic.wait_for_sipi());
}

TEST(VirtualLapic, InitKeepsX2apicMode) {
    Rig rig(config_with_id(0x23));
    rig.enable_x2apic();
    rig.lapic.accept_init();
    EXPECT_TRUE(rig.lapic.x2apic_mode());
    u64 value = 0;
    ASSERT_TRUE(rig.lapic.msr_read(0x802, value));
    EXPECT_EQ(value, 0x23u);
    ASSERT_TRUE(rig.lapic.msr_read(kMsrSvr, value));
    EXPECT_EQ(value, 0xffu);
}

TEST(VirtualLapic, Lint1AsNmiAndLint0AsLevelFixed) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kLvtLint1, 0x400);  // NMI, edge
    rig.lapic.set_lint(1, true);
    EXPECT_TRUE(rig.lapic.take_nmi());
    rig.lapic.set_lint(1, true);  // no new edge
    EXPECT_FALSE(rig.lapic.take_nmi());
    // LINT0: fixed, level, active high: remote IRR until the EOI, then again.
    rig.write(lapic::kLvtLint0, 0x8000 | 0x61);
    rig.lapic.set_lint(0, true);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x61);
    EXPECT_TRUE(rig.read(lapic::kLvtLint0) & lapic::kLvtRemoteIrr);
    rig.lapic.acknowledge(0x61);
    rig.write(lapic::kEoi, 0);
    EXPECT_EQ(rig.lapic.pending_vector(), 0x61);  // still asserted
    rig.lapic.acknowledge(0x61);
    rig.lapic.set_lint(0, false);
    rig.write(lapic::kEoi, 0);
    EXPECT_EQ(rig.lapic.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_FALSE(rig.read(lapic::kLvtLint0) & lapic::kLvtRemoteIrr);
    rig.lapic.set_lint(7, true);  // no such pin
}

TEST(VirtualLapic, ExtIntThroughLint0) {
    Rig rig(config_with_id(0, true));
    rig.pic.intr = true;
    rig.pic.vector = 0x28;
    EXPECT_FALSE(rig.lapic.extint_pending());  // LINT0 masked at power-up
    rig.enable();
    rig.write(lapic::kLvtLint0, 0x700);  // ExtINT, unmasked: virtual-wire mode
    EXPECT_TRUE(rig.lapic.extint_pending());
    EXPECT_EQ(rig.lapic.acknowledge_extint(), 0x28);
    EXPECT_FALSE(rig.lapic.extint_pending());
    rig.wakeup.woken.clear();
    rig.lapic.set_lint(0, true);  // the PIC raised INTR again
    EXPECT_EQ(rig.wakeup.woken.size(), 1u);
    // An ExtINT message routes the next PIC interrupt even with LINT0 masked.
    rig.write(lapic::kLvtLint0, kLvtMasked | 0x700);
    rig.pic.intr = true;
    EXPECT_FALSE(rig.lapic.extint_pending());
    EXPECT_TRUE(rig.lapic.accept_extint());
    EXPECT_TRUE(rig.lapic.extint_pending());
    rig.lapic.acknowledge_extint();
    rig.pic.intr = true;
    EXPECT_FALSE(rig.lapic.extint_pending());
    // Hardware-disabled: LINT0 is the PIC's INTR.
    ASSERT_TRUE(rig.lapic.write_apic_base(lapic::kDefaultApicBase | lapic::kApicBaseBsp));
    EXPECT_TRUE(rig.lapic.extint_pending());
}

TEST(VirtualLapic, PendingEventsForAHaltedVcpu) {
    Rig rig;
    EXPECT_FALSE(rig.lapic.has_pending_event());
    rig.lapic.accept_nmi();
    EXPECT_TRUE(rig.lapic.has_pending_event());
    rig.lapic.take_nmi();
    rig.enable();
    rig.write(lapic::kTpr, 0xf0);
    rig.lapic.accept_fixed(0x40, false);
    EXPECT_FALSE(rig.lapic.has_pending_event());  // blocked by TPR
    rig.write(lapic::kTpr, 0);
    EXPECT_TRUE(rig.lapic.has_pending_event());
    rig.lapic.accept_init();
    EXPECT_TRUE(rig.lapic.has_pending_event());
    rig.lapic.take_init();
    EXPECT_FALSE(rig.lapic.has_pending_event());
    rig.lapic.accept_sipi(0x10);
    EXPECT_TRUE(rig.lapic.has_pending_event());
}

TEST(VirtualLapic, PlatformResetRestoresPowerUpState) {
    Rig rig(config_with_id(6, true));
    rig.enable_x2apic();
    rig.lapic.accept_fixed(0x40, false);
    rig.lapic.accept_nmi();
    rig.lapic.reset();
    EXPECT_EQ(rig.lapic.apic_base(), 0xfee00900u);
    EXPECT_TRUE(rig.lapic.mmio_enabled());
    EXPECT_EQ(rig.read(lapic::kId), 6u << 24);
    EXPECT_EQ(rig.read(lapic::kSvr), 0xffu);
    EXPECT_FALSE(rig.lapic.has_pending_event());
    EXPECT_FALSE(rig.lapic.wait_for_sipi());
    Rig ap(config_with_id(1));
    ap.lapic.accept_sipi(0x10);
    ap.lapic.reset();
    EXPECT_TRUE(ap.lapic.wait_for_sipi());
    u8 vector = 0;
    EXPECT_FALSE(ap.lapic.take_sipi(vector));
}

// --- IA32_APIC_BASE and x2APIC -------------------------------------------------------------

TEST(VirtualLapic, ApicBaseTransitions) {
    Rig rig;
    const u64 disabled = lapic::kDefaultApicBase;
    EXPECT_FALSE(rig.lapic.write_apic_base(disabled | lapic::kApicBaseX2apic));  // EN=0, EXTD=1
    EXPECT_TRUE(rig.lapic.write_apic_base(kX2apicBase));                         // xAPIC -> x2APIC
    EXPECT_FALSE(rig.lapic.write_apic_base(kXapicBase));                         // x2APIC -> xAPIC
    EXPECT_TRUE(rig.lapic.write_apic_base(kX2apicBase));                         // no change
    EXPECT_TRUE(rig.lapic.write_apic_base(disabled));                            // x2APIC -> disabled
    EXPECT_FALSE(rig.lapic.write_apic_base(kX2apicBase));                        // disabled -> x2APIC
    EXPECT_TRUE(rig.lapic.write_apic_base(kXapicBase));                          // disabled -> xAPIC
    EXPECT_TRUE(rig.lapic.write_apic_base(disabled));                            // xAPIC -> disabled
    EXPECT_TRUE(rig.lapic.write_apic_base(kXapicBase));
    // Reserved bits: 7:0, 9, and beyond MAXPHYADDR (36 by default).
    EXPECT_FALSE(rig.lapic.write_apic_base(kXapicBase | 1));
    EXPECT_FALSE(rig.lapic.write_apic_base(kXapicBase | (1u << 9)));
    EXPECT_FALSE(rig.lapic.write_apic_base(kXapicBase | (1ull << 36)));
    EXPECT_TRUE(rig.lapic.write_apic_base(kXapicBase | (1ull << 35)));
    EXPECT_EQ(rig.lapic.mmio_base(), lapic::kDefaultApicBase | (1ull << 35));
    // The BSP flag is the platform's.
    EXPECT_TRUE(rig.lapic.write_apic_base(kXapicBase | lapic::kApicBaseBsp));
    EXPECT_EQ(rig.lapic.apic_base(), kXapicBase);
    u64 value = 0;
    EXPECT_TRUE(rig.lapic.msr_write(lapic::kApicBaseMsr, kX2apicBase));
    EXPECT_TRUE(rig.lapic.msr_read(lapic::kApicBaseMsr, value));
    EXPECT_EQ(value, kX2apicBase);
}

TEST(VirtualLapic, HardwareDisableResetsTheRegisters) {
    Rig rig;
    rig.enable();
    rig.write(lapic::kTpr, 0x30);
    ASSERT_TRUE(rig.lapic.write_apic_base(lapic::kDefaultApicBase));
    ASSERT_TRUE(rig.lapic.write_apic_base(kXapicBase));
    EXPECT_EQ(rig.read(lapic::kTpr), 0u);
    EXPECT_EQ(rig.read(lapic::kSvr), 0xffu);
}

TEST(VirtualLapic, X2apicRegisters) {
    Rig rig(config_with_id(0x23));
    u64 value = 0;
    EXPECT_FALSE(rig.lapic.msr_read(0x802, value));  // xAPIC mode: x2APIC MSRs #GP
    EXPECT_FALSE(rig.lapic.msr_write(kMsrTpr, 0));
    rig.enable_x2apic();
    EXPECT_FALSE(rig.lapic.mmio_enabled());
    EXPECT_EQ(rig.read(lapic::kVersion), 0xffffffffu);  // the xAPIC page is not decoded
    ASSERT_TRUE(rig.lapic.msr_read(0x802, value));
    EXPECT_EQ(value, 0x23u);
    ASSERT_TRUE(rig.lapic.msr_read(kMsrLdr, value));
    EXPECT_EQ(value, (2u << 16) | (1u << 3));
    ASSERT_TRUE(rig.lapic.msr_read(0x803, value));
    EXPECT_EQ(value, 0x50014u);
    ASSERT_TRUE(rig.lapic.msr_write(kMsrTpr, 0x20));
    ASSERT_TRUE(rig.lapic.msr_read(kMsrPpr, value));
    EXPECT_EQ(value, 0x20u);
    // EOI through the MSR.
    rig.lapic.accept_fixed(0x50, true);
    rig.lapic.acknowledge(0x50);
    ASSERT_TRUE(rig.lapic.msr_write(kMsrEoi, 0));
    EXPECT_EQ(rig.eoi.vectors.size(), 1u);
    // ISR/TMR/IRR at 0x810/0x818/0x820.
    rig.lapic.accept_fixed(0x41, false);
    ASSERT_TRUE(rig.lapic.msr_read(0x822, value));
    EXPECT_EQ(value, 1u << 1);
}

TEST(VirtualLapic, X2apicGeneralProtectionCases) {
    Rig rig(config_with_id(1));
    rig.enable_x2apic();
    u64 value = 0;
    EXPECT_FALSE(rig.lapic.msr_read(0x800, value));        // reserved
    EXPECT_FALSE(rig.lapic.msr_read(0x809, value));        // APR has no MSR
    EXPECT_FALSE(rig.lapic.msr_read(0x80c, value));        // RRD
    EXPECT_FALSE(rig.lapic.msr_read(0x80e, value));        // DFR
    EXPECT_FALSE(rig.lapic.msr_read(0x831, value));        // ICR high
    EXPECT_FALSE(rig.lapic.msr_read(0x82f, value));        // CMCI: only 6 LVT entries
    EXPECT_FALSE(rig.lapic.msr_read(kMsrEoi, value));      // write-only
    EXPECT_FALSE(rig.lapic.msr_read(kMsrSelfIpi, value));  // write-only
    EXPECT_FALSE(rig.lapic.msr_read(0x8ff, value));
    EXPECT_FALSE(rig.lapic.msr_read(0x900, value));  // not an APIC MSR at all
    EXPECT_FALSE(rig.lapic.msr_write(0x802, 1));     // ID: read-only
    EXPECT_FALSE(rig.lapic.msr_write(0x803, 0));     // version
    EXPECT_FALSE(rig.lapic.msr_write(kMsrPpr, 0));
    EXPECT_FALSE(rig.lapic.msr_write(kMsrLdr, 0));
    EXPECT_FALSE(rig.lapic.msr_write(0x810, 0));  // ISR
    EXPECT_FALSE(rig.lapic.msr_write(0x839, 0));  // current count
    EXPECT_FALSE(rig.lapic.msr_write(0x80e, 0));
    EXPECT_FALSE(rig.lapic.msr_write(0x831, 0));
    EXPECT_FALSE(rig.lapic.msr_write(kMsrTpr, 0x100));          // reserved bits
    EXPECT_FALSE(rig.lapic.msr_write(kMsrTpr, 1ull << 32));     // bits 63:32 of a 32-bit register
    EXPECT_FALSE(rig.lapic.msr_write(kMsrEoi, 1));              // EOI: 0 only
    EXPECT_FALSE(rig.lapic.msr_write(kMsrEsr, 1));              // ESR: 0 only
    EXPECT_FALSE(rig.lapic.msr_write(kMsrSvr, 0x11ff));         // no EOI-broadcast suppression
    EXPECT_FALSE(rig.lapic.msr_write(kMsrLvtTimer, 1u << 20));  // reserved LVT bit
    EXPECT_FALSE(rig.lapic.msr_write(0x83e, 0x4));              // divide bit 2
    EXPECT_FALSE(rig.lapic.msr_write(kMsrIcr, 1u << 13));       // reserved ICR bit
    EXPECT_FALSE(rig.lapic.msr_write(kMsrIcr, 1u << 20));
    EXPECT_FALSE(rig.lapic.msr_write(kMsrSelfIpi, 0x140));
    EXPECT_TRUE(rig.sink.messages.empty());
    // Read-only LVT bits read back and written again are not reserved.
    EXPECT_TRUE(rig.lapic.msr_write(0x835, lapic::kLvtRemoteIrr | lapic::kLvtDeliveryStatus | 0x700));
    EXPECT_TRUE(rig.lapic.msr_write(kMsrEsr, 0));
    EXPECT_TRUE(rig.lapic.msr_write(0x83e, 0xb));
}

TEST(VirtualLapic, X2apicIcrAndSelfIpi) {
    Rig rig(config_with_id(1));
    rig.enable_x2apic();
    ASSERT_TRUE(rig.lapic.msr_write(kMsrIcr, (0x12345ull << 32) | 0x00004031));
    ASSERT_EQ(rig.sink.messages.size(), 1u);
    const ApicMessage& m = rig.sink.messages[0];
    EXPECT_TRUE(m.x2apic_destination);
    EXPECT_EQ(m.destination, 0x12345u);
    EXPECT_EQ(m.vector, 0x31);
    u64 value = 0;
    ASSERT_TRUE(rig.lapic.msr_read(kMsrIcr, value));
    EXPECT_EQ(value, (0x12345ull << 32) | 0x4031);
    ASSERT_TRUE(rig.lapic.msr_write(kMsrSelfIpi, 0x55));
    ASSERT_EQ(rig.sink.messages.size(), 2u);
    EXPECT_EQ(rig.sink.messages[1].shorthand, ApicShorthand::Self);
    EXPECT_EQ(rig.sink.messages[1].vector, 0x55);
    EXPECT_EQ(rig.sink.messages[1].delivery_mode, ApicDeliveryMode::Fixed);
    ASSERT_TRUE(rig.lapic.msr_write(kMsrSelfIpi, 0x05));  // illegal vector: not sent
    EXPECT_EQ(rig.sink.messages.size(), 2u);
    ASSERT_TRUE(rig.lapic.msr_write(kMsrEsr, 0));
    ASSERT_TRUE(rig.lapic.msr_read(kMsrEsr, value));
    EXPECT_EQ(value, lapic::kEsrSendIllegalVector);
}

TEST(VirtualLapic, HandlesMsrRange) {
    EXPECT_TRUE(VirtualLapic::handles_msr(0x1b));
    EXPECT_TRUE(VirtualLapic::handles_msr(0x6e0));
    EXPECT_TRUE(VirtualLapic::handles_msr(0x800));
    EXPECT_TRUE(VirtualLapic::handles_msr(0x8ff));
    EXPECT_FALSE(VirtualLapic::handles_msr(0x7ff));
    EXPECT_FALSE(VirtualLapic::handles_msr(0x900));
    Rig rig;
    u64 value = 0;
    EXPECT_FALSE(rig.lapic.msr_read(0x10, value));
    EXPECT_FALSE(rig.lapic.msr_write(0x10, 0));
}

// Arbitrary guest writes (pseudo-random offsets, values, MSRs, APIC base values and time)
// must never crash, hang or hit undefined behaviour (ASan/UBSan run these tests).
TEST(VirtualLapic, ArbitraryGuestAccessesAreSafe) {
    Rig rig;
    u64 state = 0x9e3779b97f4a7c15ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (u32 i = 0; i < 200'000; ++i) {
        const u64 r = next();
        const u32 offset = u32(r & 0x3f0) | ((r >> 20) & 1 ? 0 : u32((r >> 10) & 0xf));
        const u32 value = u32(next());
        u64 msr_value = 0;
        switch ((r >> 40) & 15) {
            case 0: rig.lapic.mmio_read(offset); break;
            case 1:
            case 2:
            case 3: rig.lapic.mmio_write(offset, value); break;
            case 4: rig.lapic.msr_write(0x800 + u32((r >> 8) & 0x3f), next() >> ((r >> 50) & 63)); break;
            case 5: rig.lapic.msr_read(0x800 + u32((r >> 8) & 0x3f), msr_value); break;
            case 6: rig.lapic.write_apic_base(lapic::kDefaultApicBase | (r & 0xd00)); break;
            case 7: rig.lapic.write_tsc_deadline(next() >> ((r >> 50) & 63)); break;
            case 8: rig.clock.now += (r >> 48) & 0xffff; break;
            case 9: rig.lapic.advance_to(rig.clock.now); break;
            case 10: rig.lapic.accept_fixed(u8(value), value & 0x100); break;
            case 11: {
                const i32 vector = rig.lapic.pending_vector();
                if (vector >= 0) rig.lapic.acknowledge(u8(vector));
                break;
            }
            case 12: rig.lapic.set_lint(u8(r & 1), (r >> 1) & 1); break;
            case 13: rig.lapic.accept_init(); break;
            case 14: rig.lapic.mmio_write_sized(r & 0xfff, u8(1u << ((r >> 12) & 3)), value); break;
            default: rig.lapic.mmio_write(lapic::kSvr, kSvrEnabled); break;
        }
    }
    // Still a working APIC afterwards.
    rig.lapic.write_apic_base(lapic::kDefaultApicBase);
    ASSERT_TRUE(rig.lapic.write_apic_base(kXapicBase));
    rig.enable();
    EXPECT_TRUE(rig.lapic.accept_fixed(0x80, false));
    EXPECT_EQ(rig.lapic.pending_vector(), 0x80);
}

}  // namespace

// KVM's PV EOI is offered only for a vector that is all of IRR, with nothing in service
// and the vector edge-triggered (kernel/vm/devices/pc/pv_eoi.hpp); the EOI the guest
// leaves then ends that vector as a write of the EOI register would.
TEST(VirtualLapicPvEoi, OfferedOnlyForALoneEdgeTriggeredRequest) {
    Rig h;
    h.enable();
    h.lapic.accept_fixed(0x41, false);
    EXPECT_TRUE(h.lapic.only_request_and_nothing_in_service(0x41));
    EXPECT_FALSE(h.lapic.only_request_and_nothing_in_service(0x42));
    h.lapic.accept_fixed(0x31, false);  // a second request
    EXPECT_FALSE(h.lapic.only_request_and_nothing_in_service(0x41));
    h.lapic.acknowledge(0x41);  // 0x41 in service, 0x31 requested
    EXPECT_FALSE(h.lapic.only_request_and_nothing_in_service(0x31));
    h.lapic.eoi_left_by_guest();
    EXPECT_FALSE(h.lapic.in_isr(0x41));
    EXPECT_TRUE(h.lapic.only_request_and_nothing_in_service(0x31));
    h.lapic.acknowledge(0x31);
    h.lapic.eoi_left_by_guest();
    h.lapic.accept_fixed(0x51, true);  // level-triggered: its EOI must reach the I/O APIC at once
    EXPECT_FALSE(h.lapic.only_request_and_nothing_in_service(0x51));
    h.lapic.acknowledge(0x51);
    h.lapic.eoi_left_by_guest();
    EXPECT_EQ(h.eoi.vectors, std::vector<u8>{0x51});
}
