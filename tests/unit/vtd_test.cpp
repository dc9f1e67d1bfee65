// The VT-d side of DMA remapping on the host: the unit driver against a fake remapping
// unit whose registers behave as the specification's (Intel VT-d rev. 4.x, 11.4), and
// the DMAR parser on synthetic tables (VT-d 8).
#include "drivers/iommu/vtd.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "drivers/acpi/dmar.hpp"
#include "tests/unit/fake_iommu_memory.hpp"

namespace {

// QEMU's shape: fault recording registers at 0x220 (FRO 0x22), one of them, the IOTLB
// registers at 0xf0 (IRO 0xf); 2 MiB pages; SAGAW as given.
class FakeVtd : public IommuRegisters {
public:
    static constexpr u32 kFaults = 0x220;
    static constexpr u32 kIotlb = 0xf0 + 8;

    explicit FakeVtd(u64 sagaw = 0x6, u32 fault_registers = 1) {
        regs[VtdUnit::kCapability] = (sagaw << 8) | (0x22ull << 24) | (u64(fault_registers - 1) << 40) | (1ull << 34);
        regs[VtdUnit::kExtendedCapability] = (0xfull << 8) | (1ull << 3) | (1ull << 1);  // IR, QI
    }
    // Runs the invalidation queue up to its tail (VT-d 6.5.2): wait descriptors write
    // their status; every descriptor is recorded.
    void run_queue() {
        const u64 base = regs[VtdUnit::kQueueAddress] & ~0xfffull;
        u64 head = regs[VtdUnit::kQueueHead];
        while (head != regs[VtdUnit::kQueueTail]) {
            const u64* d = reinterpret_cast<const u64*>(base + head);
            descriptors.push_back({d[0], d[1]});
            if ((d[0] & 0xf) == 5 && (d[0] & (1u << 5))) *reinterpret_cast<u32*>(d[1]) = u32(d[0] >> 32);
            head = (head + 16) % 4096;
        }
        regs[VtdUnit::kQueueHead] = head;
    }
    u32 read32(u32 offset) override { return u32(regs[offset]); }
    void write32(u32 offset, u32 value) override {
        writes.push_back({offset, value});
        if (offset == VtdUnit::kGlobalCommand) {
            commands.push_back(value);
            if (stalled) return;
            u32 status = value & ~(VtdUnit::kSetRootTablePointer | VtdUnit::kWriteBufferFlush |
                                   VtdUnit::kSetInterruptTablePointer);
            if (value & VtdUnit::kSetRootTablePointer) status |= VtdUnit::kSetRootTablePointer;  // RTPS
            if (value & VtdUnit::kSetInterruptTablePointer) status |= VtdUnit::kSetInterruptTablePointer;
            regs[VtdUnit::kGlobalStatus] = status;
            return;
        }
        if (offset == VtdUnit::kFaultStatus) {
            regs[offset] &= ~u64(value & VtdUnit::kPrimaryFaultOverflow);
            return;
        }
        if (offset >= kFaults && (offset - kFaults) % 16 == 12) {  // F is write-1-to-clear
            regs[offset - 4] &= ~(u64(value) << 32);
            return;
        }
        if (offset == VtdUnit::kProtectedMemoryEnable) {
            regs[offset] = value;
            return;
        }
        regs[offset] = value;
    }
    u64 read64(u32 offset) override { return regs[offset]; }
    void write64(u32 offset, u64 value) override {
        writes.push_back({offset, value});
        // Invalidations complete at once: ICC and IVT read back clear.
        if (offset == VtdUnit::kQueueTail) {
            regs[offset] = value;
            if (regs[VtdUnit::kGlobalStatus] & VtdUnit::kQueuedInvalidationEnable) run_queue();
            return;
        }
        if (offset == VtdUnit::kContextCommand || offset == kIotlb) {
            invalidations.push_back({offset, value});
            regs[offset] = value & (stalled ? ~0ull : ~(1ull << 63));
            return;
        }
        regs[offset] = value;
    }
    void record_fault(u32 index, u16 sid, u8 reason, bool write, u64 address) {
        regs[kFaults + index * 16] = address;
        regs[kFaults + index * 16 + 8] = (1ull << 63) | (write ? 0 : 1ull << 62) | (u64(reason) << 32) | sid;
        regs[VtdUnit::kFaultStatus] |= VtdUnit::kPrimaryPendingFault;
    }

