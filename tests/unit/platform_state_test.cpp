// Save and restore of the virtual PC's devices (pc_platform_state.hpp): each model driven
// through its ports or MMIO into a state worth keeping, saved, restored into a fresh PC
// whose host differs (another TSC rate, another start, another wall clock), and then
// compared by what the guest sees: the same reads, the same interrupts, the same timers
// at the same guest time. And every malformed blob refused with the target untouched.
#include "kernel/vm/devices/pc/pc_platform_state.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

constexpr u64 kMs = 1'000'000;
constexpr i64 kSourceUnix = 1'700'000'000;  // 2023-11-14
constexpr i64 kTargetUnix = 1'800'000'000;  // another host's wall clock, years later

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return now; }
    u64 now = 0;
};

class RecordingLines final : public InterruptLines {
public:
    struct Event {
        u8 irq;
        bool high;
        bool operator==(const Event& o) const { return irq == o.irq && high == o.high; }
    };
    void set_isa_irq(u8 irq, bool high) override { events.push_back({irq, high}); }
    std::vector<Event> events;
};

class NullOutput final : public UartOutput {
public:
    void uart_transmit(u8) override {}
};

class NullControl final : public PlatformControl {
public:
    void request_power_off() override {}
    void request_reset() override {}
};

class RecordingSink final : public ApicMessageSink {
public:
    u32 send_message(const ApicMessage& m) override {
        vectors.push_back(m.vector);
        return 1;
    }
    std::vector<u8> vectors;
};

class NullWakeup final : public ApicWakeup {
public:
    void wake_vcpu(u32) override {}
};

