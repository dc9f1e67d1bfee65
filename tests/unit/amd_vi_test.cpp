// The AMD-Vi side of DMA remapping on the host: the I/O page table format through the
// shared builder, walked as the IOMMU walks it (48882 2.2.3); the unit driver against a
// fake IOMMU that runs its commands and writes its event log as the hardware does
// (48882 2.4, 2.5, 3.4); the IVRS parser on synthetic tables (48882 5.2).
#include "drivers/iommu/amd_vi.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "drivers/acpi/ivrs.hpp"
#include "mm/amd_vi_format.hpp"
#include "tests/unit/fake_iommu_memory.hpp"
#include "tests/unit/fake_table_memory.hpp"

namespace {

using IoTables = PageTableBuilder<AmdViFormat, FakeMemory>;

// The IOMMU's walk of 48882 2.2.3 for a 4-level table: false (a fault) at an entry with
// PR = 0 or without the permission; `pa` is the translation otherwise.
bool iommu_walk(FakeMemory& memory, PhysAddr root, u64 address, bool write, PhysAddr& pa) {
    PhysAddr table = root;
    for (u32 level = 4; level >= 1; --level) {
        const u64 e = memory.table(table)[(address >> (12 + 9 * (level - 1))) & 511];
        if (!(e & 1)) return false;
        if (!(e & (write ? AmdViFormat::kWritable : AmdViFormat::kReadable))) return false;
        const u32 next = u32((e >> 9) & 7);
        if (next == 0) {
            const u64 size = 1ull << (12 + 9 * (level - 1));
            pa = (e & AmdViFormat::kAddressMask & ~(size - 1)) + (address & (size - 1));
            return true;
        }
        EXPECT_EQ(next, level - 1) << "a table entry names the wrong next level";
        table = e & AmdViFormat::kAddressMask;
    }
    return false;
}

TEST(AmdViFormat, EntriesFollowTheSpecification) {
    EXPECT_EQ(AmdViFormat::make_table(0x5000, 4), 0x5000ull | 1 | (3ull << 9) | (3ull << 61));
    EXPECT_EQ(AmdViFormat::make_table(0x5000, 2), 0x5000ull | 1 | (1ull << 9) | (3ull << 61));
    EXPECT_EQ(AmdViFormat::make_leaf(2, 0x200000, {.writable = true}), 0x200000ull | 1 | (3ull << 61));
    EXPECT_EQ(AmdViFormat::make_leaf(1, 0x3000, {.writable = false}), 0x3000ull | 1 | (1ull << 61));
    EXPECT_FALSE(AmdViFormat::is_present(AmdViFormat::kEmpty));
    EXPECT_TRUE(AmdViFormat::is_leaf(AmdViFormat::make_leaf(2, 0x200000, {}), 2));
    EXPECT_FALSE(AmdViFormat::is_leaf(AmdViFormat::make_table(0x5000, 2), 2));
}

// Domain-0's shape: low memory in 4 KiB pages, then 2 MiB chunks; everything else,
// the hypervisor's image among it, faults.
TEST(AmdViFormat, IdentityTablesMapExactlyTheRanges) {
    FakeMemory memory;
    IoTables tables(memory, /*huge_pages=*/false);
    ASSERT_TRUE(tables.create());
    const PageAttributes rw{.writable = true};
    ASSERT_TRUE(tables.map(0x1000, 0x1000, 0x9e000, rw));
    ASSERT_TRUE(tables.map(0x400000, 0x400000, 6 * MiB, rw));
    PhysAddr pa = 0;
    EXPECT_TRUE(iommu_walk(memory, tables.root(), 0x1234, true, pa));
    EXPECT_EQ(pa, 0x1234u);
    EXPECT_TRUE(iommu_walk(memory, tables.root(), 0x5ff008, false, pa));
    EXPECT_EQ(pa, 0x5ff008u);
    EXPECT_FALSE(iommu_walk(memory, tables.root(), 0x200000, true, pa)) << "the hypervisor's image";
    EXPECT_FALSE(iommu_walk(memory, tables.root(), 0xa0000, false, pa));
    EXPECT_FALSE(iommu_walk(memory, tables.root(), 0xa00000, false, pa));
    EXPECT_FALSE(iommu_walk(memory, tables.root(), 0x8000000000ull, false, pa));
    // Every entry that maps nothing is the format's empty entry, never zero.
    const u64* pml4 = memory.table(tables.root());
    EXPECT_EQ(pml4[1], AmdViFormat::kEmpty);
    // Unmapping leaves empty entries behind too.
    ASSERT_TRUE(tables.unmap(0x400000, 2 * MiB));
    EXPECT_FALSE(iommu_walk(memory, tables.root(), 0x400000, false, pa));
    EXPECT_TRUE(iommu_walk(memory, tables.root(), 0x600000, false, pa));
    u64 leaves = 0;
    tables.for_each_leaf([&](VirtAddr va, PhysAddr p, u64, PageAttributes) {
        EXPECT_EQ(va, p);
        ++leaves;
    });
    EXPECT_EQ(leaves, 0x9eu + 2);
    tables.release();
}

// An IOMMU that runs its command buffer when the tail moves and appends events to its log
// on demand, as 48882 3.3 and 2.5 describe.
class FakeAmdVi : public IommuRegisters {
public:
    u32 read32(u32 offset) override { return u32(regs_[offset]); }
    void write32(u32 offset, u32 value) override { write64(offset, value); }
    u64 read64(u32 offset) override { return regs_[offset]; }
    void write64(u32 offset, u64 value) override {
        writes.push_back({offset, value});
        if (offset == AmdViUnit::kStatus) {
            regs_[offset] &= ~(value & 7);
            return;
        }
        regs_[offset] = value;
        if (offset == AmdViUnit::kCommandTail) run_commands();
        if (offset == AmdViUnit::kEventTail) hidden_tail_ = value;
    }
    void run_commands() {
        if (!(regs_[AmdViUnit::kControl] & AmdViUnit::kCommandBufferEnable) || stalled) return;
        const u64 base = regs_[AmdViUnit::kCommandBufferBase] & 0x000ffffffffff000ull;
        u64 head = regs_[AmdViUnit::kCommandHead];
        while (head != regs_[AmdViUnit::kCommandTail]) {
            const u64* cmd = reinterpret_cast<const u64*>(base + head);
            commands.push_back({cmd[0], cmd[1]});
            if ((cmd[0] >> 60) == 1 && (cmd[0] & 1)) *reinterpret_cast<u64*>(cmd[0] & 0x000ffffffffffff8ull) = cmd[1];
            head = (head + 16) % 4096;
        }
        regs_[AmdViUnit::kCommandHead] = head;
    }
    // move_tail false: as QEMU 7.2's model, which writes the entry at a tail of its own
    // and leaves the register alone.
    void log_event(u64 low, u64 high, bool move_tail = true) {
        const u64 base = regs_[AmdViUnit::kEventLogBase] & 0x000ffffffffff000ull;
        if (!move_tail) {
            if (hidden_tail_ >= 256) {  // its overflow: 16 entries
                regs_[AmdViUnit::kStatus] |= AmdViUnit::kEventOverflow;
                return;
            }
            auto* entry = reinterpret_cast<u64*>(base + hidden_tail_);
            entry[0] = low;
            entry[1] = high;
            hidden_tail_ += 16;
            return;
        }
        const u64 tail = regs_[AmdViUnit::kEventTail];
        if ((tail + 16) % 4096 == regs_[AmdViUnit::kEventHead]) {
            regs_[AmdViUnit::kStatus] |= AmdViUnit::kEventOverflow;
            return;
        }
        auto* entry = reinterpret_cast<u64*>(base + tail);
        entry[0] = low;
        entry[1] = high;
        regs_[AmdViUnit::kEventTail] = (tail + 16) % 4096;
    }
    usize count_opcode(u64 opcode) const {
        usize n = 0;
        for (auto& c : commands) n += (c.first >> 60) == opcode;
        return n;
    }
    std::map<u32, u64> regs_;
    u64 hidden_tail_ = 0;
    std::vector<std::pair<u32, u64>> writes;
    std::vector<std::pair<u64, u64>> commands;
    bool stalled = false;
};

constexpr PhysAddr kRoot = 0x12345000;

TEST(AmdViUnit, EnableGivesEveryDeviceTheTablesAndFlushes) {
    FakeAmdVi iommu;
    iommu.regs_[AmdViUnit::kExtendedFeatures] = 1ull << 6;  // IASup
    iommu.regs_[AmdViUnit::kControl] = 0x1005;              // left on by the firmware
    FakeIommuMemory memory;
    AmdViUnit unit(iommu, memory);
    const char* error = nullptr;
    ASSERT_TRUE(unit.enable(kRoot, 1, nullptr, &error)) << error;
    EXPECT_EQ(iommu.writes.front(), (std::pair<u32, u64>{AmdViUnit::kControl, 0})) << "turned off first";
    EXPECT_EQ(iommu.regs_[AmdViUnit::kControl],
              AmdViUnit::kIommuEnable | AmdViUnit::kEventLogEnable | AmdViUnit::kCommandBufferEnable);
    const u64 devtab = iommu.regs_[AmdViUnit::kDeviceTableBase];
    EXPECT_EQ(devtab & 0xfff, 511u) << "2 MiB: 65536 entries";
    EXPECT_EQ(iommu.regs_[AmdViUnit::kCommandBufferBase] >> 56, 8u);
    EXPECT_EQ(iommu.regs_[AmdViUnit::kEventLogBase] >> 56, 8u);
    const u64* table = reinterpret_cast<const u64*>(devtab & ~0xfffull);
    for (u64 id : {0ull, 0x28ull, 0xffffull}) {
        const u64* dte = table + id * 4;
        EXPECT_EQ(dte[0], 1 | 2 | (4ull << 9) | kRoot | (1ull << 61) | (1ull << 62)) << id;
        EXPECT_EQ(dte[1], 1u) << id;
        EXPECT_EQ(dte[2], 0u) << id;
    }
    EXPECT_EQ(iommu.count_opcode(8), 1u) << "INVALIDATE_IOMMU_ALL";
    EXPECT_EQ(iommu.count_opcode(1), 1u) << "COMPLETION_WAIT";
    EXPECT_EQ(memory.live(), 4u);
    unit.disable();
    EXPECT_EQ(iommu.regs_[AmdViUnit::kControl], 0u);
    EXPECT_EQ(memory.live(), 0u);
}

TEST(AmdViUnit, InterruptsOfEveryDeviceButTheExemptOnesAreRemapped) {
    FakeAmdVi iommu;
    iommu.regs_[AmdViUnit::kExtendedFeatures] = 1ull << 6;
    FakeIommuMemory memory;
    AmdViUnit unit(iommu, memory);
    const u16 ioapic = 0xa0;
    const AmdViInterrupts interrupts{0x7654300, 7, &ioapic, 1};
    const char* error = nullptr;
    ASSERT_TRUE(unit.enable(kRoot, 1, &interrupts, &error)) << error;
    const u64* table = reinterpret_cast<const u64*>(iommu.regs_[AmdViUnit::kDeviceTableBase] & ~0xfffull);
    EXPECT_EQ(table[0x28 * 4 + 2], 1 | (7u << 1) | 0x7654300ull | (2ull << 60));
    EXPECT_EQ(table[0xffff * 4 + 2], 1 | (7u << 1) | 0x7654300ull | (2ull << 60));
    EXPECT_EQ(table[0xa0 * 4 + 2], 0u) << "the I/O APIC's interrupts pass";
    EXPECT_EQ(amd_vi_irte(0x90, 2), 0x00900201u);
}

TEST(AmdViUnit, WithoutInvalidateAllEveryEntryIsInvalidated) {
    FakeAmdVi iommu;
    FakeIommuMemory memory;
    AmdViUnit unit(iommu, memory);
    const char* error = nullptr;
    ASSERT_TRUE(unit.enable(kRoot, 7, nullptr, &error)) << error;
    EXPECT_EQ(iommu.count_opcode(2), 65536u);
    EXPECT_EQ(iommu.count_opcode(3), 1u) << "INVALIDATE_IOMMU_PAGES of the domain";
    const auto& pages = iommu.commands[iommu.commands.size() - 2];
    EXPECT_EQ((pages.first >> 32) & 0xffff, 7u);
    EXPECT_EQ(pages.second, 0x7ffffffffffff003ull);
    EXPECT_GT(iommu.count_opcode(1), 500u);
}

TEST(AmdViUnit, AnIommuThatNeverCompletesIsTurnedOffAgain) {
    FakeAmdVi iommu;
    iommu.regs_[AmdViUnit::kExtendedFeatures] = 1ull << 6;
    iommu.stalled = true;
    FakeIommuMemory memory;
    AmdViUnit unit(iommu, memory);
    const char* error = nullptr;
    EXPECT_FALSE(unit.enable(kRoot, 1, nullptr, &error));
    EXPECT_STREQ(error, "it did not complete its first commands");
    EXPECT_EQ(iommu.regs_[AmdViUnit::kControl], 0u);
    EXPECT_EQ(memory.live(), 0u);
    EXPECT_FALSE(unit.enabled());
}

TEST(AmdViUnit, OutOfMemoryHoldsNothing) {
    FakeAmdVi iommu;
    FakeIommuMemory memory;
    memory.fail = true;
    AmdViUnit unit(iommu, memory);
    const char* error = nullptr;
    EXPECT_FALSE(unit.enable(kRoot, 1, nullptr, &error));
    EXPECT_EQ(memory.live(), 0u);
}

// A unit enabled without interrupt remapping, for the event log's tests.
class AmdViEvents : public ::testing::Test {
protected:
    void SetUp() override {
        iommu.regs_[AmdViUnit::kExtendedFeatures] = 1ull << 6;  // IASup
        const char* error = nullptr;
        ASSERT_TRUE(unit.enable(kRoot, 1, nullptr, &error)) << error;
    }
    FakeAmdVi iommu;
    FakeIommuMemory memory;
    AmdViUnit unit{iommu, memory};
};

TEST_F(AmdViEvents, EventsAreTakenInOrderAndDecoded) {
    // A write fault as the specification encodes it (RW, bit 5 of the flags; PR clear),
    // by device 00:05.0 of domain 1 at 0x210000.
    iommu.log_event((2ull << 60) | (0x020ull << 48) | (1ull << 32) | 0x28, 0x210000);
    // The same as QEMU's model logs it: I and the access's permission bit (2: write).
    iommu.log_event((2ull << 60) | (0x00aull << 48) | 0x28, 0x210000);
    iommu.log_event((2ull << 60) | (0x009ull << 48) | 0x10, 0x3000);  // QEMU: a read
    iommu.log_event((1ull << 60) | 0x100, 0xdead000);
    std::vector<AmdViEvent> seen;
    EXPECT_EQ(unit.take_events([&](const AmdViEvent& e) { seen.push_back(e); }), 4u);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0].code, AmdViEvent::IoPageFault);
    EXPECT_STREQ(seen[0].what(), "an I/O page fault");
    EXPECT_EQ(seen[0].device_id, 0x28);
    EXPECT_EQ(seen[0].domain_id, 1);
    EXPECT_EQ(seen[0].address, 0x210000u);
    EXPECT_TRUE(seen[0].write);
    EXPECT_TRUE(seen[1].write);
    EXPECT_FALSE(seen[2].write);
    EXPECT_EQ(seen[3].code, AmdViEvent::IllegalDeviceTableEntry);
    EXPECT_EQ(iommu.regs_[AmdViUnit::kEventHead], 4 * 16u);
    EXPECT_EQ(unit.take_events([](const AmdViEvent&) {}), 0u);
}