    std::map<u32, u64> regs;
    std::vector<std::pair<u32, u64>> writes;
    std::vector<std::pair<u32, u64>> invalidations;
    std::vector<std::pair<u64, u64>> descriptors;
    std::vector<u32> commands;
    bool stalled = false;
};

constexpr PhysAddr kRoot = 0x12345000;
constexpr PhysAddr kRoot3 = 0x6789a000;

TEST(VtdUnit, EnableSendsEveryRequesterThroughTheTables) {
    FakeVtd vtd;
    vtd.regs[VtdUnit::kProtectedMemoryEnable] = 1u << 31;  // the firmware's PMRs on
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    const char* error = nullptr;
    ASSERT_TRUE(unit.can_translate(1ull << 40, &error));
    EXPECT_TRUE(unit.has_2mib_pages());
    ASSERT_TRUE(unit.enable(kRoot, kRoot3, 1, nullptr, &error)) << error;
    const u64 root_table = vtd.regs[VtdUnit::kRootTableAddress];
    ASSERT_NE(root_table, 0u);
    EXPECT_EQ(root_table & 0xfff, 0u) << "legacy translation mode";
    const u64* roots = reinterpret_cast<const u64*>(root_table);
    for (u64 bus : {0ull, 1ull, 255ull}) {
        ASSERT_EQ(roots[bus * 2] & 1, 1u) << bus;
        const u64* contexts = reinterpret_cast<const u64*>(roots[bus * 2] & ~0xfffull);
        for (u64 devfn : {0ull, 0x28ull, 0xffull}) {
            EXPECT_EQ(contexts[devfn * 2], kRoot | 1) << bus << " " << devfn;
            EXPECT_EQ(contexts[devfn * 2 + 1], 2u | (1u << 8)) << "AW 4 levels, domain 1";
        }
    }
    // The root table pointer, then translation on; the one-shot SRTP is not repeated.
    ASSERT_EQ(vtd.commands.size(), 2u);
    EXPECT_EQ(vtd.commands[0], VtdUnit::kSetRootTablePointer);
    EXPECT_EQ(vtd.commands[1], VtdUnit::kTranslationEnable);
    ASSERT_EQ(vtd.invalidations.size(), 2u);
    EXPECT_EQ(vtd.invalidations[0], (std::pair<u32, u64>{VtdUnit::kContextCommand, (1ull << 63) | (1ull << 61)}));
    EXPECT_EQ(vtd.invalidations[1],
              (std::pair<u32, u64>{FakeVtd::kIotlb, (1ull << 63) | (1ull << 60) | (1ull << 49) | (1ull << 48)}));
    EXPECT_EQ(vtd.regs[VtdUnit::kProtectedMemoryEnable], 0u);
    EXPECT_EQ(vtd.regs[VtdUnit::kFaultControl], VtdUnit::kInterruptMask);
    EXPECT_EQ(memory.live(), 2u);
    unit.disable();
    EXPECT_EQ(vtd.regs[VtdUnit::kGlobalStatus] & VtdUnit::kTranslationEnable, 0u);
    EXPECT_EQ(memory.live(), 0u);
}

TEST(VtdUnit, AThreeLevelUnitWalksTheTableBelowTheFirstEntry) {
    FakeVtd vtd(/*sagaw=*/0x2);
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    const char* error = nullptr;
    EXPECT_FALSE(unit.can_translate((1ull << 39) + 4096, &error));
    EXPECT_STREQ(error, "its 3-level tables reach 512 GiB, less than the memory to map");
    ASSERT_TRUE(unit.can_translate(1ull << 39, &error));
    ASSERT_TRUE(unit.enable(kRoot, kRoot3, 3, nullptr, &error)) << error;
    const u64* roots = reinterpret_cast<const u64*>(vtd.regs[VtdUnit::kRootTableAddress]);
    const u64* contexts = reinterpret_cast<const u64*>(roots[0] & ~0xfffull);
    EXPECT_EQ(contexts[0], kRoot3 | 1);
    EXPECT_EQ(contexts[1], 1u | (3u << 8));
    FakeVtd none(/*sagaw=*/0x8);
    VtdUnit other(none, memory);
    EXPECT_FALSE(other.can_translate(1 << 20, &error));
    EXPECT_STREQ(error, "it walks neither 3- nor 4-level tables");
}

TEST(VtdUnit, AUnitThatNeverAnswersIsLeftOffAndHoldsNothing) {
    FakeVtd vtd;
    vtd.stalled = true;
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    const char* error = nullptr;
    EXPECT_FALSE(unit.enable(kRoot, kRoot3, 1, nullptr, &error));
    EXPECT_STREQ(error, "it did not complete its commands");
    EXPECT_EQ(memory.live(), 0u);
    EXPECT_FALSE(unit.enabled());
    memory.fail = true;
    FakeVtd other;
    VtdUnit unit2(other, memory);
    EXPECT_FALSE(unit2.enable(kRoot, kRoot3, 1, nullptr, &error));
    EXPECT_STREQ(error, "out of memory for its root and context tables");
}

TEST(VtdUnit, FaultsAreTakenFromTheRecordingRegistersAndCleared) {
    FakeVtd vtd(0x6, /*fault_registers=*/4);
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    const char* error = nullptr;
    ASSERT_TRUE(unit.enable(kRoot, kRoot3, 1, nullptr, &error)) << error;
    vtd.record_fault(2, 0x28, 6, false, 0x210000);
    vtd.record_fault(3, 0x28, 5, true, 0x211000);
    vtd.record_fault(0, 0x100, 2, true, 0x5000);
    vtd.regs[VtdUnit::kFaultStatus] |= (2u << 8) | VtdUnit::kPrimaryFaultOverflow;  // FRI 2
    std::vector<VtdFault> seen;
    EXPECT_EQ(unit.take_faults([&](const VtdFault& f) { seen.push_back(f); }), 3u);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].source_id, 0x28);
    EXPECT_FALSE(seen[0].write);
    EXPECT_EQ(seen[0].address, 0x210000u);
    EXPECT_STREQ(seen[0].what(), "a read not allowed");
    EXPECT_TRUE(seen[1].write);
    EXPECT_STREQ(seen[1].what(), "a write not allowed");
    EXPECT_EQ(seen[2].source_id, 0x100);
    EXPECT_STREQ(seen[2].what(), "a request through a not-present context entry");
    EXPECT_EQ(unit.lost_faults(), 1u);
    EXPECT_EQ(vtd.regs[VtdUnit::kFaultStatus] & VtdUnit::kPrimaryFaultOverflow, 0u);
    for (u32 i = 0; i < 4; ++i) EXPECT_EQ(vtd.regs[FakeVtd::kFaults + i * 16 + 8] >> 63, 0u) << i;
    EXPECT_EQ(unit.take_faults([](const VtdFault&) {}), 0u);
}

