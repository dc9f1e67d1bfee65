// MemoryMap: firmware memory maps as QEMU reports them, the carving out of what the
// hypervisor occupies, and the edge cases of firmware input (overlaps, zero lengths,
// wrap-around, unaligned ends).
#include "mm/memory_map.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

namespace {

struct E820 {
    u64 base;
    u64 length;
    u32 type;
};

// SeaBIOS's e820 map under QEMU -m 128M (what GRUB passes on as the Multiboot2 map).
const std::vector<E820> kQemu128M = {
    {0x0, 0x9fc00, 1},        {0x9fc00, 0x400, 2},     {0xf0000, 0x10000, 2},
    {0x100000, 0x7ee0000, 1}, {0x7fe0000, 0x20000, 2}, {0xfffc0000, 0x40000, 2},
};

// QEMU -m 4G: RAM is split around the 32-bit PCI hole, 3 GiB below 0xc0000000 and
// the remaining 1 GiB from 4 GiB up.
const std::vector<E820> kQemu4G = {
    {0x0, 0x9fc00, 1},        {0x9fc00, 0x400, 2},     {0xf0000, 0x10000, 2},    {0x100000, 0xbfee0000, 1},
    {0xbffe0000, 0x20000, 2}, {0xfeffc000, 0x4000, 2}, {0xfffc0000, 0x40000, 2}, {0x100000000, 0x40000000, 1},
};

// Heap allocated: the map is about 12 KiB.
std::unique_ptr<MemoryMap> from_e820(const std::vector<E820>& entries) {
    auto map = std::make_unique<MemoryMap>();
    for (const E820& e : entries) {
        if (e.type == 1) EXPECT_TRUE(map->add_available(e.base, e.length));
    }
    return map;
}

std::vector<PhysRange> ranges(const MemoryMap& map) {
    std::vector<PhysRange> v;
    for (usize i = 0; i < map.range_count(); ++i) v.push_back(map.range(i));
    return v;
}

void expect_ranges(const MemoryMap& map, const std::vector<PhysRange>& expected) {
    const std::vector<PhysRange> actual = ranges(map);
    ASSERT_EQ(actual.size(), expected.size());
    for (usize i = 0; i < actual.size(); ++i) {
        EXPECT_EQ(actual[i].start, expected[i].start) << "range " << i;
        EXPECT_EQ(actual[i].end, expected[i].end) << "range " << i;
    }
}

TEST(MemoryMap, EmptyMap) {
    MemoryMap map;
    EXPECT_EQ(map.range_count(), 0u);
    EXPECT_EQ(map.total_bytes(), 0u);
    EXPECT_EQ(map.highest_address(), 0u);
}

TEST(MemoryMap, Qemu128MAvailableRegionsArePageAlignedInward) {
    const auto map = from_e820(kQemu128M);
    // 0x9fc00 is not a page boundary: the partial page 0x9f000..0x9fc00 is dropped.
    expect_ranges(*map, {{0x0, 0x9f000}, {0x100000, 0x7fe0000}});
    EXPECT_EQ(map->total_bytes(), 0x9f000u + 0x7ee0000u);
    EXPECT_EQ(map->highest_address(), 0x7fe0000u);
}

TEST(MemoryMap, Qemu128MWithHypervisorCarvedOut) {
    const auto map = from_e820(kQemu128M);
    ASSERT_TRUE(map->reserve(0, 1 * MiB));                   // real-mode area, BIOS
    ASSERT_TRUE(map->reserve(0x200000, 0x236000));           // hypervisor image
    ASSERT_TRUE(map->reserve(0x10000, 0x10a48));             // boot information (below 1 MiB here)
    ASSERT_TRUE(map->reserve(0x237000, 0x237000 + 0x1234));  // a module, unaligned end
    expect_ranges(*map, {{0x100000, 0x200000}, {0x236000, 0x237000}, {0x239000, 0x7fe0000}});
    EXPECT_EQ(map->highest_address(), 0x7fe0000u);
}

TEST(MemoryMap, Qemu4GSplitAroundThePciHole) {
    const auto map = from_e820(kQemu4G);
    ASSERT_TRUE(map->reserve(0, 1 * MiB));
    expect_ranges(*map, {{0x100000, 0xbffe0000}, {0x100000000, 0x140000000}});
    EXPECT_EQ(map->total_bytes(), (0xbffe0000u - 0x100000u) + 0x40000000u);
    EXPECT_EQ(map->highest_address(), 0x140000000u);
    EXPECT_TRUE(map->contains(0xbffdf000, 0xbffe0000));
    EXPECT_FALSE(map->contains(0xbffdf000, 0xbffe1000));
    EXPECT_FALSE(map->contains(0xc0000000, 0xc0001000));
    EXPECT_TRUE(map->contains(0x100000000, 0x140000000));
}

TEST(MemoryMap, OrderOfReserveAndAddDoesNotMatter) {
    MemoryMap early;
    ASSERT_TRUE(early.reserve(0, 1 * MiB));
    ASSERT_TRUE(early.reserve(0x200000, 0x300000));
    for (const E820& e : kQemu128M)
        if (e.type == 1) ASSERT_TRUE(early.add_available(e.base, e.length));
    auto late = from_e820(kQemu128M);
    ASSERT_TRUE(late->reserve(0x200000, 0x300000));
    ASSERT_TRUE(late->reserve(0, 1 * MiB));
    EXPECT_EQ(ranges(early).size(), ranges(*late).size());
    expect_ranges(early, {{0x100000, 0x200000}, {0x300000, 0x7fe0000}});
    expect_ranges(*late, {{0x100000, 0x200000}, {0x300000, 0x7fe0000}});
}

TEST(MemoryMap, OverlappingFirmwareRegionsMerge) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x100000, 0x100000));
    ASSERT_TRUE(map.add_available(0x180000, 0x100000));  // overlaps the first
    ASSERT_TRUE(map.add_available(0x120000, 0x1000));    // inside
    ASSERT_TRUE(map.add_available(0x100000, 0x100000));  // duplicate
    expect_ranges(map, {{0x100000, 0x280000}});
    EXPECT_EQ(map.total_bytes(), 0x180000u);
}