TEST_F(AmdViEvents, AnOverflowedLogIsRestartedAndCounted) {
    for (int i = 0; i < 300; ++i) iommu.log_event((2ull << 60) | 0x28, 0x1000 * u64(i));
    EXPECT_TRUE(iommu.regs_[AmdViUnit::kStatus] & AmdViUnit::kEventOverflow);
    EXPECT_EQ(unit.take_events([](const AmdViEvent&) {}), 255u);
    EXPECT_EQ(unit.lost_events(), 1u);
    EXPECT_FALSE(iommu.regs_[AmdViUnit::kStatus] & AmdViUnit::kEventOverflow);
    EXPECT_TRUE(iommu.regs_[AmdViUnit::kControl] & AmdViUnit::kEventLogEnable);
    iommu.log_event((2ull << 60) | 0x28, 0x5000);
    std::vector<u64> addresses;
    unit.take_events([&](const AmdViEvent& e) { addresses.push_back(e.address); });
    EXPECT_EQ(addresses, std::vector<u64>{0x5000});
}

TEST_F(AmdViEvents, EntriesOfAnIommuThatLeavesItsTailAloneAreTakenToo) {
    iommu.log_event((2ull << 60) | (0x00aull << 48) | 0x28, 0x210000, false);
    iommu.log_event((2ull << 60) | (0x00aull << 48) | 0x28, 0x210004, false);
    std::vector<u64> addresses;
    EXPECT_EQ(unit.take_events([&](const AmdViEvent& e) { addresses.push_back(e.address); }), 2u);
    EXPECT_EQ(addresses, (std::vector<u64>{0x210000, 0x210004}));
    EXPECT_EQ(unit.take_events([](const AmdViEvent&) {}), 0u) << "taken entries are zeroed";
    // Its overflow after 16 entries: the log restarts from the start, and goes on.
    for (int i = 0; i < 20; ++i) iommu.log_event((2ull << 60) | 0x28, 0x1000 * u64(i), false);
    EXPECT_EQ(unit.take_events([](const AmdViEvent&) {}), 14u);
    EXPECT_EQ(unit.lost_events(), 1u);
    iommu.log_event((2ull << 60) | 0x28, 0x9000, false);
    addresses.clear();
    unit.take_events([&](const AmdViEvent& e) { addresses.push_back(e.address); });
    EXPECT_EQ(addresses, std::vector<u64>{0x9000});
}

