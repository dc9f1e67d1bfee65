// The p2m over fake table memory, in both nested formats: types and access in the
// entries, map/unmap/protect at 4 KiB, 2 MiB and 1 GiB with large pages split where a
// range cuts them, the dirty log (write-protect, fault, take, disable), merging split
// tables back into large leaves, and the retired-table list that keeps merged tables
// allocated until the caller's explicit free after its TLB shootdown.
#include "mm/p2m.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "mm/ept_format.hpp"
#include "tests/unit/fake_table_memory.hpp"

namespace {

constexpr u64 k2M = 2 * MiB;
constexpr u64 k1G = GiB;
constexpr PhysAddr kHostRam = 0x40000000;    // where the fake guest RAM "is" on the host
constexpr PhysAddr kHostHuge = 0x200000000;  // 1 GiB aligned host range for 1 GiB leaves

template <typename Format, bool kHugePages>
class P2mFixture : public ::testing::Test {
protected:
    using Map = P2m<Format, FakeMemory>;
    FakeMemory memory;
    Map p2m{memory, kHugePages};
    void SetUp() override { ASSERT_TRUE(p2m.create()); }
    void TearDown() override {
        p2m.release();
        EXPECT_EQ(memory.live(), 0u) << "every table freed, retired ones included";
        EXPECT_EQ(memory.frees(), memory.allocations()) << "no table leaked";
    }
    P2mEntry at(u64 gpa) {
        P2mEntry e{};
        EXPECT_TRUE(p2m.lookup(gpa, e)) << std::hex << gpa;
        return e;
    }
    bool mapped(u64 gpa) {
        P2mEntry e{};
        return p2m.lookup(gpa, e);
    }
    std::vector<PhysAddr> retired(const typename Map::Retired& r) const {
        std::vector<PhysAddr> v;
        p2m.for_each_retired(r, [&](PhysAddr t) { v.push_back(t); });
        return v;
    }
    // Splits the 2 MiB leaf at `gpa` into 4 KiB leaves that are identical again, without
    // the merge protect would do: one page unmapped and mapped back.
    void split_uniformly(u64 gpa, PhysAddr host) {
        ASSERT_TRUE(p2m.unmap(gpa + 0x5000, kPageSize));
        ASSERT_TRUE(p2m.map(gpa + 0x5000, host + 0x5000, kPageSize, P2mType::Ram, true, true));
        ASSERT_EQ(at(gpa).page_size, kPageSize);
    }
};

// 2 MiB leaves at most, as GuestMemory builds its p2m today.
template <typename Format>
class P2mTest : public P2mFixture<Format, false> {};
// With 1 GiB leaves (CPUID Page1GB for NPT, EPT_VPID_CAP bit 17 for EPT).
template <typename Format>
class P2mHugeTest : public P2mFixture<Format, true> {};

using Formats = ::testing::Types<X86PagingFormat, EptFormat>;
TYPED_TEST_SUITE(P2mTest, Formats);
TYPED_TEST_SUITE(P2mHugeTest, Formats);

TYPED_TEST(P2mTest, MapsWithTypeAccessAndLargePages) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 4 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(0xfe000000, 0xfed00000, kPageSize, P2mType::MmioPassthrough, true, false));
    P2mEntry e = this->at(k2M + 0x1234);
    EXPECT_EQ(e.frame, kHostRam + k2M + 0x1234);
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_TRUE(e.writable);
    EXPECT_TRUE(e.executable);
    EXPECT_EQ(e.page_size, k2M) << "aligned RAM takes 2 MiB leaves";
    e = this->at(0xfe000010);
    EXPECT_EQ(e.type, P2mType::MmioPassthrough);
    EXPECT_FALSE(e.executable);
    EXPECT_EQ(e.page_size, kPageSize);
    P2mEntry none;
    EXPECT_FALSE(this->p2m.lookup(4 * k2M, none)) << "past the RAM";
    EXPECT_FALSE(this->p2m.map(0, kHostRam, kPageSize, P2mType::None, true, true)) << "no entry of type None";
}