// One virtual PC of `vcpus` vCPUs on a host whose TSC runs at `tsc_hz` and whose wall
// clock reads `unix_at_zero` when the PC starts.
struct Pc {
    explicit Pc(u32 vcpus = 2, u64 tsc_hz = 2'000'000'000, i64 unix_at_zero = kSourceUnix)
        : tsc(tsc_hz, 1000), rtc(clock, lines, unix_at_zero, {512ull << 20, 0}) {
        for (u32 i = 0; i < vcpus; ++i) {
            LapicConfig config;
            config.apic_id = i;
            config.bsp = i == 0;
            lapics.push_back(std::make_unique<VirtualLapic>(config, clock, tsc));
            lapics.back()->connect(&sink, &wakeup, i);
            raw.push_back(lapics.back().get());
        }
    }

    PcDevices devices() {
        return {pic, pit,    port61,    rtc,    com1,       pm,         reset_control,  pci,
                kbc, ioapic, kvm_clock, pv_eoi, steal_time, raw.data(), u32(raw.size())};
    }
    std::vector<u8> save() {
        const PcClock at{clock.now, tsc.tsc_at(clock.now), u32(tsc.tsc_hz() / 1000)};
        std::vector<u8> blob(pc_state_save(devices(), at, nullptr, 0));
        EXPECT_EQ(pc_state_save(devices(), at, blob.data(), blob.size()), blob.size());
        return blob;
    }
    // As the platform does: everything checked, then device time and the guest TSC go on
    // from the saved ones (at this host's TSC rate), then the models take their state.
    PcStateError restore(const std::vector<u8>& blob) { return restore(blob.data(), blob.size()); }
    PcStateError restore(const u8* data, usize length) {
        auto state = std::make_unique<PcPlatformState>();
        const PcStateError error = pc_state_load(devices(), data, length, *state);
        if (error != PcStateError::None) return error;
        clock.now = state->clock.device_ns;
        tsc.set_tsc(state->clock.device_ns, state->clock.guest_tsc);
        restored_tsc_khz = state->clock.guest_tsc_khz;
        pc_state_restore(devices(), *state);
        return error;
    }
    void advance(u64 now) {
        clock.now = now;
        pit.advance_to(now);
        rtc.advance_to(now);
        pm.advance_to(now);
        for (VirtualLapic* l : raw) l->advance_to(now);
    }
    u32 in(u16 port, u8 size = 1) {
        if (port >= 0x20 && port <= 0x21) return pic.port_read(port, size);
        if (port >= 0xa0 && port <= 0xa1) return pic.port_read(port, size);
        if (port >= 0x4d0 && port <= 0x4d1) return pic.port_read(port, size);
        if (port >= 0x40 && port <= 0x43) return pit.port_read(port, size);
        if (port == 0x61) return port61.port_read(port, size);
        if (port >= 0x70 && port <= 0x71) return rtc.port_read(port, size);
        if (port >= 0x3f8 && port <= 0x3ff) return com1.port_read(port, size);
        if (port >= 0x600 && port < 0x60c) return pm.port_read(port, size);
        if (port == 0x60 || port == 0x64) return kbc.port_read(port, size);
        if (port >= 0xcf8 && port <= 0xcff) return pci.port_read(port, size);
        return ~0u;
    }
    void out(u16 port, u32 value, u8 size = 1) {
        if ((port >= 0x20 && port <= 0x21) || (port >= 0xa0 && port <= 0xa1) || (port >= 0x4d0 && port <= 0x4d1))
            pic.port_write(port, size, value);
        else if (port >= 0x40 && port <= 0x43)
            pit.port_write(port, size, value);
        else if (port == 0x61)
            port61.port_write(port, size, value);
        else if (port >= 0x70 && port <= 0x71)
            rtc.port_write(port, size, value);
        else if (port >= 0x3f8 && port <= 0x3ff)
            com1.port_write(port, size, value);
        else if (port >= 0x600 && port < 0x60c)
            pm.port_write(port, size, value);
        else if (port == 0x60 || port == 0x64)
            kbc.port_write(port, size, value);
        else if (port >= 0xcf8 && port <= 0xcff)
            pci.port_write(port, size, value);
    }
    void ioapic_write(u8 index, u32 value) {
        ioapic.mmio_write(VirtualIoapic::kIoRegSel, index);
        ioapic.mmio_write(VirtualIoapic::kIoWin, value);
    }
    u32 ioapic_read(u8 index) {
        ioapic.mmio_write(VirtualIoapic::kIoRegSel, index);
        return ioapic.mmio_read(VirtualIoapic::kIoWin);
    }

    FakeClock clock;
    LinearGuestTsc tsc;
    RecordingLines lines;
    NullOutput output;
    NullControl control;
    RecordingSink sink;
    NullWakeup wakeup;
    Pic8259Pair pic;
    Pit8254 pit{clock, lines};
    SystemControlPortB port61{pit};
    CmosRtc rtc;
    Uart16550 com1{output, lines};
    AcpiPmBlock pm{clock, lines, control};
    ResetControl reset_control{control};
    PciHostBridge pci{reset_control};
    I8042 kbc{control, lines};
    VirtualIoapic ioapic{sink};
    KvmClock kvm_clock{2'000'000'000, 1000, kSourceUnix};
    PvEoi pv_eoi;
    StealTime steal_time;
    std::vector<std::unique_ptr<VirtualLapic>> lapics;
    std::vector<VirtualLapic*> raw;
    u32 restored_tsc_khz = ~0u;  // the rate the last restore read
};

constexpr u64 kProgrammedAt = 1 * kMs;
constexpr u64 kSavedAt = 2 * kMs + 123;

// Drives every model of `pc` into a state that is not its power-on one: programmed at
// 1 ms, then 2 ms of guest time pass.
void drive(Pc& pc) {
    pc.clock.now = kProgrammedAt;
    // 8259As as Linux programs them (ICW1-ICW4), some masks, IRQ 1 in service, IRQ 3 and
    // the slave's IRQ 10 (level, ELCR) requested.
    struct PortWrite {
        u16 port;
        u8 value;
    };
    const PortWrite pic_setup[] = {{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}, {0xa0, 0x11},
                                   {0xa1, 0x28}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0x20}, {0xa1, 0x8a}};
    for (const PortWrite& w : pic_setup) pc.out(w.port, w.value);
    pc.out(0x4d1, 0x04);
    pc.pic.set_irq(1, true);
    pc.pic.set_irq(1, false);
    EXPECT_EQ(pc.pic.acknowledge(), 0x21);
    pc.pic.set_irq(3, true);
    pc.pic.set_irq(3, false);
    pc.pic.set_irq(10, true);
    // PIT: counter 0 a 100 Hz rate generator, counter 2 a square wave gated on through
    // port 0x61, counter 1 half-way through a two-byte count.
    pc.out(0x43, 0x34);
    pc.out(0x40, 11932 & 0xff);
    pc.out(0x40, 11932 >> 8);
    pc.out(0x61, 0x03);
    pc.out(0x43, 0xb6);
    pc.out(0x42, 0xa9);
    pc.out(0x42, 0x04);
    pc.out(0x43, 0x70);
    pc.out(0x41, 0x12);
    // RTC: periodic interrupt at 2 Hz, a byte of CMOS RAM, the index left at register C.
    pc.out(0x70, 0x0a);
    pc.out(0x71, 0x2f);
    pc.out(0x70, 0x0b);
    pc.out(0x71, 0x42);
    pc.out(0x70, 0x40);
    pc.out(0x71, 0x5a);
    pc.out(0x70, 0x0c);
    // COM1: 9600 8N1, FIFOs at trigger level 14, receive interrupts, three bytes waiting.
    pc.out(0x3fb, 0x80);
    pc.out(0x3f8, 0x0c);
    pc.out(0x3f9, 0x00);
    pc.out(0x3fb, 0x03);
    pc.out(0x3fa, 0xc7);
    pc.out(0x3f9, 0x01);
    pc.out(0x3fc, 0x0b);
    pc.out(0x3ff, 0x55);
    for (u8 c : {'h', 'i', '!'}) EXPECT_TRUE(pc.com1.receive(c));
    // PM1: power button and timer events enabled, the button pressed, a SLP_TYP stored.
    pc.out(0x602, 0x0101, 2);
    pc.pm.press_power_button();
    pc.out(0x605, 0x04);
    // i8042: a new command byte, then a self-test whose reply waits in the buffer.
    pc.out(0x64, 0x60);
    pc.out(0x60, 0x47);
    pc.out(0x64, 0xaa);
    // PCI: CONFIG_ADDRESS at the host bridge's command register, SERR# enabled.
    pc.out(0xcf8, 0x80000004, 4);
    pc.out(0xcfc, 0x0146, 2);
    pc.reset_control.port_write(ResetControl::kPort, 1, 0x02);
    // IOAPIC: pin 4 edge to vector 0x34, pin 9 level to 0x39, asserted and delivered
    // (remote IRR set until the EOI).
    pc.ioapic_write(0x18, 0x34);
    pc.ioapic_write(0x19, 0x01000000);
    pc.ioapic_write(0x22, 0x39 | u32(VirtualIoapic::kEntryLevelTriggered));
    pc.ioapic.set_pin(9, true);
    // vCPU 0's APIC: enabled, TPR 0x20, a one-shot timer at vector 0x40 due at 5 ms (3 ms
    // after the save), 0x51 requested. vCPU 1's: a TSC deadline 3 ms of its TSC ahead.
    VirtualLapic& l0 = *pc.raw[0];
    l0.mmio_write(lapic::kSvr, 0x1ff);
    l0.mmio_write(lapic::kTpr, 0x20);
    l0.mmio_write(lapic::kTimerDivide, 0x0b);  // divide by 1: 10^9 ticks a second
    l0.mmio_write(lapic::kLvtTimer, 0x40);
    l0.mmio_write(lapic::kTimerInitialCount, 4'000'000);
    EXPECT_TRUE(l0.accept_fixed(0x51, false));
    if (pc.raw.size() > 1) {
        VirtualLapic& l1 = *pc.raw[1];
        l1.mmio_write(lapic::kSvr, 0x1ff);
        l1.mmio_write(lapic::kLvtTimer, 0x42 | (2u << 17));
        l1.write_tsc_deadline(pc.tsc.tsc_at(kSavedAt) + 6'000'000);
    }
    pc.advance(kSavedAt);
}

// What the guest reads of every device, at the PC's time now.
std::vector<u32> guest_view(Pc& pc) {
    std::vector<u32> v;
    for (u16 port : {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1}) v.push_back(pc.in(port));
    pc.out(0x20, 0x0b);  // OCW3: read ISR
    v.push_back(pc.in(0x20));
    pc.out(0x43, 0xe2);  // read-back status and count of counter 0
    v.push_back(pc.in(0x40));
    v.push_back(pc.in(0x40));
    v.push_back(pc.in(0x40));
    v.push_back(pc.in(0x42));
    v.push_back(pc.in(0x42));
    v.push_back(pc.pit.output(2));
    for (u8 index : {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x40}) {
        pc.out(0x70, index);
        v.push_back(pc.in(0x71));
    }
    for (u16 port = 0x3f9; port <= 0x3ff; ++port) v.push_back(pc.in(port));
    for (u16 port : {0x600, 0x602, 0x604}) v.push_back(pc.in(port, 2));
    v.push_back(pc.in(0x608, 4));
    v.push_back(pc.in(0x64));
    v.push_back(pc.in(0xcf8, 4));
    v.push_back(pc.in(0xcfc, 4));
    v.push_back(pc.reset_control.port_read(ResetControl::kPort, 1));
    for (u8 index = 0; index < 0x40; ++index) v.push_back(pc.ioapic_read(index));
    for (VirtualLapic* l : pc.raw) {
        for (u32 offset = 0x20; offset < 0x400; offset += 0x10) v.push_back(l->mmio_read(offset));
        v.push_back(u32(l->read_tsc_deadline()));
        v.push_back(u32(l->pending_vector()));
    }
    return v;
}

// The same guest time on both: the same reads now, then the same interrupts as time
// goes on, milliseconds at a time, and the same bytes from COM1 and the i8042.
void expect_same_behaviour(Pc& a, Pc& b) {
    ASSERT_EQ(a.clock.now, b.clock.now);
    EXPECT_EQ(guest_view(a), guest_view(b));
    EXPECT_EQ(a.pit.next_deadline_ns(), b.pit.next_deadline_ns());
    EXPECT_EQ(a.rtc.next_deadline_ns(), b.rtc.next_deadline_ns());
    EXPECT_EQ(a.pm.next_deadline_ns(), b.pm.next_deadline_ns());
    for (usize i = 0; i < a.raw.size(); ++i) EXPECT_EQ(a.raw[i]->next_deadline_ns(), b.raw[i]->next_deadline_ns()) << i;
    a.lines.events.clear();
    b.lines.events.clear();
    const u64 start = a.clock.now;
    for (u64 t = start; t <= start + 600 * kMs; t += kMs / 4) {
        a.advance(t);
        b.advance(t);
    }
    EXPECT_EQ(a.lines.events, b.lines.events);
    EXPECT_FALSE(a.lines.events.empty());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a.in(0x3f8), b.in(0x3f8)) << i;
    EXPECT_EQ(a.in(0x60), b.in(0x60));
    EXPECT_EQ(guest_view(a), guest_view(b));
}