TEST(VtdUnit, InterruptRemappingRunsItsInvalidationsThroughTheQueue) {
    FakeVtd vtd;
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    ASSERT_TRUE(unit.can_remap_interrupts());
    const VtdInterrupts interrupts{0x7654000, 7};
    const char* error = nullptr;
    ASSERT_TRUE(unit.enable(kRoot, kRoot3, 1, &interrupts, &error)) << error;
    EXPECT_EQ(vtd.regs[VtdUnit::kInterruptTableAddress], 0x7654000u | 7);
    const u32 status = u32(vtd.regs[VtdUnit::kGlobalStatus]);
    EXPECT_TRUE(status & VtdUnit::kTranslationEnable);
    EXPECT_TRUE(status & VtdUnit::kInterruptRemappingEnable);
    EXPECT_TRUE(status & VtdUnit::kQueuedInvalidationEnable);
    EXPECT_TRUE(vtd.invalidations.empty()) << "no register-based invalidation once the queue runs";
    // Context cache and IOTLB (global), then the interrupt entry cache, each with a wait.
    std::vector<u64> types;
    for (auto& d : vtd.descriptors) types.push_back(d.first & 0xf);
    EXPECT_EQ(types, (std::vector<u64>{1, 5, 2, 5, 4, 5}));
    EXPECT_EQ(vtd.descriptors[0].first, 0x11u);
    EXPECT_EQ(vtd.descriptors[2].first, 0xd2u);
    EXPECT_EQ(vtd.descriptors[4].first, 0x4u);
    vtd.descriptors.clear();
    ASSERT_TRUE(unit.invalidate_interrupt_entry(0x95));
    ASSERT_EQ(vtd.descriptors.size(), 2u);
    EXPECT_EQ(vtd.descriptors[0].first, 0x14u | (0x95ull << 32)) << "one entry";
    ASSERT_TRUE(unit.flush());
    EXPECT_EQ(vtd.descriptors[2].first & 0xf, 2u);
    unit.disable();
    EXPECT_EQ(
        vtd.regs[VtdUnit::kGlobalStatus] & (VtdUnit::kInterruptRemappingEnable | VtdUnit::kQueuedInvalidationEnable),
        0u);
    EXPECT_EQ(memory.live(), 0u);
    // Encodings: an IRTE for vector 0x91 to APIC 2, level; the MSI address of entry 0x8123.
    EXPECT_EQ(vtd_irte_low(0x91, 2, true), 0x0000020000910011ull);
    EXPECT_EQ(vtd_msi_address(0x8123), 0xfee00000ull | (0x123ull << 5) | (1u << 4) | (1u << 2));
}

