#include "kernel/vm/devices/apic/virtual_ioapic.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/apic/apic_bus.hpp"
#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"

namespace {

class RecordingSink final : public ApicMessageSink {
public:
    u32 send_message(const ApicMessage& message) override {
        messages.push_back(message);
        return accepted;
    }
    std::vector<ApicMessage> messages;
    u32 accepted = 1;
};

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return 0; }
};

constexpr u32 kMasked = 1u << 16;
constexpr u32 kLevel = 1u << 15;
constexpr u32 kActiveLow = 1u << 13;
constexpr u32 kRemoteIrr = 1u << 14;

u32 read_register(VirtualIoapic& ioapic, u8 index) {
    ioapic.mmio_write(VirtualIoapic::kIoRegSel, index);
    return ioapic.mmio_read(VirtualIoapic::kIoWin);
}

void write_register(VirtualIoapic& ioapic, u8 index, u32 value) {
    ioapic.mmio_write(VirtualIoapic::kIoRegSel, index);
    ioapic.mmio_write(VirtualIoapic::kIoWin, value);
}

// Programs pin's entry as Linux does: high dword (destination) first, then low.
void program(VirtualIoapic& ioapic, u8 pin, u32 low, u8 destination = 0) {
    write_register(ioapic, u8(0x11 + 2 * pin), u32(destination) << 24);
    write_register(ioapic, u8(0x10 + 2 * pin), low);
}

u32 entry_low(VirtualIoapic& ioapic, u8 pin) { return read_register(ioapic, u8(0x10 + 2 * pin)); }

TEST(VirtualIoapic, PowerUpRegisters) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink, 0x11, 2);
    EXPECT_EQ(read_register(ioapic, 0x01), 0x00170011u);
    EXPECT_EQ(read_register(ioapic, 0x00), 2u << 24);
    EXPECT_EQ(read_register(ioapic, 0x02), 2u << 24);
    for (u8 pin = 0; pin < VirtualIoapic::kPins; ++pin) {
        EXPECT_EQ(entry_low(ioapic, pin), kMasked);
        EXPECT_EQ(read_register(ioapic, u8(0x11 + 2 * pin)), 0u);
    }
    EXPECT_EQ(read_register(ioapic, 0x40), 0u);  // beyond the table
    write_register(ioapic, 0x00, 0xff000000);
    EXPECT_EQ(read_register(ioapic, 0x00), 0x0f000000u);  // 4-bit ID
    write_register(ioapic, 0x01, 0);                      // read-only
    EXPECT_EQ(read_register(ioapic, 0x01), 0x00170011u);
    ioapic.mmio_write(VirtualIoapic::kIoRegSel, 0x1234);
    EXPECT_EQ(ioapic.mmio_read(VirtualIoapic::kIoRegSel), 0x34u);
    EXPECT_EQ(VirtualIoapic(sink, 0x20).version(), 0x20);
    EXPECT_EQ(VirtualIoapic(sink, 0x42).version(), 0x11);
}

TEST(VirtualIoapic, EntryFieldsReadBack) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    program(ioapic, 5, 0xffffffff, 0xab);
    // Vector, delivery mode, destination mode, polarity, trigger, mask; not delivery
    // status, remote IRR or the reserved bits.
    EXPECT_EQ(entry_low(ioapic, 5), 0x1afffu);
    EXPECT_EQ(read_register(ioapic, 0x1b), 0xab000000u);
    write_register(ioapic, 0x1b, 0x00ffffff);
    EXPECT_EQ(read_register(ioapic, 0x1b), 0u);
    EXPECT_EQ(ioapic.redirection_entry(5), 0x1afffu);
    EXPECT_EQ(ioapic.redirection_entry(99), 0u);
}

TEST(VirtualIoapic, EdgePinDeliversOnRisingEdges) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    program(ioapic, 4, 0x0834, 0x03);  // logical, fixed, vector 0x34, edge, active high
    ioapic.set_pin(4, true);
    ASSERT_EQ(sink.messages.size(), 1u);
    const ApicMessage& m = sink.messages[0];
    EXPECT_EQ(m.vector, 0x34);
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::Fixed);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Logical);
    EXPECT_EQ(m.destination, 3u);
    EXPECT_FALSE(m.level_triggered);
    EXPECT_FALSE(m.x2apic_destination);
    EXPECT_EQ(m.source_index, ApicMessage::kNoSource);
    ioapic.set_pin(4, true);  // no edge
    EXPECT_EQ(sink.messages.size(), 1u);
    ioapic.set_pin(4, false);
    ioapic.set_pin(4, true);
    EXPECT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(entry_low(ioapic, 4) & kRemoteIrr, 0u);
    // Masked: the edge is lost, unmasking does not bring it back.
    program(ioapic, 4, kMasked | 0x34);
    ioapic.set_pin(4, false);
    ioapic.set_pin(4, true);
    program(ioapic, 4, 0x34);
    EXPECT_EQ(sink.messages.size(), 2u);
}