TYPED_TEST(P2mTest, UnmapSplitsALargePage) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.unmap(0x5000, kPageSize));  // a ballooned-out page
    P2mEntry e;
    EXPECT_FALSE(this->p2m.lookup(0x5000, e));
    e = this->at(0x4000);
    EXPECT_EQ(e.page_size, kPageSize) << "split into 4 KiB pages";
    EXPECT_EQ(e.frame, kHostRam + 0x4000);
    EXPECT_EQ(e.type, P2mType::Ram) << "the split keeps the type";
    EXPECT_EQ(this->at(0x6000).frame, kHostRam + 0x6000);
}

TYPED_TEST(P2mTest, ProtectChangesAccessOfMappedPagesOnly) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.unmap(k2M, kPageSize));
    // Read-only from the middle of the first large page to inside the second.
    ASSERT_TRUE(this->p2m.protect(k2M - 0x2000, 0x4000, false, true));
    EXPECT_TRUE(this->at(k2M - 0x3000).writable) << "before the range";
    EXPECT_FALSE(this->at(k2M - 0x2000).writable);
    EXPECT_FALSE(this->at(k2M - 0x1000).writable);
    P2mEntry e;
    EXPECT_FALSE(this->p2m.lookup(k2M, e)) << "an unmapped page stays unmapped";
    EXPECT_FALSE(this->at(k2M + 0x1000).writable);
    EXPECT_TRUE(this->at(k2M + 0x2000).writable) << "after the range";
    EXPECT_EQ(this->at(k2M - 0x2000).frame, kHostRam + k2M - 0x2000) << "frames unchanged";
    // A whole large page keeps its size.
    ASSERT_TRUE(this->p2m.map(4 * k2M, kHostRam + 4 * k2M, k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.protect(4 * k2M, k2M, true, false));
    e = this->at(4 * k2M);
    EXPECT_EQ(e.page_size, k2M);
    EXPECT_FALSE(e.executable);
    EXPECT_FALSE(this->p2m.protect(0x800, kPageSize, true, true)) << "unaligned";
}

