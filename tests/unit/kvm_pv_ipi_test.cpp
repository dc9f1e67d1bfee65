// KVM's PV send-IPI hypercall (kernel/vm/devices/apic/kvm_pv_ipi.hpp) as Linux's
// __send_ipi_mask makes it: bitmaps of APIC IDs from `min`, fixed or NMI, the count
// delivered, and -22 for what KVM refuses.
#include "kernel/vm/devices/apic/kvm_pv_ipi.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"

namespace {

class FakeClock final : public GuestClock {
public:
    u64 now_ns() const override { return 0; }
};

class RecordingWakeup final : public ApicWakeup {
public:
    void wake_vcpu(u32 index) override { woken.push_back(index); }
    std::vector<u32> woken;
};

using Indices = std::vector<u32>;

// `count` vCPUs with APIC IDs 0..count-1, software-enabled, in xAPIC mode.
struct Machine {
    explicit Machine(u32 count) : bus(&wakeup) {
        for (u32 i = 0; i < count; ++i) {
            LapicConfig config;
            config.apic_id = i;
            config.bsp = i == 0;
            lapics.push_back(std::make_unique<VirtualLapic>(config, clock, tsc));
            EXPECT_TRUE(bus.attach(i, *lapics.back()));
            lapics.back()->mmio_write(lapic::kSvr, 0x1ff);
        }
    }
    Indices requested(u8 vector) {
        Indices result;
        for (u32 i = 0; i < lapics.size(); ++i)
            if (lapics[i]->in_irr(vector)) result.push_back(i);
        return result;
    }
    FakeClock clock;
    LinearGuestTsc tsc{1'000'000'000, 0};
    RecordingWakeup wakeup;
    ApicBus bus;
    std::vector<std::unique_ptr<VirtualLapic>> lapics;
};

constexpr u64 kFixed = 0x000, kNmi = 0x400;

TEST(KvmPvIpi, EveryApicIdInTheBitmapGetsTheVector) {
    Machine m(8);
    // APIC IDs 1, 2 and 5 (min 1: bits 0, 1, 4), as Linux packs them.
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10011, 0, 1, kFixed | 0xfb, true, 0), 3);
    EXPECT_EQ(m.requested(0xfb), Indices({1, 2, 5}));
    EXPECT_EQ(m.wakeup.woken, Indices({1, 2, 5}));
}

TEST(KvmPvIpi, TheHighWordContinuesAfterTheClusterSize) {
    Machine m(8);
    // 64-bit: RCX's bit 0 is APIC ID min + 64; 32-bit: min + 32. Nobody has either.
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0, 1, 0, kFixed | 0xf0, true, 0), 0);
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0, 1, 0, kFixed | 0xf0, false, 0), 0);
    EXPECT_TRUE(m.requested(0xf0).empty());
    // A 32-bit guest's registers are 32 bits: the upper halves are not its own.
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0xffffffff00000008ull, 0xffffffff00000000ull, 0, kFixed | 0xf1, false, 0), 1);
    EXPECT_EQ(m.requested(0xf1), Indices({3}));
    // min is an APIC ID, 32 bits (as KVM takes it); IDs past 2^32 - 1 do not wrap to 0.
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 1, 0, 0x100000002ull, kFixed | 0xf2, true, 0), 1);
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 1ull << 40, 0, 0xffffffe0ull, kFixed | 0xf2, true, 0), 0);
    EXPECT_EQ(m.requested(0xf2), Indices({2}));
}

TEST(KvmPvIpi, ApicIdsNoVcpuHasAreSkipped) {
    Machine m(2);
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, ~0ull, ~0ull, 0, kFixed | 0xe0, true, 0), 2);
    EXPECT_EQ(m.requested(0xe0), Indices({0, 1}));
    // Not a broadcast: 0xff is an APIC ID like any other.
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 1, 0, 0xff, kFixed | 0xe1, true, 0), 0);
    EXPECT_TRUE(m.requested(0xe1).empty());
}

TEST(KvmPvIpi, AnNmiIsAnNmi) {
    Machine m(4);
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b100, 0, 0, kNmi, true, 0), 1);
    EXPECT_TRUE(m.lapics[2]->nmi_pending());
    EXPECT_FALSE(m.lapics[1]->nmi_pending());
}

TEST(KvmPvIpi, WhatKvmRefusesIsRefusedAndSendsNothing) {
    Machine m(4);
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10, 0, 0, kFixed | 0x800 | 0xd0, true, 0), kKvmEinval);       // logical
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10, 0, 0, kFixed | (3u << 18) | 0xd0, true, 0), kKvmEinval);  // shorthand
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10, 0, 0, 0x500, true, 0), kKvmEinval);                       // INIT
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10, 0, 0, 0x600 | 0x10, true, 0), kKvmEinval);                // start-up
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b10, 0, 0, 0x100 | 0xd0, true, 0), kKvmEinval);                // lowest priority
    EXPECT_TRUE(m.requested(0xd0).empty());
    EXPECT_TRUE(m.wakeup.woken.empty());
}

TEST(KvmPvIpi, AHardwareDisabledApicTakesNothing) {
    Machine m(2);
    ASSERT_TRUE(m.lapics[1]->write_apic_base(lapic::kDefaultApicBase));  // global enable off
    EXPECT_EQ(kvm_pv_send_ipi(m.bus, 0b11, 0, 0, kFixed | 0xc0, true, 0), 1);
    EXPECT_EQ(m.requested(0xc0), Indices({0}));
}

}  // namespace