TEST(VirtualIoapic, ActiveLowEdge) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    ioapic.set_pin(9, true);  // idle high
    program(ioapic, 9, kActiveLow | 0x39);
    EXPECT_TRUE(sink.messages.empty());
    ioapic.set_pin(9, false);  // asserted
    EXPECT_EQ(sink.messages.size(), 1u);
    ioapic.set_pin(9, true);
    EXPECT_EQ(sink.messages.size(), 1u);
}

TEST(VirtualIoapic, LevelPinRemoteIrrAndRedelivery) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    ioapic.set_pin(10, true);  // idle: active low
    program(ioapic, 10, kLevel | kActiveLow | 0x3a, 1);
    EXPECT_TRUE(sink.messages.empty());
    ioapic.set_pin(10, false);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_TRUE(sink.messages[0].level_triggered);
    EXPECT_NE(entry_low(ioapic, 10) & kRemoteIrr, 0u);
    ioapic.set_pin(10, false);  // still asserted, awaiting EOI
    EXPECT_EQ(sink.messages.size(), 1u);
    ioapic.eoi(0x3b);  // another vector
    EXPECT_EQ(sink.messages.size(), 1u);
    ioapic.eoi(0x3a);  // still asserted: delivered again
    EXPECT_EQ(sink.messages.size(), 2u);
    EXPECT_NE(entry_low(ioapic, 10) & kRemoteIrr, 0u);
    ioapic.set_pin(10, true);  // the device is satisfied
    ioapic.eoi(0x3a);
    EXPECT_EQ(sink.messages.size(), 2u);
    EXPECT_EQ(entry_low(ioapic, 10) & kRemoteIrr, 0u);
    write_register(ioapic, 0x24, kRemoteIrr | kLevel | kActiveLow | 0x3a);  // remote IRR is read-only
    EXPECT_EQ(entry_low(ioapic, 10) & kRemoteIrr, 0u);
}

TEST(VirtualIoapic, MaskedLevelPinDeliversWhenUnmasked) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    program(ioapic, 11, kMasked | kLevel | 0x3b);
    ioapic.set_pin(11, true);
    EXPECT_TRUE(sink.messages.empty());
    program(ioapic, 11, kLevel | 0x3b);
    EXPECT_EQ(sink.messages.size(), 1u);
    // Masking with remote IRR set, EOI, unmasking: delivered again on the unmask.
    program(ioapic, 11, kMasked | kLevel | 0x3b);
    ioapic.eoi(0x3b);
    EXPECT_EQ(sink.messages.size(), 1u);
    program(ioapic, 11, kLevel | 0x3b);
    EXPECT_EQ(sink.messages.size(), 2u);
}

TEST(VirtualIoapic, SwitchingToEdgeClearsRemoteIrr) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    program(ioapic, 3, kLevel | 0x33);
    ioapic.set_pin(3, true);
    EXPECT_NE(entry_low(ioapic, 3) & kRemoteIrr, 0u);
    // Linux's remote-IRR workaround for version 0x11: mask + edge, then level again.
    program(ioapic, 3, kMasked | 0x33);
    EXPECT_EQ(entry_low(ioapic, 3) & kRemoteIrr, 0u);
    program(ioapic, 3, kLevel | 0x33);
    EXPECT_EQ(sink.messages.size(), 2u);  // still asserted
}

TEST(VirtualIoapic, UnacceptedLevelInterruptLeavesRemoteIrrClear) {
    RecordingSink sink;
    sink.accepted = 0;
    VirtualIoapic ioapic(sink);
    program(ioapic, 6, kLevel | 0x36, 9);
    ioapic.set_pin(6, true);
    EXPECT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(entry_low(ioapic, 6) & kRemoteIrr, 0u);
}