// IVRS (48882 5.2): the header, IVinfo, then blocks.
std::vector<u8> ivrs(const std::vector<std::vector<u8>>& blocks) {
    std::vector<u8> t(48, 0);
    std::memcpy(t.data(), "IVRS", 4);
    t[36] = 0x41;
    for (auto& b : blocks) t.insert(t.end(), b.begin(), b.end());
    const u32 length = u32(t.size());
    std::memcpy(&t[4], &length, 4);
    return t;
}

std::vector<u8> ivhd(u8 type, u16 device, u64 base, u64 efr = 0, std::vector<u8> entries = {}) {
    std::vector<u8> b(type == 0x10 ? 24 : 40, 0);
    b[0] = type;
    const u16 length = u16(b.size() + entries.size());
    std::memcpy(&b[2], &length, 2);
    std::memcpy(&b[4], &device, 2);
    const u16 cap = 0x40;
    std::memcpy(&b[6], &cap, 2);
    std::memcpy(&b[8], &base, 8);
    if (type != 0x10) std::memcpy(&b[24], &efr, 8);
    b.insert(b.end(), entries.begin(), entries.end());
    return b;
}

std::vector<u8> ivmd(u8 flags, u64 start, u64 length) {
    std::vector<u8> b(32, 0);
    b[0] = 0x20;
    b[1] = flags;
    b[2] = 32;
    std::memcpy(&b[16], &start, 8);
    std::memcpy(&b[24], &length, 8);
    return b;
}