// The payload of the first record of `type` in a blob: its offset.
usize record_offset(const std::vector<u8>& blob, u32 type, u32 nth = 0) {
    StateBlob walk(blob.data(), blob.size());
    StateRecord r;
    while (walk.next(r))
        if (r.type == type && nth-- == 0) return usize(r.payload - blob.data());
    ADD_FAILURE() << "no record " << type;
    return 0;
}

void put32(std::vector<u8>& blob, usize at, u32 value) {
    for (usize i = 0; i < 4; ++i) blob[at + i] = u8(value >> (8 * i));
}

// --- The whole PC ---------------------------------------------------------------------

// A blob with its platform record's TSC rate cleared: a target on a host of another TSC
// rate saves its own there (this harness does not scale its TSC as a VT-x host can).
std::vector<u8> without_tsc_rate(std::vector<u8> blob) {
    const usize rate = record_offset(blob, pc_state::kPlatform) + 4;
    for (usize i = 0; i < 4; ++i) blob[rate + i] = 0;
    return blob;
}

TEST(PlatformState, RoundTripOntoAnotherHostBehavesTheSame) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target(2, 2'000'000'000, kTargetUnix);  // another start, another wall clock, another TSC
    target.tsc.set_tsc(0, 5'000'000'000'000);
    target.clock.now = 77 * kMs;
    ASSERT_EQ(target.restore(blob), PcStateError::None);
    EXPECT_EQ(target.clock.now, kSavedAt);                                // device time goes on from the save
    EXPECT_EQ(target.tsc.tsc_at(kSavedAt), source.tsc.tsc_at(kSavedAt));  // and so does the guest's TSC
    EXPECT_EQ(target.save(), blob);                                       // every field came across
    expect_same_behaviour(source, target);
}