TEST(VtdUnit, AUnitWithoutInterruptRemappingRefusesIt) {
    FakeVtd vtd;
    vtd.regs[VtdUnit::kExtendedCapability] = 0xfull << 8;
    FakeIommuMemory memory;
    VtdUnit unit(vtd, memory);
    EXPECT_FALSE(unit.can_remap_interrupts());
    const VtdInterrupts interrupts{0x7654000, 7};
    const char* error = nullptr;
    EXPECT_FALSE(unit.enable(kRoot, kRoot3, 1, &interrupts, &error));
    EXPECT_STREQ(error, "it cannot remap interrupts");
    EXPECT_EQ(memory.live(), 0u);
}

// DMAR (VT-d 8.1): the header, host address width less one, flags, then structures.
std::vector<u8> dmar(u8 width_less_one, u8 flags, const std::vector<std::vector<u8>>& structures) {
    std::vector<u8> t(48, 0);
    std::memcpy(t.data(), "DMAR", 4);
    t[36] = width_less_one;
    t[37] = flags;
    for (auto& s : structures) t.insert(t.end(), s.begin(), s.end());
    const u32 length = u32(t.size());
    std::memcpy(&t[4], &length, 4);
    return t;
}

std::vector<u8> drhd(u8 flags, u16 segment, u64 base, usize scopes = 0) {
    std::vector<u8> s(16 + scopes, 0);
    const u16 length = u16(s.size());
    std::memcpy(&s[2], &length, 2);
    s[4] = flags;
    std::memcpy(&s[6], &segment, 2);
    std::memcpy(&s[8], &base, 8);
    return s;
}

std::vector<u8> rmrr(u64 base, u64 limit) {
    std::vector<u8> s(24 + 8, 0);
    s[0] = 1;
    const u16 length = u16(s.size());
    std::memcpy(&s[2], &length, 2);
    std::memcpy(&s[8], &base, 8);
    std::memcpy(&s[16], &limit, 8);
    return s;
}

TEST(Dmar, UnitsAndReservedRegions) {
    std::vector<u8> satc(8, 0);
    satc[0] = 5;
    satc[2] = 8;
    const auto t = dmar(47, 1, {drhd(1, 0, 0xfed90000), satc, drhd(0, 0, 0xfed91000, 8), rmrr(0x7d000000, 0x7d7fffff)});
    DmarInfo info;
    ASSERT_TRUE(parse_dmar(t.data(), t.size(), info)) << info.error;
    EXPECT_EQ(info.host_address_width, 48);
    EXPECT_TRUE(info.interrupt_remapping);
    ASSERT_EQ(info.unit_count, 2u);
    EXPECT_EQ(info.units[0].register_base, 0xfed90000u);
    EXPECT_TRUE(info.units[0].include_pci_all);
    EXPECT_FALSE(info.units[1].include_pci_all);
    ASSERT_EQ(info.reserved_count, 1u);
    EXPECT_EQ(info.reserved[0].base, 0x7d000000u);
    EXPECT_EQ(info.reserved[0].limit, 0x7d7fffffu);
}

TEST(Dmar, MalformedTablesAreRefusedWithAReason) {
    DmarInfo info;
    auto t = dmar(38, 0, {drhd(1, 0, 0xfed90000)});
    EXPECT_FALSE(parse_dmar(t.data(), 30, info));
    EXPECT_STREQ(info.error, "DMAR: table shorter than its fixed part (structure at offset 0)");
    t[48 + 2] = 100;
    EXPECT_FALSE(parse_dmar(t.data(), t.size(), info));
    EXPECT_STREQ(info.error, "DMAR: a structure runs past the end (structure at offset 48)");
    auto zero = dmar(38, 0, {drhd(1, 0, 0)});
    EXPECT_FALSE(parse_dmar(zero.data(), zero.size(), info));
    EXPECT_STREQ(info.error, "DMAR: DRHD structure without a register base (structure at offset 48)");
    auto backwards = dmar(38, 0, {rmrr(0x2000, 0x1000)});
    EXPECT_FALSE(parse_dmar(backwards.data(), backwards.size(), info));
    std::vector<std::vector<u8>> many;
    many.reserve(9);
    for (int i = 0; i < 9; ++i) many.push_back(drhd(0, 0, 0xfed90000 + 0x1000 * u64(i)));
    auto full = dmar(38, 0, many);
    EXPECT_FALSE(parse_dmar(full.data(), full.size(), info));
    EXPECT_STREQ(info.error, "DMAR: more remapping units than Vireo can hold (structure at offset 176)");
}

}  // namespace