TEST(Ivrs, OneIommuDescribedTwiceIsOneUnitFromTheNewestBlock) {
    // QEMU's shape: an IVHD 10h and an 11h for the IOMMU at 00:05.0, with a "select all"
    // device entry (type 1) and an IOAPIC special entry (type 48h, 8 bytes).
    const std::vector<u8> entries = {1, 0, 0, 0, 0x48, 0, 0, 0xd7, 0, 0xa0, 0, 1};
    const auto t = ivrs({ivhd(0x10, 0x28, 0xfed80000, 0, entries), ivhd(0x11, 0x28, 0xfed80000, 0x2d4, entries),
                         ivmd(0x7, 0xe0000, 0x10000)});
    IvrsInfo info;
    ASSERT_TRUE(parse_ivrs(t.data(), t.size(), info)) << info.error;
    EXPECT_EQ(info.iv_info, 0x41u);
    ASSERT_EQ(info.iommu_count, 1u);
    EXPECT_EQ(info.iommus[0].block_type, 0x11);
    EXPECT_EQ(info.iommus[0].device_id, 0x28);
    EXPECT_EQ(info.iommus[0].capability_offset, 0x40);
    EXPECT_EQ(info.iommus[0].base_address, 0xfed80000u);
    EXPECT_EQ(info.iommus[0].extended_features, 0x2d4u);
    ASSERT_EQ(info.iommus[0].special_count, 1u);
    EXPECT_EQ(info.iommus[0].special[0].variety, IvrsSpecialDevice::kIoApic);
    EXPECT_EQ(info.iommus[0].special[0].device_id, 0xa0);
    ASSERT_EQ(info.memory_count, 1u);
    EXPECT_TRUE(info.memory[0].unity);
    EXPECT_TRUE(info.memory[0].readable);
    EXPECT_TRUE(info.memory[0].writable);
    EXPECT_FALSE(info.memory[0].exclusion);
    EXPECT_EQ(info.memory[0].start, 0xe0000u);
    EXPECT_EQ(info.memory[0].length, 0x10000u);
}