// On a host whose TSC runs at another rate, every timer that counts time (PIT, RTC, PM
// timer, local APIC count) keeps its guest time; vCPU 1's TSC deadline is left out here
// (ATscDeadlineFiresWhenTheContinuedGuestTscReachesIt has it).
TEST(PlatformState, RoundTripOntoAFasterTscKeepsEveryCountedTimer) {
    Pc source;
    drive(source);
    source.raw[1]->write_tsc_deadline(0);
    const std::vector<u8> blob = source.save();
    Pc target(2, 3'000'000'000, kTargetUnix);
    ASSERT_EQ(target.restore(blob), PcStateError::None);
    EXPECT_EQ(without_tsc_rate(target.save()), without_tsc_rate(blob));
    expect_same_behaviour(source, target);
}

// The guest TSC's rate goes with the state, for a restore elsewhere to keep
// (kernel/vm/tsc_rate.hpp); one of 0 (a state from before it was kept) reads as 0.
TEST(PlatformState, TheGuestTscRateTravels) {
    Pc source(2, 2'994'374'000), target(2, 50'000'000);
    drive(source);
    ASSERT_EQ(target.restore(source.save()), PcStateError::None);
    EXPECT_EQ(target.restored_tsc_khz, 2'994'374u);
}

TEST(PlatformState, HeaderAndRecordsAreAsDocumented) {
    Pc pc(8);
    drive(pc);
    const std::vector<u8> blob = pc.save();
    ASSERT_GE(blob.size(), 16u);
    EXPECT_EQ(blob[0], 'V');
    EXPECT_EQ(blob[1], 'P');
    EXPECT_EQ(blob[2], 'S');
    EXPECT_EQ(blob[3], 'T');
    EXPECT_EQ(blob[4], hypercall::kPlatformStateVersion);
    EXPECT_EQ(u32(blob[8] | blob[9] << 8 | blob[10] << 16), blob.size());
    EXPECT_EQ(blob[12], 14 + 8);  // 14 device records (kvmclock, PV EOI, steal time), one local APIC per vCPU
    EXPECT_LE(blob.size(), hypercall::kPlatformStateMax);  // 8 vCPUs, the most a domain has
    StateBlob walk(blob.data(), blob.size());
    EXPECT_EQ(walk.check(), StateBlobError::None);
    // The platform record: the vCPU count, the guest TSC's rate (kHz), device time, and
    // the guest TSC then.
    const usize p = record_offset(blob, pc_state::kPlatform);
    StateReader r(blob.data() + p, 24);
    EXPECT_EQ(r.get_u32(), 8u);
    EXPECT_EQ(r.get_u32(), 2'000'000u);
    EXPECT_EQ(r.get_u64(), kSavedAt);
    EXPECT_EQ(r.get_u64(), pc.tsc.tsc_at(kSavedAt));
}

TEST(PlatformState, ALocalApicTimerWithThreeMillisecondsLeftFiresThreeMillisecondsAfterTheRestore) {
    Pc source;
    drive(source);  // due at 5 ms, saved at 2 ms + 123 ns
    Pc target(2, 1'000'000'000, kTargetUnix);
    ASSERT_EQ(target.restore(source.save()), PcStateError::None);
    const u64 due = kProgrammedAt + 4 * kMs;
    EXPECT_EQ(target.raw[0]->next_deadline_ns(), due);
    target.advance(due - 1);
    EXPECT_FALSE(target.raw[0]->in_irr(0x40));
    target.advance(due);
    EXPECT_TRUE(target.raw[0]->in_irr(0x40));
}

// A TSC deadline is in TSC ticks: it fires when the guest's TSC, continued on the new
// host, reaches it. 6 million ticks are 3 ms at 2 GHz and 2 ms at 3 GHz.
TEST(PlatformState, ATscDeadlineFiresWhenTheContinuedGuestTscReachesIt) {
    Pc source;
    drive(source);
    Pc target(2, 3'000'000'000, kTargetUnix);
    ASSERT_EQ(target.restore(source.save()), PcStateError::None);
    const u64 deadline = source.raw[1]->read_tsc_deadline();
    EXPECT_EQ(target.raw[1]->read_tsc_deadline(), deadline);
    EXPECT_EQ(target.tsc.tsc_at(kSavedAt), source.tsc.tsc_at(kSavedAt));
    EXPECT_EQ(source.raw[1]->next_deadline_ns(), kSavedAt + 3 * kMs);
    EXPECT_EQ(target.raw[1]->next_deadline_ns(), kSavedAt + 2 * kMs);
    target.advance(kSavedAt + 2 * kMs);
    EXPECT_TRUE(target.raw[1]->in_irr(0x42));
    EXPECT_GE(target.tsc.tsc_at(kSavedAt + 2 * kMs), deadline);
}

TEST(PlatformState, AVectorInFlightIsSavedAsARequest) {
    Pc source(1);
    drive(source);
    VirtualLapic& l = *source.raw[0];
    ASSERT_EQ(l.pending_vector(), 0x51);
    l.mark_in_flight(0x51);
    Pc target(1);
    ASSERT_EQ(target.restore(source.save()), PcStateError::None);
    EXPECT_EQ(target.raw[0]->pending_vector(), 0x51);
    target.raw[0]->acknowledge(0x51);
    EXPECT_TRUE(target.raw[0]->in_isr(0x51));
    EXPECT_FALSE(target.raw[0]->in_irr(0x51));
}

// Whatever the guest does, the state it leaves is one a restore takes back, field for
// field: random port, MMIO and interrupt traffic at random times, saved and restored onto
// another host many times over (the checks must refuse only what no guest can reach).
TEST(PlatformState, EveryStateAGuestReachesIsRestored) {
    static constexpr u16 kPorts[] = {0x20,  0x21,  0xa0,  0xa1,  0x4d0, 0x4d1, 0x40,  0x41,  0x42,  0x43,  0x61,
                                     0x70,  0x71,  0x71,  0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
                                     0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x608, 0x60,  0x64,  0xcfc, 0xcfd};
    static constexpr u32 kLapicRegisters[] = {0x80,  0xb0,  0xd0,  0xe0,  0xf0,  0x280, 0x300, 0x310,
                                              0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0};
    u64 seed = 0x9e3779b97f4a7c15ull;
    auto next = [&seed] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return u32(seed >> 33);
    };
    for (int round = 0; round < 150; ++round) {
        Pc source;
        for (int op = 0; op < 300; ++op) {
            const u32 r = next();
            switch (r % 13) {
                case 0: source.advance(source.clock.now + next() % (5 * kMs)); break;
                case 1: source.pic.set_irq(u8(next() % 16), next() & 1); break;
                case 2: source.com1.receive(u8(next())); break;
                case 3:
                    source.ioapic_write(u8(next() % 0x40), next());
                    source.ioapic.set_pin(u8(next() % 24), next() & 1);
                    break;
                case 4: {
                    VirtualLapic& l = *source.raw[next() % 2];
                    const u32 offset = kLapicRegisters[next() % (sizeof(kLapicRegisters) / sizeof(u32))];
                    l.mmio_write(offset, offset == lapic::kSvr ? 0x100 | next() : next());
                    break;
                }
                case 5: {
                    VirtualLapic& l = *source.raw[next() % 2];
                    if (next() & 1) l.accept_fixed(u8(next()), next() & 1);
                    if (const i32 v = l.pending_vector(); v != VirtualLapic::kNoVector) l.acknowledge(u8(v));
                    l.write_tsc_deadline(source.tsc.tsc_at(source.clock.now) + next() % 10'000'000);
                    break;
                }
                case 6: source.out(0xcf8, next() & 0x80fffffc, 4); break;
                case 7: source.pm.press_power_button(); break;
                case 8: source.in(kPorts[next() % (sizeof(kPorts) / sizeof(u16))]); break;
                case 9: {
                    // IA32_APIC_BASE transitions (the model refuses the illegal ones), x2APIC MSRs.
                    VirtualLapic& l = *source.raw[next() % 2];
                    const u64 bases[] = {lapic::kDefaultApicBase | lapic::kApicBaseEnable,
                                         lapic::kDefaultApicBase | lapic::kApicBaseEnable | lapic::kApicBaseX2apic,
                                         lapic::kDefaultApicBase};
                    const u64 bsp = l.apic_base() & lapic::kApicBaseBsp;
                    if (next() % 4 == 0) l.write_apic_base(bases[next() % 3] | bsp);
                    l.msr_write(0x800 + next() % 0x40, next());
                    break;
                }
                case 10: {
                    VirtualLapic& l = *source.raw[next() % 2];
                    switch (next() % 5) {
                        case 0: l.accept_init(); break;
                        case 1: l.accept_sipi(u8(next())); break;
                        case 2: l.accept_nmi(); break;
                        case 3: l.accept_extint(); break;
                        default: l.set_lint(u8(next() % 2), next() & 1); break;
                    }
                    break;
                }
                case 11: {
                    VirtualLapic& l = *source.raw[next() % 2];
                    u8 vector = 0;
                    l.take_init();
                    l.take_sipi(vector);
                    l.take_nmi();
                    if (const i32 v = l.pending_vector(); v != VirtualLapic::kNoVector && (next() & 1)) {
                        l.mark_in_flight(u8(v));
                        if (next() & 1) l.cancel_in_flight();
                    }
                    break;
                }
                default: source.out(kPorts[next() % (sizeof(kPorts) / sizeof(u16))], u8(next())); break;
            }
        }
        const std::vector<u8> blob = source.save();
        Pc target(2, 3'000'000'000, kTargetUnix);
        ASSERT_EQ(target.restore(blob), PcStateError::None) << "round " << round;
        ASSERT_EQ(without_tsc_rate(target.save()), without_tsc_rate(blob)) << "round " << round;
    }
}

// --- Malformed blobs: refused, and the target exactly as it was -------------------------

// `target` refuses `blob` with `error`, and still saves what it saved before.
void expect_refused(Pc& target, const std::vector<u8>& blob, PcStateError error, usize length) {
    const std::vector<u8> before = target.save();
    EXPECT_EQ(target.restore(blob.data(), length), error) << "length " << length;
    EXPECT_EQ(target.save(), before) << "length " << length;
}
void expect_refused(Pc& target, const std::vector<u8>& blob, PcStateError error) {
    expect_refused(target, blob, error, blob.size());
}

// A target in a state of its own (driven differently from the source).
void drive_target(Pc& pc) {
    pc.clock.now = 40 * kMs;
    pc.out(0x43, 0x30);
    pc.out(0x40, 0x10);
    pc.out(0x40, 0x00);
    pc.out(0x3ff, 0xaa);
    pc.raw[0]->mmio_write(lapic::kSvr, 0x1ff);
    pc.raw[0]->mmio_write(lapic::kTimerInitialCount, 1000);
}

TEST(PlatformState, ABlobTruncatedAtAnyByteIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    for (usize n = 0; n < blob.size(); ++n) expect_refused(target, blob, PcStateError::Framing, n);
    // Truncated with a header that claims the shorter length: a record cut short, or
    // missing, or the header alone.
    for (usize n = platform_state::kHeaderBytes; n < blob.size(); ++n) {
        std::vector<u8> cut(blob.begin(), blob.begin() + long(n));
        put32(cut, 8, u32(n));
        const std::vector<u8> before = target.save();
        EXPECT_NE(target.restore(cut), PcStateError::None) << n;
        EXPECT_EQ(target.save(), before) << n;
    }
}

TEST(PlatformState, AWrongMagicVersionOrLengthIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    std::vector<u8> bad = blob;
    bad[0] ^= 1;
    expect_refused(target, bad, PcStateError::Framing);
    bad = blob;
    put32(bad, 4, 2);
    expect_refused(target, bad, PcStateError::Framing);
    bad = blob;
    put32(bad, 8, u32(blob.size() + 1));
    expect_refused(target, bad, PcStateError::Framing);
    bad = blob;
    bad.push_back(0);  // a byte beyond the total length
    expect_refused(target, bad, PcStateError::Framing);
    bad = blob;
    put32(bad, 12, blob[12] + 1u);  // a record count the records do not match
    expect_refused(target, bad, PcStateError::Framing);
    // A record whose length runs past the end.
    bad = blob;
    put32(bad, record_offset(blob, pc_state::kPit) - 4, 0x10000);
    expect_refused(target, bad, PcStateError::Framing);
}

// A record one byte longer than its model reads, or one byte shorter (the next record
// moved up by one): both refused as bad records.
TEST(PlatformState, APayloadOfTheWrongLengthIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    for (u32 type = pc_state::kFirstRecord; type <= pc_state::kLastRecord; ++type) {
        const usize payload = record_offset(blob, type);
        u32 length = 0;
        for (usize i = 0; i < 4; ++i) length |= u32(blob[payload - 4 + i]) << (8 * i);
        std::vector<u8> longer = blob;
        longer.insert(longer.begin() + long(payload + length), 0);
        put32(longer, payload - 4, length + 1);
        put32(longer, 8, u32(longer.size()));
        expect_refused(target, longer, PcStateError::BadRecord);
        std::vector<u8> shorter = blob;
        shorter.erase(shorter.begin() + long(payload + length - 1));
        put32(shorter, payload - 4, length - 1);
        put32(shorter, 8, u32(shorter.size()));
        expect_refused(target, shorter, PcStateError::BadRecord);
    }
}

TEST(PlatformState, AnUnknownMissingOrRepeatedRecordIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    // An unknown type in place of the reset control's.
    std::vector<u8> bad = blob;
    put32(bad, record_offset(blob, pc_state::kResetControl) - 8, 99);
    expect_refused(target, bad, PcStateError::UnknownRecord);
    put32(bad, record_offset(blob, pc_state::kResetControl) - 8, 0);
    expect_refused(target, bad, PcStateError::UnknownRecord);
    // The reset control's record as a second port 0x61 record: one repeated, one missing.
    bad = blob;
    put32(bad, record_offset(blob, pc_state::kResetControl) - 8, pc_state::kPortB);
    expect_refused(target, bad, PcStateError::DuplicateRecord);
    // A record left out (the last, vCPU 1's local APIC; the header counts one fewer).
    const usize last = record_offset(blob, pc_state::kLapic, 1) - 8;
    std::vector<u8> dropped(blob.begin(), blob.begin() + long(last));
    put32(dropped, 8, u32(dropped.size()));
    put32(dropped, 12, blob[12] - 1u);
    expect_refused(target, dropped, PcStateError::VcpuCount);
    // vCPU 0's APIC twice.
    bad = blob;
    put32(bad, record_offset(blob, pc_state::kLapic, 1), 0);
    expect_refused(target, bad, PcStateError::DuplicateRecord);
}

// The blob without one record, the header counting one fewer: a state saved before that
// record existed.
std::vector<u8> without_record(const std::vector<u8>& blob, u32 type) {
    const usize payload = record_offset(blob, type);
    const u32 length = u32(blob[payload - 4] | blob[payload - 3] << 8 | blob[payload - 2] << 16);
    std::vector<u8> without(blob.begin(), blob.begin() + long(payload - 8));
    without.insert(without.end(), blob.begin() + long(payload + length), blob.end());
    put32(without, 8, u32(without.size()));
    put32(without, 12, blob[12] - 1u);
    return without;
}

// PV EOI's record travels, and a blob without it (saved before it existed) is taken with
// PV EOI off on every vCPU.
TEST(PlatformState, PvEoiTravelsAndMayBeAbsent) {
    guest_firmware_test::SparseGuestRam ram(64 * MiB);
    Pc source;
    drive(source);
    ASSERT_TRUE(source.pv_eoi.msr_write(1, 0x5000 | PvEoi::kEnable, ram));
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    ASSERT_EQ(target.restore(blob), PcStateError::None);
    EXPECT_EQ(target.pv_eoi.msr_read(0), 0u);
    EXPECT_EQ(target.pv_eoi.msr_read(1), 0x5000 | PvEoi::kEnable);
    Pc old_target;
    drive_target(old_target);
    ASSERT_TRUE(old_target.pv_eoi.msr_write(0, 0x6000 | PvEoi::kEnable, ram));
    ASSERT_EQ(old_target.restore(without_record(blob, pc_state::kPvEoi)), PcStateError::None);
    EXPECT_EQ(old_target.pv_eoi.msr_read(0), 0u);
    EXPECT_EQ(old_target.pv_eoi.msr_read(1), 0u);
}

// The same for steal time's record.
TEST(PlatformState, StealTimeTravelsAndMayBeAbsent) {
    guest_firmware_test::SparseGuestRam ram(64 * MiB);
    Pc source;
    drive(source);
    ASSERT_TRUE(source.steal_time.msr_write(0, 0x7040 | StealTime::kEnable, ram));
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    ASSERT_EQ(target.restore(blob), PcStateError::None);
    EXPECT_EQ(target.steal_time.msr_read(0), 0x7040 | StealTime::kEnable);
    EXPECT_EQ(target.steal_time.msr_read(1), 0u);
    Pc old_target;
    drive_target(old_target);
    ASSERT_TRUE(old_target.steal_time.msr_write(1, 0x8000 | StealTime::kEnable, ram));
    ASSERT_EQ(old_target.restore(without_record(blob, pc_state::kStealTime)), PcStateError::None);
    EXPECT_EQ(old_target.steal_time.msr_read(0), 0u);
    EXPECT_EQ(old_target.steal_time.msr_read(1), 0u);
}

TEST(PlatformState, AnotherVcpuCountIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc one(1);
    drive_target(one);
    expect_refused(one, blob, PcStateError::VcpuCount);
    Pc three(3);
    drive_target(three);
    expect_refused(three, blob, PcStateError::VcpuCount);
}

// One field out of range in one record, and the whole blob is refused.
TEST(PlatformState, AFieldOutOfRangeIsRefused) {
    Pc source;
    drive(source);
    const std::vector<u8> blob = source.save();
    Pc target;
    drive_target(target);
    struct Case {
        const char* what;
        u32 type;
        u32 nth;
        usize offset;  // in the payload
        u8 value;
    };
    const Case cases[] = {
        {"PIT counter 0 in mode 7", pc_state::kPit, 0, 0, 7},
        {"PIT counter 0's RW mode 0 (the latch command)", pc_state::kPit, 0, 3, 0},
        {"PIT count above 65536", pc_state::kPit, 0, 8, 2},
        {"8259A rotation pin 8", pc_state::kPic, 0, 6, 8},
        {"8259A ELCR bit of IRQ 0", pc_state::kPic, 0, 4, 0x01},
        {"a bool that is 2", pc_state::kPic, 0, 8, 2},
        {"port 0x61 status bit stored", pc_state::kPortB, 0, 0, 0x20},
        {"RTC index 0x80", pc_state::kRtc, 0, 128, 0x80},
        {"COM1 receive FIFO of 17 bytes", pc_state::kUart, 0, 0, 17},
        {"PM timer beyond 24 bits", pc_state::kPmBlock, 0, 17, 0x01},
        {"i8042 waiting for a parameter of command 0xAA", pc_state::kI8042, 0, 37, 0xaa},
        {"host bridge vendor ID", pc_state::kPciHost, 0, 4, 0x87},
        {"CONFIG_ADDRESS reserved bit 24", pc_state::kPciHost, 0, 3, 0x81},
        {"reset control RST_CPU", pc_state::kResetControl, 0, 0, 0x04},
        {"IOAPIC entry with reserved bit 20", pc_state::kIoapic, 0, 6 + 2, 0x10},
        {"IOAPIC with 25 pins", pc_state::kIoapic, 0, 2, 25},
        {"IOAPIC ID 16", pc_state::kIoapic, 0, 0, 16},
        {"local APIC of another ID", pc_state::kLapic, 0, 4, 5},
        {"local APIC base reserved bit 9", pc_state::kLapic, 0, 9, 0x0b},
        {"local APIC vector 3 in IRR", pc_state::kLapic, 0, 4 + 4 + 8 + 1 + 12 + 64, 0x08},
        {"local APIC timer mode 3", pc_state::kLapic, 0, 4 + 4 + 8 + 1 + 12 + 96 + 16 + 24, 3},
    };
    for (const Case& c : cases) {
        std::vector<u8> bad = blob;
        const usize at = record_offset(blob, c.type, c.nth) + c.offset;
        ASSERT_LT(at, bad.size()) << c.what;
        ASSERT_NE(bad[at], c.value) << c.what;
        bad[at] = c.value;
        SCOPED_TRACE(c.what);
        expect_refused(target, bad, PcStateError::BadRecord);
    }
}

// --- Each device alone: saved, restored into a fresh one, then the same ----------------

// A model's payload, restored into another model; false when refused.
template <typename Model>
std::vector<u8> payload_of(const Model& model) {
    std::vector<u8> buffer(4096);
    StateWriter out(buffer.data(), buffer.size());
    model.save(out);
    const usize end = out.finish();
    return std::vector<u8>(buffer.begin() + long(platform_state::kHeaderBytes), buffer.begin() + long(end));
}

template <typename Model>
bool restore_payload(Model& model, const std::vector<u8>& payload) {
    typename Model::State state{};
    StateReader in(payload.data(), payload.size());
    if (!model.load(in, state) || !in.done()) return false;
    model.restore(state);
    return true;
}

TEST(PlatformStateDevices, PicPairRoundTrip) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.pic, payload_of(a.pic)));
    EXPECT_EQ(b.pic.master().isr(), 0x02);
    EXPECT_EQ(b.pic.master().imr(), 0x20);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(a.pic.interrupt_pending(), b.pic.interrupt_pending());
        a.out(0x20, 0x20);  // EOI
        b.out(0x20, 0x20);
        EXPECT_EQ(a.pic.acknowledge(), b.pic.acknowledge()) << i;
    }
}