// RAM zeroed on first touch leaves most of a large domain unmapped: protect and the dirty
// log step over a whole absent entry at once, at whatever level it is absent, and must
// still reach every leaf right behind one.
TYPED_TEST(P2mTest, ProtectAndTheDirtyLogSkipAbsentEntriesWholeAndMissNoLeaf) {
    const u64 k512G = 512 * k1G;
    const u64 pages[] = {0x5000, k2M + 0x1000, k1G + 2 * k2M + 0x3000, k512G + 0x7000};
    for (u64 gpa : pages) ASSERT_TRUE(this->p2m.map(gpa, kHostRam + gpa % k1G, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(3 * k1G, kHostRam, k2M, P2mType::Ram, true, true));
    const u64 tables = this->memory.live();
    ASSERT_TRUE(this->p2m.protect(0, k512G + k2M, false, true));
    for (u64 gpa : pages) EXPECT_FALSE(this->at(gpa).writable) << std::hex << gpa;
    EXPECT_FALSE(this->at(3 * k1G + 0x1000).writable) << "the 2 MiB leaf too";
    EXPECT_EQ(this->at(3 * k1G).page_size, k2M) << "and still whole";
    P2mEntry e;
    EXPECT_FALSE(this->p2m.lookup(0x6000, e)) << "an unmapped page stays unmapped";
    EXPECT_EQ(this->memory.live(), tables) << "nothing split, nothing allocated";
    ASSERT_TRUE(this->p2m.protect(0, k512G + k2M, true, true));
    std::vector<u64> bitmap((k512G + k2M) / kPageSize / 64);
    ASSERT_TRUE(this->p2m.dirty_log_enable(bitmap.data(), (k512G + k2M) / kPageSize));
    for (u64 gpa : pages) EXPECT_EQ(this->at(gpa).type, P2mType::RamLogDirty) << std::hex << gpa;
    EXPECT_EQ(this->at(3 * k1G).type, P2mType::RamLogDirty);
    ASSERT_TRUE(this->p2m.dirty_log_disable());
    for (u64 gpa : pages) EXPECT_TRUE(this->at(gpa).writable) << std::hex << gpa;
}

TYPED_TEST(P2mTest, DirtyLogWriteProtectsFaultsAndTakes) {
    constexpr u64 kPages = 2 * k2M / kPageSize;
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.protect(0x10000, kPageSize, false, true));  // a read-only page stays so
    std::vector<u64> bitmap(kPages / 64, ~0ull), taken(kPages / 64, 0);
    ASSERT_TRUE(this->p2m.dirty_log_enable(bitmap.data(), kPages));
    EXPECT_FALSE(this->p2m.dirty_log_enable(bitmap.data(), kPages)) << "one log at a time";
    EXPECT_EQ(bitmap[0], 0u) << "the bitmap starts clean";
    P2mEntry e = this->at(0x3000);
    EXPECT_EQ(e.type, P2mType::RamLogDirty);
    EXPECT_FALSE(e.writable);
    EXPECT_EQ(this->at(k2M + 0x3000).page_size, k2M) << "an untouched large page is write-protected whole";
    EXPECT_EQ(this->at(0x10000).type, P2mType::Ram) << "an already read-only page is not logged";

    EXPECT_TRUE(this->p2m.dirty_log_write_fault(0x3008));
    EXPECT_TRUE(this->at(0x3000).writable) << "the guest retries and goes on";
    EXPECT_EQ(this->at(0x3000).type, P2mType::Ram);
    EXPECT_FALSE(this->at(0x4000).writable) << "its neighbours still logged";
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(k2M + 0x7000));
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x3000)) << "already writable: not the log's fault";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x10000)) << "a read-only page: not the log's fault";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(8 * k2M)) << "unmapped";

    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 2u);
    EXPECT_EQ(taken[0], 1ull << 3);
    EXPECT_EQ(taken[(k2M / kPageSize + 7) / 64], 1ull << ((k2M / kPageSize + 7) % 64));
    EXPECT_FALSE(this->at(0x3000).writable) << "protected again for the next round";
    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 0u) << "nothing new";
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(0x3000));
    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 1u) << "the same page dirtied again";

    ASSERT_TRUE(this->p2m.dirty_log_disable());
    EXPECT_TRUE(this->at(0x4000).writable);
    EXPECT_EQ(this->at(0x4000).type, P2mType::Ram);
    EXPECT_TRUE(this->at(k2M + 0x100000).writable);
    EXPECT_FALSE(this->at(0x10000).writable) << "the read-only page stays read-only";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x4000)) << "no log any more";
    EXPECT_FALSE(this->p2m.dirty_log_disable());
}