TEST(VirtualIoapic, DeliveryModes) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    program(ioapic, 0, 0x300 | 0x40);  // reserved 011
    program(ioapic, 1, 0x600 | 0x40);  // reserved 110
    ioapic.set_pin(0, true);
    ioapic.set_pin(1, true);
    EXPECT_TRUE(sink.messages.empty());
    program(ioapic, 2, 0x700);  // ExtINT (virtual wire through the IOAPIC)
    ioapic.set_pin(2, true);
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0].delivery_mode, ApicDeliveryMode::ExtInt);
    // A level NMI entry never waits for an EOI that cannot come.
    program(ioapic, 7, kLevel | 0x400);
    ioapic.set_pin(7, true);
    EXPECT_EQ(entry_low(ioapic, 7) & kRemoteIrr, 0u);
    ioapic.set_pin(200, true);  // no such pin
    EXPECT_FALSE(ioapic.pin_level(200));
    EXPECT_TRUE(ioapic.pin_level(7));
}

TEST(VirtualIoapic, EoiRegisterOnlyInVersion20) {
    RecordingSink sink;
    VirtualIoapic old_ioapic(sink, 0x11), new_ioapic(sink, 0x20);
    for (VirtualIoapic* ioapic : {&old_ioapic, &new_ioapic}) {
        program(*ioapic, 1, kLevel | 0x51);
        ioapic->set_pin(1, true);
        ioapic->set_pin(1, false);
        ioapic->mmio_write(VirtualIoapic::kEoiRegister, 0x51);
    }
    EXPECT_NE(entry_low(old_ioapic, 1) & kRemoteIrr, 0u);
    EXPECT_EQ(entry_low(new_ioapic, 1) & kRemoteIrr, 0u);
}

TEST(VirtualIoapic, SizedMmioAccesses) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    ioapic.mmio_write_sized(VirtualIoapic::kIoRegSel, 1, 0x01);
    EXPECT_EQ(ioapic.mmio_read_sized(VirtualIoapic::kIoWin, 4), 0x00170011u);
    EXPECT_EQ(ioapic.mmio_read_sized(VirtualIoapic::kIoWin + 2, 1), 0x17u);
    EXPECT_EQ(ioapic.mmio_read_sized(VirtualIoapic::kIoWin, 8), 0x00170011u);
    EXPECT_EQ(ioapic.mmio_read_sized(VirtualIoapic::kIoWin + 2, 4), 0u);
    EXPECT_EQ(ioapic.mmio_read_sized(0x1000, 4), 0u);
    ioapic.mmio_write_sized(0x1000, 4, 0);
    ioapic.mmio_write_sized(VirtualIoapic::kIoRegSel, 8, 0xffffffff00000000ull | 0x12);
    EXPECT_EQ(ioapic.mmio_read(VirtualIoapic::kIoRegSel), 0x12u);
}