TEST(PlatformStateDevices, PitRoundTripKeepsPhaseAndGate) {
    Pc a, b;
    drive(a);
    b.clock.now = a.clock.now;
    ASSERT_TRUE(restore_payload(b.pit, payload_of(a.pit)));
    ASSERT_TRUE(restore_payload(b.port61, payload_of(a.port61)));
    EXPECT_EQ(b.pit.next_deadline_ns(), a.pit.next_deadline_ns());
    EXPECT_TRUE(b.pit.gate(2));
    const u64 start = a.clock.now;
    for (u64 t = start; t < start + 50 * kMs; t += 777'777) {
        a.clock.now = b.clock.now = t;
        a.out(0x43, 0x00);
        b.out(0x43, 0x00);
        EXPECT_EQ(a.in(0x40) | a.in(0x40) << 8, b.in(0x40) | b.in(0x40) << 8) << t;
        EXPECT_EQ(a.pit.output(2), b.pit.output(2)) << t;
    }
    // Counter 1 still waits for the MSB of its count.
    a.out(0x41, 0x34);
    b.out(0x41, 0x34);
    a.out(0x43, 0xe4);  // read-back status of counter 1
    b.out(0x43, 0xe4);
    EXPECT_EQ(a.in(0x41), b.in(0x41));
}