TYPED_TEST(P2mHugeTest, MapsUnmapsAndProtectsAtEverySize) {
    // One 1 GiB leaf, one 2 MiB leaf and one 4 KiB leaf.
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge, k1G, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(0, kHostRam, k2M + kPageSize, P2mType::Ram, true, true));
    P2mEntry e = this->at(k1G + 0x12345678);
    EXPECT_EQ(e.page_size, k1G);
    EXPECT_EQ(e.frame, kHostHuge + 0x12345678);
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_EQ(this->at(0x1000).page_size, k2M);
    EXPECT_EQ(this->at(k2M).page_size, kPageSize);

    // Protecting a whole leaf keeps its size.
    ASSERT_TRUE(this->p2m.protect(k1G, k1G, false, false));
    ASSERT_TRUE(this->p2m.protect(0, k2M, false, true));
    ASSERT_TRUE(this->p2m.protect(k2M, kPageSize, true, false));
    e = this->at(2 * k1G - kPageSize);
    EXPECT_EQ(e.page_size, k1G);
    EXPECT_FALSE(e.writable);
    EXPECT_FALSE(e.executable);
    EXPECT_EQ(e.frame, kHostHuge + k1G - kPageSize);
    e = this->at(k2M - kPageSize);
    EXPECT_EQ(e.page_size, k2M);
    EXPECT_FALSE(e.writable);
    EXPECT_TRUE(e.executable);
    e = this->at(k2M);
    EXPECT_TRUE(e.writable);
    EXPECT_FALSE(e.executable);

    // Unmapping a whole leaf of each size.
    ASSERT_TRUE(this->p2m.unmap(k1G, k1G));
    ASSERT_TRUE(this->p2m.unmap(0, k2M));
    ASSERT_TRUE(this->p2m.unmap(k2M, kPageSize));
    EXPECT_FALSE(this->mapped(k1G));
    EXPECT_FALSE(this->mapped(2 * k1G - kPageSize));
    EXPECT_FALSE(this->mapped(0));
    EXPECT_FALSE(this->mapped(k2M));
}

TYPED_TEST(P2mHugeTest, SplitsA1GiBLeafInto2MiBAndA2MiBLeafInto4KiB) {
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge, k1G, P2mType::Foreign, true, false));
    const usize before = this->memory.allocations();
    const u64 page = k1G + 3 * k2M + 0x5000;
    ASSERT_TRUE(this->p2m.protect(page, kPageSize, false, false));
    EXPECT_EQ(this->memory.allocations(), before + 2) << "one PD for the 1 GiB leaf, one PT for a 2 MiB leaf";
    P2mEntry e = this->at(k1G);
    EXPECT_EQ(e.page_size, k2M) << "the rest of the 1 GiB leaf went down to 2 MiB only";
    EXPECT_EQ(e.frame, kHostHuge);
    EXPECT_EQ(e.type, P2mType::Foreign) << "a split keeps the type";
    EXPECT_TRUE(e.writable);
    e = this->at(2 * k1G - k2M);
    EXPECT_EQ(e.page_size, k2M);
    EXPECT_EQ(e.frame, kHostHuge + k1G - k2M);
    e = this->at(page);
    EXPECT_EQ(e.page_size, kPageSize);
    EXPECT_FALSE(e.writable);
    EXPECT_EQ(e.frame, kHostHuge + 3 * k2M + 0x5000);
    EXPECT_EQ(e.type, P2mType::Foreign);
    e = this->at(page + kPageSize);
    EXPECT_EQ(e.page_size, kPageSize);
    EXPECT_TRUE(e.writable);
    EXPECT_EQ(e.frame, kHostHuge + 3 * k2M + 0x6000);
    EXPECT_EQ(this->p2m.retired_count(), 0u) << "nothing uniform to merge";
}

TYPED_TEST(P2mHugeTest, ProtectBackMergesUpToA1GiBLeaf) {
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge, k1G, P2mType::Ram, true, true));
    const usize first = this->memory.allocations();
    const u64 page = k1G + 3 * k2M + 0x5000;
    ASSERT_TRUE(this->p2m.protect(page, kPageSize, false, true));
    const std::vector<PhysAddr> split_tables = this->memory.allocated_since(first);  // PD, then PT
    ASSERT_EQ(split_tables.size(), 2u);

    ASSERT_TRUE(this->p2m.protect(page, kPageSize, true, true));
    P2mEntry e = this->at(page);
    EXPECT_EQ(e.page_size, k1G) << "PT into a 2 MiB leaf, then the PD into a 1 GiB leaf";
    EXPECT_EQ(e.frame, kHostHuge + 3 * k2M + 0x5000);
    EXPECT_TRUE(e.writable);
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_EQ(this->p2m.retired_count(), 2u);
    auto r = this->p2m.take_retired();
    EXPECT_EQ(this->retired(r), (std::vector<PhysAddr>{split_tables[0], split_tables[1]})) << "newest first";
    this->p2m.free_retired(r);
}

