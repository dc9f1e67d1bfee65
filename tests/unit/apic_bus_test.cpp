#include "kernel/vm/devices/apic/apic_bus.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"

namespace {

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return now; }
    u64 now = 0;
};

class RecordingWakeup final : public ApicWakeup {
public:
    void wake_vcpu(u32 index) override { woken.push_back(index); }
    std::vector<u32> woken;
};

constexpr u32 kSvrEnabled = 0x1ff;
constexpr u64 kX2apicBase = lapic::kDefaultApicBase | lapic::kApicBaseEnable | lapic::kApicBaseX2apic;
constexpr u32 kMsrSvr = 0x80f, kMsrIcr = 0x830;

// `count` vCPUs with APIC IDs 0..count-1 (vCPU 0 the BSP), all software-enabled.
struct Machine {
    explicit Machine(u32 count) : bus(&wakeup) {
        for (u32 i = 0; i < count; ++i) {
            LapicConfig config;
            config.apic_id = i;
            config.bsp = i == 0;
            lapics.push_back(std::make_unique<VirtualLapic>(config, clock, tsc));
            EXPECT_TRUE(bus.attach(i, *lapics.back()));
            lapics.back()->mmio_write(lapic::kSvr, kSvrEnabled);
        }
    }
    VirtualLapic& at(u32 i) { return *lapics[i]; }
    // An xAPIC IPI from vCPU `from`, as Linux writes it: ICR high, then ICR low.
    void ipi(u32 from, u8 destination, u32 icr_low) {
        at(from).mmio_write(lapic::kIcrHigh, u32(destination) << 24);
        at(from).mmio_write(lapic::kIcrLow, icr_low);
    }
    void x2apic_all() {
        for (auto& lapic : lapics) {
            ASSERT_TRUE(lapic->write_apic_base(kX2apicBase));
            ASSERT_TRUE(lapic->msr_write(kMsrSvr, kSvrEnabled));
        }
    }
    // Which vCPUs have `vector` requested.
    std::vector<u32> requested(u8 vector) {
        std::vector<u32> result;
        for (u32 i = 0; i < lapics.size(); ++i) {
            if (at(i).in_irr(vector)) result.push_back(i);
        }
        return result;
    }