TEST(MemoryMap, RegionBridgingSeveralMerges) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x1000, 0x1000));
    ASSERT_TRUE(map.add_available(0x5000, 0x1000));
    ASSERT_TRUE(map.add_available(0x9000, 0x1000));
    ASSERT_TRUE(map.add_available(0x20000, 0x1000));
    ASSERT_EQ(map.range_count(), 4u);
    ASSERT_TRUE(map.add_available(0x1800, 0x8000));  // covers the first three
    expect_ranges(map, {{0x1000, 0xa000}, {0x20000, 0x21000}});
}

TEST(MemoryMap, AdjacentRegionsMeetingInsideAPageFormWholePages) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x1000, 0x800));   // 0x1000..0x1800
    ASSERT_TRUE(map.add_available(0x1800, 0x1800));  // 0x1800..0x3000
    expect_ranges(map, {{0x1000, 0x3000}});
}

TEST(MemoryMap, OutOfOrderInputComesOutSorted) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x40000000, 0x1000));
    ASSERT_TRUE(map.add_available(0x1000, 0x1000));
    ASSERT_TRUE(map.add_available(0x100000, 0x1000));
    expect_ranges(map, {{0x1000, 0x2000}, {0x100000, 0x101000}, {0x40000000, 0x40001000}});
}

TEST(MemoryMap, ZeroLengthRegionsAreIgnored) {
    MemoryMap map;
    EXPECT_TRUE(map.add_available(0x100000, 0));
    EXPECT_TRUE(map.add_available(~0ull, 0));
    EXPECT_EQ(map.range_count(), 0u);
    EXPECT_TRUE(map.reserve(0x5000, 0x5000));
}