// Every state the guest can reach is one a restore takes: here a binary count of 65536
// still in effect after a control word switched the counter to BCD.
TEST(PlatformStateDevices, PitCountFromBinaryModeSurvivesABcdControlWord) {
    Pc a, b;
    a.out(0x43, 0x34);
    a.out(0x40, 0x00);
    a.out(0x40, 0x00);  // 0: 65536
    a.out(0x43, 0x35);  // the same, in BCD: waits for a count
    ASSERT_TRUE(restore_payload(b.pit, payload_of(a.pit)));
    EXPECT_EQ(payload_of(b.pit), payload_of(a.pit));
}

TEST(PlatformStateDevices, RtcRoundTripKeepsTheGuestsCalendar) {
    Pc a;
    drive(a);
    Pc b(2, 2'000'000'000, kTargetUnix);  // its own wall clock would read years later
    b.clock.now = a.clock.now;
    ASSERT_TRUE(restore_payload(b.rtc, payload_of(a.rtc)));
    for (u8 index : {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x40, 0x0b}) {
        a.out(0x70, index);
        b.out(0x70, index);
        EXPECT_EQ(a.in(0x71), b.in(0x71)) << int(index);
    }
    EXPECT_EQ(a.rtc.current_unix_seconds(), b.rtc.current_unix_seconds());
    EXPECT_EQ(a.rtc.next_deadline_ns(), b.rtc.next_deadline_ns());
}

TEST(PlatformStateDevices, UartRoundTripKeepsTheFifoAndRegisters) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.com1, payload_of(a.com1)));
    EXPECT_EQ(b.com1.irq_level(), a.com1.irq_level());
    for (u16 port : {0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff}) EXPECT_EQ(a.in(port), b.in(port)) << port;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a.in(0x3f8), b.in(0x3f8)) << i;
    EXPECT_EQ(b.in(0x3fd) & 1, 0u);  // the FIFO ran empty on both
    // Refused: more bytes than the 16-byte FIFO, and the FIFO's state without FIFOs.
    std::vector<u8> bad = payload_of(a.com1);
    bad[0] = 17;
    EXPECT_FALSE(restore_payload(b.com1, bad));
}