    FakeClock clock;
    LinearGuestTsc tsc{1'000'000'000, 0};
    RecordingWakeup wakeup;
    ApicBus bus;
    std::vector<std::unique_ptr<VirtualLapic>> lapics;
};

using Indices = std::vector<u32>;

ApicMessage fixed(u8 vector, u32 destination, ApicDestinationMode mode = ApicDestinationMode::Physical) {
    ApicMessage message;
    message.vector = vector;
    message.destination = destination;
    message.destination_mode = mode;
    return message;
}

TEST(ApicBus, AttachRules) {
    Machine machine(2);
    EXPECT_FALSE(machine.bus.attach(1, machine.at(0)));  // slot taken
    EXPECT_FALSE(machine.bus.attach(ApicBus::kMaxLapics, machine.at(0)));
    EXPECT_EQ(machine.bus.lapic(1), &machine.at(1));
    EXPECT_EQ(machine.bus.lapic(5), nullptr);
    EXPECT_EQ(machine.bus.lapic(100), nullptr);
    EXPECT_EQ(machine.at(1).index(), 1u);
}

TEST(ApicBus, PhysicalFixedIpi) {
    Machine machine(4);
    machine.ipi(0, 2, 0x4041);  // fixed, assert, vector 0x41
    EXPECT_EQ(machine.requested(0x41), Indices({2}));
    EXPECT_EQ(machine.wakeup.woken, Indices({2}));
    machine.ipi(0, 7, 0x4042);  // nobody has ID 7
    EXPECT_TRUE(machine.requested(0x42).empty());
    machine.ipi(3, 0xff, 0x4043);  // physical broadcast
    EXPECT_EQ(machine.requested(0x43), Indices({0, 1, 2, 3}));
}

TEST(ApicBus, LogicalFlatDestinations) {
    Machine machine(4);
    for (u32 i = 0; i < 4; ++i) machine.at(i).mmio_write(lapic::kLdr, 1u << (24 + i));  // Linux's flat LDRs
    machine.ipi(0, 0x0a, 0x4841);                                                       // logical: CPUs 1 and 3
    EXPECT_EQ(machine.requested(0x41), Indices({1, 3}));
    machine.ipi(0, 0xff, 0x4842);
    EXPECT_EQ(machine.requested(0x42), Indices({0, 1, 2, 3}));
    machine.ipi(0, 0x00, 0x4843);
    EXPECT_TRUE(machine.requested(0x43).empty());
}

TEST(ApicBus, LogicalClusterDestinations) {
    Machine machine(4);
    // Cluster 1 holds CPUs 0 and 1 (members 1 and 2), cluster 2 holds CPUs 2 and 3.
    const u32 ldrs[4] = {0x11, 0x12, 0x21, 0x22};
    for (u32 i = 0; i < 4; ++i) {
        machine.at(i).mmio_write(lapic::kDfr, 0x0fffffff);
        machine.at(i).mmio_write(lapic::kLdr, ldrs[i] << 24);
    }
    machine.ipi(0, 0x13, 0x4841);
    EXPECT_EQ(machine.requested(0x41), Indices({0, 1}));
    machine.ipi(0, 0x22, 0x4842);
    EXPECT_EQ(machine.requested(0x42), Indices({3}));
    machine.ipi(0, 0x32, 0x4843);  // no cluster 3
    EXPECT_TRUE(machine.requested(0x43).empty());
    // An undefined DFR model matches nothing.
    machine.at(3).mmio_write(lapic::kDfr, 0x5fffffff);
    machine.ipi(0, 0x22, 0x4844);
    EXPECT_TRUE(machine.requested(0x44).empty());
}

TEST(ApicBus, X2apicPhysicalAndLogicalCluster) {
    Machine machine(4);
    machine.x2apic_all();
    ASSERT_TRUE(machine.at(0).msr_write(kMsrIcr, (3ull << 32) | 0x4041));
    EXPECT_EQ(machine.requested(0x41), Indices({3}));
    // Logical: cluster 0, members 0 and 2 (x2APIC LDR = 1 << (id & 15)).
    ASSERT_TRUE(machine.at(0).msr_write(kMsrIcr, (0x5ull << 32) | 0x4842));
    EXPECT_EQ(machine.requested(0x42), Indices({0, 2}));
    ASSERT_TRUE(machine.at(0).msr_write(kMsrIcr, (0x10005ull << 32) | 0x4843));  // cluster 1
    EXPECT_TRUE(machine.requested(0x43).empty());
    ASSERT_TRUE(machine.at(1).msr_write(kMsrIcr, (0xffffffffull << 32) | 0x4044));
    EXPECT_EQ(machine.requested(0x44), Indices({0, 1, 2, 3}));
    // 0xFF is an ordinary x2APIC ID in an x2APIC ICR, but broadcast from an IOAPIC.
    ASSERT_TRUE(machine.at(1).msr_write(kMsrIcr, (0xffull << 32) | 0x4045));
    EXPECT_TRUE(machine.requested(0x45).empty());
    EXPECT_EQ(machine.bus.send_message(fixed(0x46, 0xff)), 4u);
}

TEST(ApicBus, Shorthands) {
    Machine machine(4);
    machine.ipi(1, 0, 0x000c0041);  // all excluding self (Linux's send_IPI_allbutself)
    EXPECT_EQ(machine.requested(0x41), Indices({0, 2, 3}));
    machine.ipi(1, 0, 0x00080042);  // all including self
    EXPECT_EQ(machine.requested(0x42), Indices({0, 1, 2, 3}));
    machine.ipi(2, 0, 0x00040043);  // self, whatever the destination
    EXPECT_EQ(machine.requested(0x43), Indices({2}));
    ApicMessage from_ioapic = fixed(0x44, 0);
    from_ioapic.shorthand = ApicShorthand::AllExcludingSelf;
    EXPECT_EQ(machine.bus.send_message(from_ioapic), 4u);
}

TEST(ApicBus, LinuxApStartup) {
    Machine machine(2);
    VirtualLapic& ap = machine.at(1);
    ap.mmio_write(lapic::kTpr, 0x10);
    machine.ipi(0, 1, 0x0000c500);  // INIT, level assert
    EXPECT_TRUE(ap.take_init());
    EXPECT_TRUE(ap.wait_for_sipi());
    EXPECT_EQ(ap.mmio_read(lapic::kTpr), 0u);
    machine.ipi(0, 1, 0x00008500);  // INIT de-assert: ignored
    EXPECT_FALSE(ap.take_init());
    EXPECT_TRUE(ap.wait_for_sipi());
    machine.ipi(0, 1, 0x00000698);  // SIPI
    machine.ipi(0, 1, 0x00000698);  // SIPI again (MP spec): ignored
    u8 vector = 0;
    EXPECT_TRUE(ap.take_sipi(vector));
    EXPECT_EQ(vector, 0x98);
    EXPECT_FALSE(ap.take_sipi(vector));
    EXPECT_FALSE(machine.at(0).take_init());
    // An INIT to all including self resets the sender while the bus delivers it.
    machine.ipi(0, 0, 0x0008c500);
    EXPECT_TRUE(machine.at(0).take_init());
    EXPECT_TRUE(ap.take_init());
}

TEST(ApicBus, NmiToAllButSelf) {
    Machine machine(3);
    machine.ipi(0, 0, 0x000c0400);  // NMI, all excluding self (NMI backtraces)
    EXPECT_FALSE(machine.at(0).take_nmi());
    EXPECT_TRUE(machine.at(1).take_nmi());
    EXPECT_TRUE(machine.at(2).take_nmi());
}

TEST(ApicBus, LowestPriorityPicksOneTarget) {
    Machine machine(4);
    for (u32 i = 0; i < 4; ++i) machine.at(i).mmio_write(lapic::kLdr, 1u << (24 + i));
    machine.at(0).mmio_write(lapic::kTpr, 0x20);
    machine.at(1).mmio_write(lapic::kTpr, 0x10);
    machine.at(2).mmio_write(lapic::kTpr, 0x30);
    machine.at(3).mmio_write(lapic::kTpr, 0x10);
    ApicMessage message = fixed(0x41, 0x07, ApicDestinationMode::Logical);  // CPUs 0-2
    message.delivery_mode = ApicDeliveryMode::LowestPriority;
    EXPECT_EQ(machine.bus.send_message(message), 1u);
    EXPECT_EQ(machine.requested(0x41), Indices({1}));
    // Equal priorities: round robin.
    for (u32 i = 0; i < 4; ++i) machine.at(i).mmio_write(lapic::kTpr, 0);
    message.destination = 0x0f;
    Indices winners;
    for (u8 v = 0x50; v < 0x55; ++v) {
        message.vector = v;
        machine.bus.send_message(message);
        winners.push_back(machine.requested(v).at(0));
    }
    EXPECT_EQ(winners, Indices({2, 3, 0, 1, 2}));
    // Software-disabled APICs do not compete; no candidate means no delivery.
    message.destination = 0x08;
    machine.at(3).mmio_write(lapic::kSvr, 0xff);
    EXPECT_EQ(machine.bus.send_message(message), 0u);
}

TEST(ApicBus, DisabledApicsAndDroppedModes) {
    Machine machine(3);
    machine.at(1).mmio_write(lapic::kSvr, 0xff);                          // software disabled
    ASSERT_TRUE(machine.at(2).write_apic_base(lapic::kDefaultApicBase));  // hardware disabled
    EXPECT_EQ(machine.bus.send_message(fixed(0x41, 0xff)), 1u);
    EXPECT_EQ(machine.requested(0x41), Indices({0}));
    ApicMessage init = fixed(0, 0xff);
    init.delivery_mode = ApicDeliveryMode::Init;
    EXPECT_EQ(machine.bus.send_message(init), 2u);  // the software-disabled one takes INIT
    ApicMessage smi = fixed(0, 0xff);
    smi.delivery_mode = ApicDeliveryMode::Smi;
    EXPECT_EQ(machine.bus.send_message(smi), 0u);
    smi.delivery_mode = ApicDeliveryMode::Reserved3;
    EXPECT_EQ(machine.bus.send_message(smi), 0u);
}

TEST(ApicBus, IllegalVectorsFromDevices) {
    Machine machine(2);
    EXPECT_EQ(machine.bus.send_message(fixed(0x07, 1)), 0u);
    machine.at(1).mmio_write(lapic::kEsr, 0);
    EXPECT_EQ(machine.at(1).mmio_read(lapic::kEsr), lapic::kEsrReceiveIllegalVector);
    EXPECT_EQ(machine.at(1).pending_vector(), VirtualLapic::kNoVector);
}

TEST(ApicBus, ExtIntMessage) {
    Machine machine(2);
    ApicMessage message = fixed(0, 0);
    message.delivery_mode = ApicDeliveryMode::ExtInt;
    EXPECT_EQ(machine.bus.send_message(message), 1u);
    EXPECT_EQ(machine.wakeup.woken, Indices({0}));
}

TEST(ApicBus, DestinationMatchingAcrossModes) {
    Machine machine(2);
    ApicMessage wide = fixed(0x41, 0x100);
    wide.x2apic_destination = true;
    EXPECT_FALSE(ApicBus::matches_destination(wide, machine.at(0)));  // xAPIC cannot have ID 0x100
    wide.destination = 1;
    EXPECT_TRUE(ApicBus::matches_destination(wide, machine.at(1)));
    wide.destination = ApicMessage::kX2apicBroadcast;
    EXPECT_TRUE(ApicBus::matches_destination(wide, machine.at(0)));
}

}  // namespace