TEST(MemoryMap, RegionsSmallerThanAPageVanish) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x1200, 0xc00));    // 0x1200..0x1e00: no whole page
    ASSERT_TRUE(map.add_available(0x10800, 0x1000));  // 0x10800..0x11800: no whole page either
    EXPECT_EQ(map.range_count(), 0u);
    EXPECT_EQ(map.total_bytes(), 0u);
}

TEST(MemoryMap, RejectsRegionsWrappingPast2To64) {
    MemoryMap map;
    const char* error = nullptr;
    EXPECT_FALSE(map.add_available(0xfffffffffffff000ull, 0x2000, &error));
    EXPECT_NE(error, nullptr);
    // Ending exactly at 2^64 cannot be represented either.
    EXPECT_FALSE(map.add_available(0xfffffffffffff000ull, 0x1000));
    EXPECT_FALSE(map.add_available(1, ~0ull));
    EXPECT_EQ(map.range_count(), 0u);
}

TEST(MemoryMap, RejectsRegionsAboveMaxPhysAddr) {
    MemoryMap map;
    const char* error = nullptr;
    EXPECT_FALSE(map.add_available(MemoryMap::kMaxPhysAddr - 0x1000, 0x2000, &error));
    EXPECT_STREQ(error, "memory map: region reaches above 2^52 (MAXPHYADDR limit)");
    EXPECT_TRUE(map.add_available(MemoryMap::kMaxPhysAddr - 0x1000, 0x1000));
    EXPECT_EQ(map.highest_address(), MemoryMap::kMaxPhysAddr);
}

TEST(MemoryMap, ReservationEndingInsideAPageTakesThatPage) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x100000, 0x10000));
    ASSERT_TRUE(map.reserve(0x104800, 0x106001));
    expect_ranges(map, {{0x100000, 0x104000}, {0x107000, 0x110000}});
}

TEST(MemoryMap, ReservationCoveringEverything) {
    auto map = from_e820(kQemu4G);
    ASSERT_TRUE(map->reserve(0, ~0ull));
    EXPECT_EQ(map->range_count(), 0u);
    EXPECT_EQ(map->highest_address(), 0u);
}

TEST(MemoryMap, ReservationSpanningSeveralRanges) {
    auto map = from_e820(kQemu4G);
    ASSERT_TRUE(map->reserve(0x80000, 0x100100000));
    expect_ranges(*map, {{0x0, 0x80000}, {0x100100000, 0x140000000}});
}

TEST(MemoryMap, OverlappingReservationsMerge) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0, 0x100000));
    ASSERT_TRUE(map.reserve(0x10000, 0x20000));
    ASSERT_TRUE(map.reserve(0x18000, 0x30000));
    ASSERT_TRUE(map.reserve(0x30000, 0x31000));  // touching
    expect_ranges(map, {{0x0, 0x10000}, {0x31000, 0x100000}});
}

TEST(MemoryMap, RejectsBackwardsReservation) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0, 0x100000));
    const char* error = nullptr;
    EXPECT_FALSE(map.reserve(0x2000, 0x1000, &error));
    EXPECT_STREQ(error, "memory map: reservation ends before it starts");
    expect_ranges(map, {{0x0, 0x100000}});
}

TEST(MemoryMap, AvailableCapacityOverflowFailsAndLeavesTheMapUnchanged) {
    auto map = std::make_unique<MemoryMap>();
    for (u64 i = 0; i < MemoryMap::kMaxAvailable; ++i) ASSERT_TRUE(map->add_available(i * 0x10000, 0x1000)) << i;
    EXPECT_EQ(map->range_count(), MemoryMap::kMaxAvailable);
    const char* error = nullptr;
    EXPECT_FALSE(map->add_available(0x10000000, 0x1000, &error));
    EXPECT_NE(error, nullptr);
    EXPECT_EQ(map->range_count(), MemoryMap::kMaxAvailable);
    EXPECT_EQ(map->total_bytes(), MemoryMap::kMaxAvailable * 0x1000);
    // Merging into existing ranges still works when full.
    EXPECT_TRUE(map->add_available(0x1000, 0x1000));
    EXPECT_TRUE(map->add_available(0x0, 0x1f000));  // joins ranges 0 and 1
    EXPECT_EQ(map->range_count(), MemoryMap::kMaxAvailable - 1);
    EXPECT_TRUE(map->add_available(0x10000000, 0x1000));
}