TEST(PlatformStateDevices, PmBlockRoundTripKeepsStatusEnableAndTimer) {
    Pc a, b;
    drive(a);
    b.clock.now = a.clock.now;
    ASSERT_TRUE(restore_payload(b.pm, payload_of(a.pm)));
    EXPECT_TRUE(b.pm.sci_level());
    for (u16 port : {0x600, 0x602, 0x604, 0x608}) EXPECT_EQ(a.in(port, 4), b.in(port, 4)) << port;
    EXPECT_EQ(a.pm.next_deadline_ns(), b.pm.next_deadline_ns());
}

TEST(PlatformStateDevices, I8042RoundTripKeepsTheReplyAndCommandByte) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.kbc, payload_of(a.kbc)));
    EXPECT_EQ(b.kbc.command_byte(), 0x47);
    EXPECT_EQ(a.in(0x64), b.in(0x64));
    EXPECT_EQ(b.in(0x60), 0x55u);
}

TEST(PlatformStateDevices, PciHostBridgeRoundTripKeepsAddressAndCommand) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.pci, payload_of(a.pci)));
    EXPECT_EQ(b.pci.config_address(), 0x80000004u);
    EXPECT_EQ(b.in(0xcfc, 2), 0x0146u);
    b.out(0xcf8, 0x80000000, 4);
    EXPECT_EQ(b.in(0xcfc, 4), 0x12378086u);
}