TYPED_TEST(P2mTest, MergesUniformSplitTables) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    this->split_uniformly(0, kHostRam);
    this->split_uniformly(k2M, kHostRam + k2M);
    EXPECT_EQ(this->p2m.merge(0, kPageSize), 1u) << "a table that maps part of the range";
    EXPECT_EQ(this->at(0).page_size, k2M);
    EXPECT_EQ(this->at(k2M).page_size, kPageSize) << "outside the range";
    EXPECT_EQ(this->p2m.merge(0, 2 * k2M), 1u);
    P2mEntry e = this->at(k2M + 0x7000);
    EXPECT_EQ(e.page_size, k2M);
    EXPECT_EQ(e.frame, kHostRam + k2M + 0x7000);
    EXPECT_TRUE(e.writable && e.executable);
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_EQ(this->p2m.merge(0, 2 * k2M), 0u) << "nothing left to merge";
    EXPECT_EQ(this->p2m.merge(0x800, kPageSize), 0u) << "unaligned";
    EXPECT_EQ(this->p2m.retired_count(), 2u);
}

// Foreign pages (another domain's, mapped for a control domain) stay 4 KiB leaves even
// when 512 of them map one aligned range: putting the mapper's own frame back at one of
// them must never need a split.
TYPED_TEST(P2mTest, NeverMergesForeignPages) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    this->split_uniformly(0, kHostRam);
    for (u64 p = 0; p < k2M; p += kPageSize)
        ASSERT_TRUE(this->p2m.map(p, kHostRam + k2M + p, kPageSize, P2mType::Foreign, true, false));
    EXPECT_EQ(this->p2m.merge(0, k2M), 0u);
    EXPECT_EQ(this->at(0x5000).page_size, kPageSize);
    EXPECT_EQ(this->at(0x5000).type, P2mType::Foreign);
}