// The IOAPIC, the bus and two local APICs together: Linux's level-triggered interrupt
// path with the EOI broadcast, and an illegal vector.
TEST(VirtualIoapic, LevelInterruptThroughTheBusAndEoi) {
    FakeClock clock;
    LinearGuestTsc tsc(1'000'000'000, 0);
    ApicBus bus(nullptr);
    LapicConfig config;
    VirtualLapic cpu0(config, clock, tsc);
    config.apic_id = 1;
    VirtualLapic cpu1(config, clock, tsc);
    ASSERT_TRUE(bus.attach(0, cpu0));
    ASSERT_TRUE(bus.attach(1, cpu1));
    VirtualIoapic ioapic(bus);
    cpu0.set_eoi_listener(&ioapic);
    cpu1.set_eoi_listener(&ioapic);
    cpu0.mmio_write(lapic::kSvr, 0x1ff);
    cpu1.mmio_write(lapic::kSvr, 0x1ff);

    program(ioapic, 11, kLevel | kActiveLow | 0x41, 1);  // physical, CPU 1
    ioapic.set_pin(11, false);
    EXPECT_FALSE(cpu0.in_irr(0x41));
    ASSERT_EQ(cpu1.pending_vector(), 0x41);
    EXPECT_TRUE(cpu1.in_tmr(0x41));
    cpu1.acknowledge(0x41);
    cpu1.mmio_write(lapic::kEoi, 0);  // still asserted: back in IRR
    EXPECT_EQ(cpu1.pending_vector(), 0x41);
    cpu1.acknowledge(0x41);
    ioapic.set_pin(11, true);
    cpu1.mmio_write(lapic::kEoi, 0);
    EXPECT_EQ(cpu1.pending_vector(), VirtualLapic::kNoVector);
    EXPECT_EQ(entry_low(ioapic, 11) & kRemoteIrr, 0u);

    // Illegal vector: the receiving APIC logs it, nothing is delivered, no remote IRR.
    program(ioapic, 12, kLevel | 0x0e, 0xff);
    ioapic.set_pin(12, true);
    EXPECT_EQ(entry_low(ioapic, 12) & kRemoteIrr, 0u);
    cpu0.mmio_write(lapic::kEsr, 0);
    EXPECT_EQ(cpu0.mmio_read(lapic::kEsr), lapic::kEsrReceiveIllegalVector);
    EXPECT_EQ(cpu0.pending_vector(), VirtualLapic::kNoVector);

    // A destination nobody has: dropped, no remote IRR.
    program(ioapic, 13, kLevel | 0x43, 7);
    ioapic.set_pin(13, true);
    EXPECT_EQ(entry_low(ioapic, 13) & kRemoteIrr, 0u);
}

TEST(VirtualIoapic, ArbitraryGuestAccessesAreSafe) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink, 0x20);
    u64 state = 0x2545f4914f6cdd1dull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (u32 i = 0; i < 100'000; ++i) {
        const u64 r = next();
        switch (r & 7) {
            case 0: ioapic.mmio_write(u32((r >> 8) & 0x7f), u32(r >> 32)); break;
            case 1: ioapic.mmio_read(u32((r >> 8) & 0x7f)); break;
            case 2:
            case 3: write_register(ioapic, u8(r >> 8), u32(r >> 32)); break;
            case 4: ioapic.set_pin(u8((r >> 8) % 30), (r >> 16) & 1); break;
            case 5: ioapic.eoi(u8(r >> 8)); break;
            case 6: ioapic.mmio_write_sized(r >> 52, u8((r >> 8) & 15), next()); break;
            default: ioapic.mmio_read_sized(r >> 52, u8((r >> 8) & 15)); break;
        }
    }
    EXPECT_EQ(read_register(ioapic, 0x01), 0x00170020u);
}

}  // namespace

namespace {

// Domain-0's forwarding of a real level-triggered line: the listener sees the guest's
// programming, and at the EOI takes the pin down before the model looks at it again, so
// the entry delivers once per real interrupt instead of at once again.
class ForwardingListener final : public IoapicPinListener {
public:
    explicit ForwardingListener(VirtualIoapic*& ioapic) : ioapic_(ioapic) {}
    void pin_programmed(u8 pin, u64 entry) override { programmed.push_back({pin, entry}); }
    void pin_eoi(u8 pin) override {
        eois.push_back(pin);
        ioapic_->set_pin(pin, !ioapic_->asserted_level(pin));
    }
    std::vector<std::pair<u8, u64>> programmed;
    std::vector<u8> eois;

private:
    VirtualIoapic*& ioapic_;
};

TEST(VirtualIoapic, PinListenerForwardsALevelLine) {
    RecordingSink sink;
    VirtualIoapic ioapic(sink);
    VirtualIoapic* self = &ioapic;
    ForwardingListener listener(self);
    ioapic.set_pin_listener(&listener);
    write_register(ioapic, 0x10 + 2 * 11, 0x41 | kLevel | kActiveLow);
    ASSERT_EQ(listener.programmed.size(), 1u);
    EXPECT_EQ(listener.programmed[0].first, 11);
    EXPECT_EQ(listener.programmed[0].second & 0x1ffff, u64(0x41 | kLevel | kActiveLow));
    EXPECT_FALSE(ioapic.asserted_level(11));
    ioapic.set_pin(11, false);  // the real line fired: asserted (active low)
    ASSERT_EQ(sink.messages.size(), 1u);
    ioapic.eoi(0x41);
    EXPECT_EQ(listener.eois, std::vector<u8>{11});
    EXPECT_EQ(sink.messages.size(), 1u);  // not again until the line fires anew
    EXPECT_EQ(ioapic.redirection_entry(11) & kRemoteIrr, 0u);
    ioapic.set_pin(11, false);
    EXPECT_EQ(sink.messages.size(), 2u);
    ioapic.eoi(0x42);  // another vector: nothing
    EXPECT_EQ(listener.eois.size(), 1u);
}

}  // namespace