TEST(PlatformStateDevices, ResetControlRoundTrip) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.reset_control, payload_of(a.reset_control)));
    EXPECT_EQ(b.reset_control.port_read(ResetControl::kPort, 1), 0x02u);
}

TEST(PlatformStateDevices, IoapicRoundTripKeepsEntriesAndRemoteIrr) {
    Pc a, b;
    drive(a);
    ASSERT_TRUE(restore_payload(b.ioapic, payload_of(a.ioapic)));
    for (u8 index = 0; index < 0x40; ++index) EXPECT_EQ(a.ioapic_read(index), b.ioapic_read(index)) << int(index);
    EXPECT_TRUE(b.ioapic.redirection_entry(9) & VirtualIoapic::kEntryRemoteIrr);
    // The asserted level pin is delivered again at its EOI, as on the source.
    a.sink.vectors.clear();
    b.sink.vectors.clear();
    a.ioapic.eoi(0x39);
    b.ioapic.eoi(0x39);
    EXPECT_EQ(a.sink.vectors, b.sink.vectors);
    EXPECT_EQ(b.sink.vectors, std::vector<u8>{0x39});
    // Reserved bits refused, the target's entries unchanged.
    std::vector<u8> bad = payload_of(a.ioapic);
    bad[6 + 9 * 4 + 2] |= 0x10;  // pin 4's entry, bit 20
    Pc c;
    EXPECT_FALSE(restore_payload(c.ioapic, bad));
    EXPECT_EQ(c.ioapic.redirection_entry(4), VirtualIoapic::kEntryMasked);
}

TEST(PlatformStateDevices, LocalApicRoundTripKeepsRegistersAndTimer) {
    Pc a;
    drive(a);
    Pc b(2, 1'500'000'000, kTargetUnix);
    b.clock.now = a.clock.now;
    b.tsc.set_tsc(a.clock.now, a.tsc.tsc_at(a.clock.now));
    for (usize i = 0; i < 2; ++i) ASSERT_TRUE(restore_payload(*b.raw[i], payload_of(*a.raw[i]))) << i;
    for (u32 offset = 0x20; offset < 0x400; offset += 0x10)
        EXPECT_EQ(a.raw[0]->mmio_read(offset), b.raw[0]->mmio_read(offset)) << offset;
    EXPECT_EQ(b.raw[0]->pending_vector(), 0x51);
    EXPECT_EQ(a.raw[0]->next_deadline_ns(), b.raw[0]->next_deadline_ns());
    // Another vCPU's APIC (another APIC ID) is refused.
    EXPECT_FALSE(restore_payload(*b.raw[1], payload_of(*a.raw[0])));
}

// The codec alone: reads past the end yield 0 and fail the reader; a writer that runs
// out of room only counts.
TEST(PlatformStateCodec, ReaderNeverReadsPastItsLength) {
    const u8 bytes[3] = {1, 2, 3};
    StateReader r(bytes, 3);
    EXPECT_EQ(r.get_u16(), 0x0201);
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.get_u16(), 0);
    EXPECT_TRUE(r.failed());
    EXPECT_FALSE(r.done());
    StateReader b(bytes + 2, 1);
    EXPECT_FALSE(b.get_bool());
    EXPECT_TRUE(b.failed());  // 3 is no bool
}

TEST(PlatformStateCodec, AWriterOutOfRoomCountsWithoutWriting) {
    u8 small[20] = {};
    StateWriter w(small, sizeof(small));
    w.begin_record(7);
    w.put_u64(~0ull);
    w.put_u64(~0ull);
    w.end_record();
    EXPECT_EQ(w.finish(), 16u + 8 + 16);
    EXPECT_FALSE(w.fits());
    for (usize i = 16; i < sizeof(small); ++i) EXPECT_TRUE(small[i] == 7 || small[i] == 0) << i;
}

}  // namespace