// Each 2 MiB region below is split into 4 KiB leaves with exactly one difference that must
// keep it from merging.
TYPED_TEST(P2mTest, DoesNotMergeWhatIsNotOneUniformRange) {
    constexpr u64 kRegions = 7;
    ASSERT_TRUE(this->p2m.map(0, kHostRam, kRegions * k2M, P2mType::Ram, true, true));
    for (u64 i = 0; i < kRegions; ++i) this->split_uniformly(i * k2M, kHostRam + i * k2M);
    const u64 p = 0x9000;
    ASSERT_TRUE(this->p2m.map(0 * k2M + p, kHostRam + p, kPageSize, P2mType::Ram, true, false));           // access
    ASSERT_TRUE(this->p2m.map(1 * k2M + p, kHostRam + k2M + p, kPageSize, P2mType::Foreign, true, true));  // type
    ASSERT_TRUE(this->p2m.map(2 * k2M + p, kHostRam + p, kPageSize, P2mType::Ram, true, true));            // frame
    ASSERT_TRUE(this->p2m.unmap(3 * k2M + p, kPageSize));                                                  // a hole
    ASSERT_TRUE(this->p2m.map(4 * k2M + p, kHostRam + 4 * k2M + p, kPageSize, P2mType::MmioPassthrough, true,
                              true));            // cacheability and type
    ASSERT_TRUE(this->p2m.unmap(5 * k2M, k2M));  // host frames contiguous but not 2 MiB aligned
    ASSERT_TRUE(this->p2m.map(5 * k2M, kHostRam + 5 * k2M + kPageSize, k2M, P2mType::Ram, true, true));
    // Region 6 is the control: uniform, so it merges.
    EXPECT_EQ(this->p2m.merge(0, kRegions * k2M), 1u);
    EXPECT_EQ(this->at(6 * k2M).page_size, k2M);
    for (u64 i = 0; i < 6; ++i) EXPECT_EQ(this->at(i * k2M).page_size, kPageSize) << "region " << i;
    EXPECT_EQ(this->at(5 * k2M).frame, kHostRam + 5 * k2M + kPageSize);
    // Undo each difference: all merge.
    ASSERT_TRUE(this->p2m.map(0 * k2M + p, kHostRam + p, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(1 * k2M + p, kHostRam + k2M + p, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(2 * k2M + p, kHostRam + 2 * k2M + p, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(3 * k2M + p, kHostRam + 3 * k2M + p, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(4 * k2M + p, kHostRam + 4 * k2M + p, kPageSize, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(5 * k2M, kHostRam + 5 * k2M, k2M, P2mType::Ram, true, true));
    EXPECT_EQ(this->p2m.merge(0, kRegions * k2M), 6u);
    for (u64 i = 0; i < kRegions; ++i) EXPECT_EQ(this->at(i * k2M + p).page_size, k2M) << "region " << i;
}

TYPED_TEST(P2mTest, DirtyLogDisableMergesTablesThatFaultsSplit) {
    constexpr u64 kPages = 3 * k2M / kPageSize;
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 3 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.protect(0x10000, kPageSize, false, true));  // stays read-only: no merge there
    std::vector<u64> bitmap(kPages / 64, 0);
    ASSERT_TRUE(this->p2m.dirty_log_enable(bitmap.data(), kPages));
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(0x3000));
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(k2M + 0x3000));
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(k2M + 0x1ff000));
    EXPECT_EQ(this->at(k2M).page_size, kPageSize) << "write faults split to 4 KiB";
    EXPECT_EQ(this->p2m.retired_count(), 0u) << "no merge while logging";

    ASSERT_TRUE(this->p2m.dirty_log_disable());
    EXPECT_EQ(this->p2m.retired_count(), 1u);
    P2mEntry e = this->at(k2M + 0x3000);
    EXPECT_EQ(e.page_size, k2M) << "merged back";
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_TRUE(e.writable);
    EXPECT_EQ(e.frame, kHostRam + k2M + 0x3000);
    EXPECT_EQ(this->at(0x3000).page_size, kPageSize) << "the read-only page keeps its table";
    EXPECT_FALSE(this->at(0x10000).writable);
    EXPECT_EQ(this->at(2 * k2M).page_size, k2M) << "never split";
}

TYPED_TEST(P2mTest, RetiredTablesAreFreedOnlyByTheExplicitStep) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    const usize first = this->memory.allocations();
    this->split_uniformly(0, kHostRam);
    const PhysAddr pt = this->memory.allocated_since(first).at(0);
    const std::vector<u64> contents(this->memory.table(pt), this->memory.table(pt) + 512);
    const usize frees = this->memory.frees();

    ASSERT_EQ(this->p2m.merge(0, k2M), 1u);
    EXPECT_EQ(this->memory.frees(), frees) << "a merge frees nothing";
    ASSERT_TRUE(this->memory.contains(pt));
    EXPECT_EQ(std::vector<u64>(this->memory.table(pt), this->memory.table(pt) + 512), contents)
        << "a stale walk still finds the same translations";

    auto r = this->p2m.take_retired();
    EXPECT_EQ(r.count, 1u);
    EXPECT_EQ(this->p2m.retired_count(), 0u) << "now the caller's";
    EXPECT_EQ(this->retired(r), std::vector<PhysAddr>{pt});
    // A merge after the take (after the caller's flush began) waits for the next round.
    this->split_uniformly(k2M, kHostRam + k2M);
    ASSERT_EQ(this->p2m.merge(k2M, k2M), 1u);
    EXPECT_EQ(this->memory.frees(), frees);

    this->p2m.free_retired(r);
    EXPECT_FALSE(this->memory.contains(pt));
    EXPECT_EQ(this->memory.frees(), frees + 2) << "the table and the page that listed it";
    EXPECT_EQ(r.count, 0u);
    EXPECT_EQ(this->p2m.retired_count(), 1u) << "the later one is still held";
    // release() (TearDown) frees the held one; TearDown checks that nothing leaked.
}