TEST(Ivrs, TwoIommusAndUnknownBlocksSkipped) {
    std::vector<u8> unknown(8, 0);
    unknown[0] = 0x99;
    unknown[2] = 8;
    const auto t = ivrs({ivhd(0x10, 0x2, 0xfeb80000), unknown, ivhd(0x40, 0x102, 0xfec80000, 1)});
    IvrsInfo info;
    ASSERT_TRUE(parse_ivrs(t.data(), t.size(), info)) << info.error;
    ASSERT_EQ(info.iommu_count, 2u);
    EXPECT_EQ(info.iommus[1].device_id, 0x102);
    EXPECT_EQ(info.iommus[1].block_type, 0x40);
}

TEST(Ivrs, MalformedTablesAreRefusedWithAReason) {
    IvrsInfo info;
    auto t = ivrs({ivhd(0x10, 0x28, 0xfed80000)});
    EXPECT_FALSE(parse_ivrs(t.data(), 40, info));
    EXPECT_STREQ(info.error, "IVRS: table shorter than its fixed part (block at offset 0)");
    t[48 + 2] = 200;  // the block's length runs past the table
    EXPECT_FALSE(parse_ivrs(t.data(), t.size(), info));
    EXPECT_STREQ(info.error, "IVRS: a block runs past the end (block at offset 48)");
    t[48 + 2] = 16;  // too short for a 10h block
    t.resize(48 + 16);
    EXPECT_FALSE(parse_ivrs(t.data(), t.size(), info));
    EXPECT_STREQ(info.error, "IVRS: IVHD block too short for its type (block at offset 48)");
    auto zero = ivrs({ivhd(0x10, 0x28, 0)});
    EXPECT_FALSE(parse_ivrs(zero.data(), zero.size(), info));
    auto twice = ivrs({ivhd(0x10, 0x28, 0xfed80000), ivhd(0x11, 0x28, 0xfed90000)});
    EXPECT_FALSE(parse_ivrs(twice.data(), twice.size(), info));
    EXPECT_STREQ(info.error, "IVRS: one IOMMU at two base addresses (block at offset 72)");
    auto odd = ivrs({ivhd(0x10, 0x28, 0xfed80000, 0, {0x80, 0, 0, 0})});
    EXPECT_FALSE(parse_ivrs(odd.data(), odd.size(), info));
    EXPECT_STREQ(info.error, "IVRS: an IVHD device entry of unknown length (block at offset 48)");
    auto cut = ivrs({ivhd(0x10, 0x28, 0xfed80000, 0, {0x48, 0, 0, 0})});
    EXPECT_FALSE(parse_ivrs(cut.data(), cut.size(), info));
    EXPECT_STREQ(info.error, "IVRS: an IVHD device entry runs past its block (block at offset 48)");
    std::vector<std::vector<u8>> many;
    many.reserve(9);
    for (u16 i = 0; i < 9; ++i) many.push_back(ivhd(0x10, u16(8 * i), 0xfe000000 + 0x100000 * i));
    auto full = ivrs(many);
    EXPECT_FALSE(parse_ivrs(full.data(), full.size(), info));
    EXPECT_STREQ(info.error, "IVRS: more IOMMUs than Vireo can hold (block at offset 240)");
}

}  // namespace