TEST(MemoryMap, ReservationCapacityOverflowFailsAndLeavesTheMapUnchanged) {
    auto map = std::make_unique<MemoryMap>();
    ASSERT_TRUE(map->add_available(0, 1 * GiB));
    for (u64 i = 0; i < MemoryMap::kMaxReserved; ++i) ASSERT_TRUE(map->reserve(i * 0x10000, i * 0x10000 + 0x1000));
    EXPECT_EQ(map->range_count(), MemoryMap::kMaxReserved);
    const u64 before = map->total_bytes();
    EXPECT_FALSE(map->reserve(0x20000000, 0x20001000));
    EXPECT_EQ(map->total_bytes(), before);
    // Splitting every available range needs no extra capacity beyond kMaxRanges.
    EXPECT_LE(map->range_count(), MemoryMap::kMaxRanges);
}

TEST(MemoryMap, FullListsOfBothKindsFitTheResult) {
    auto map = std::make_unique<MemoryMap>();
    for (u64 i = 0; i < MemoryMap::kMaxAvailable; ++i) ASSERT_TRUE(map->add_available(i * 0x100000, 0x80000));
    for (u64 i = 0; i < MemoryMap::kMaxReserved; ++i)
        ASSERT_TRUE(map->reserve(i * 0x100000 + 0x10000, i * 0x100000 + 0x11000));
    EXPECT_EQ(map->range_count(), MemoryMap::kMaxRanges);
    EXPECT_EQ(map->total_bytes(), MemoryMap::kMaxAvailable * 0x80000 - MemoryMap::kMaxReserved * 0x1000);
}

// Against a brute-force model over a small address space: a page is usable when each
// of its bytes is in some available region and none is reserved.
TEST(MemoryMap, MatchesAByteModelOnRandomInput) {
    constexpr u64 kSpace = 64 * kPageSize;
    std::mt19937_64 rng(7);
    for (int round = 0; round < 300; ++round) {
        auto map = std::make_unique<MemoryMap>();
        std::vector<u8> available(kSpace, 0), reserved(kSpace, 0);
        const int operations = 1 + int(rng() % 24);
        for (int op = 0; op < operations; ++op) {
            const u64 start = rng() % kSpace;
            const u64 length = rng() % 4 == 0 ? 0 : rng() % (kSpace - start + 1);
            if (rng() % 3) {
                ASSERT_TRUE(map->add_available(start, length));
                for (u64 b = start; b < start + length; ++b) available[b] = 1;
            } else {
                ASSERT_TRUE(map->reserve(start, start + length));
                for (u64 b = start; b < start + length; ++b) reserved[b] = 1;
            }
        }
        std::vector<bool> expected(kSpace / kPageSize);
        for (u64 page = 0; page < kSpace / kPageSize; ++page) {
            bool usable = true;
            for (u64 b = page * kPageSize; b < (page + 1) * kPageSize && usable; ++b)
                usable = available[b] && !reserved[b];
            expected[page] = usable;
        }
        std::vector<bool> actual(kSpace / kPageSize, false);
        u64 total = 0;
        PhysAddr previous_end = 0;
        for (const PhysRange& r : ranges(*map)) {
            ASSERT_TRUE(is_aligned(r.start, kPageSize) && is_aligned(r.end, kPageSize));
            ASSERT_LT(r.start, r.end);
            if (total) ASSERT_GT(r.start, previous_end);  // sorted, disjoint, not touching
            previous_end = r.end;
            total += r.size();
            for (PhysAddr p = r.start; p < r.end; p += kPageSize) actual[p / kPageSize] = true;
        }
        ASSERT_EQ(actual, expected) << "round " << round;
        ASSERT_EQ(map->total_bytes(), total);
    }
}

}  // namespace