TYPED_TEST(P2mTest, ManyRetiredTablesChainListPagesWithoutLeaks) {
    constexpr u64 kRegions = 600;  // more than one list page holds (511)
    const usize baseline = this->memory.live();
    ASSERT_TRUE(this->p2m.map(0, kHostRam, kRegions * k2M, P2mType::Ram, true, true));
    const usize mapped_tables = this->memory.live();
    for (u64 round = 0; round < 2; ++round) {
        for (u64 i = 0; i < kRegions; ++i) this->split_uniformly(i * k2M, kHostRam + i * k2M);
        EXPECT_EQ(this->memory.live(), mapped_tables + kRegions);
        EXPECT_EQ(this->p2m.merge(0, kRegions * k2M), kRegions);
        EXPECT_EQ(this->memory.live(), mapped_tables + kRegions + 2) << "tables held, plus two list pages";
        auto r = this->p2m.take_retired();
        const std::vector<PhysAddr> tables = this->retired(r);
        EXPECT_EQ(tables.size(), kRegions);
        EXPECT_EQ(std::set<PhysAddr>(tables.begin(), tables.end()).size(), kRegions) << "each once";
        this->p2m.free_retired(r);
        EXPECT_EQ(this->memory.live(), mapped_tables) << "round " << round;
    }
    ASSERT_TRUE(this->p2m.unmap(0, kRegions * k2M));
    EXPECT_GT(this->memory.live(), baseline) << "unmap keeps emptied tables, as before";
}

TYPED_TEST(P2mTest, MergeStopsWhenNoMemoryIsLeftForTheList) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, k2M, P2mType::Ram, true, true));
    this->split_uniformly(0, kHostRam);
    this->memory.set_limit(this->memory.live());
    EXPECT_EQ(this->p2m.merge(0, k2M), 0u);
    EXPECT_EQ(this->at(0x5000).page_size, kPageSize) << "the table stays in the tree";
    EXPECT_EQ(this->at(0x5000).frame, kHostRam + 0x5000);
    this->memory.set_limit(1 << 20);
    EXPECT_EQ(this->p2m.merge(0, k2M), 1u);
}

TYPED_TEST(P2mTest, No1GiBLeavesWithoutHugePages) {
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge, k1G, P2mType::Ram, true, true));
    EXPECT_EQ(this->at(k1G).page_size, k2M) << "aligned for 1 GiB, but not allowed";
    EXPECT_EQ(this->p2m.merge(k1G, k1G), 0u) << "512 uniform 2 MiB leaves stay a table";
    EXPECT_EQ(this->at(2 * k1G - kPageSize).page_size, k2M);
    // Splitting and protecting back merges to 2 MiB, no further.
    ASSERT_TRUE(this->p2m.protect(k1G + 0x5000, kPageSize, false, true));
    ASSERT_TRUE(this->p2m.protect(k1G + 0x5000, kPageSize, true, true));
    EXPECT_EQ(this->at(k1G).page_size, k2M);
    EXPECT_EQ(this->p2m.retired_count(), 1u);
}

TYPED_TEST(P2mHugeTest, MergesA2MiBTableInto1GiBOnlyWhenAligned) {
    // 2 MiB leaves that together would be 1 GiB, but the host range is not 1 GiB aligned.
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge + k2M, k1G, P2mType::Ram, true, true));
    EXPECT_EQ(this->at(k1G).page_size, k2M);
    EXPECT_EQ(this->p2m.merge(k1G, k1G), 0u);
    ASSERT_TRUE(this->p2m.map(k1G, kHostHuge, k1G, P2mType::Ram, true, true));  // reuses the PD
    EXPECT_EQ(this->at(k1G).page_size, k2M);
    EXPECT_EQ(this->p2m.merge(k1G, k1G), 1u);
    EXPECT_EQ(this->at(k1G).page_size, k1G);
}

}  // namespace
