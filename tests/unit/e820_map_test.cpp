// The guest e820 map (kernel/vm/firmware/e820_map.hpp) for the sizes guests really get,
// checked against the layout of guest_pc_layout.hpp: sorted, disjoint, RAM totals right,
// the BIOS area reserved, nothing in the MMIO hole.
#include "kernel/vm/firmware/e820_map.hpp"

#include <gtest/gtest.h>

#include <string>

#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace {

struct Totals {
    u64 ram = 0, reserved = 0;
};

Totals check_well_formed(const E820Map& map) {
    Totals t;
    EXPECT_GT(map.count, 0u);
    EXPECT_LE(map.count, E820Map::kMaxEntries);
    for (usize i = 0; i < map.count; ++i) {
        const E820Entry& e = map.entries[i];
        EXPECT_GT(e.size, 0u) << i;
        EXPECT_EQ(e.address % kPageSize == 0 || e.address == kGuestBiosAreaStart, true) << i;
        if (i > 0) EXPECT_GE(e.address, map.entries[i - 1].address + map.entries[i - 1].size) << i;
        // Nothing inside the 32-bit MMIO hole.
        EXPECT_TRUE(e.address + e.size <= kGuestMmioHoleStart || e.address >= kGuestMmioHoleEnd) << i;
        if (e.type == kE820Ram) t.ram += e.size;
        if (e.type == kE820Reserved) t.reserved += e.size;
    }
    return t;
}

E820Map build(u64 ram) {
    E820Map map{};
    const char* error = "not set";
    EXPECT_TRUE(build_guest_e820(ram, map, &error)) << error;
    EXPECT_EQ(error, nullptr);
    return map;
}

void expect_entry(const E820Map& map, usize i, u64 address, u64 size, u32 type) {
    ASSERT_LT(i, map.count);
    EXPECT_EQ(map.entries[i].address, address) << i;
    EXPECT_EQ(map.entries[i].size, size) << i;
    EXPECT_EQ(map.entries[i].type, type) << i;
}

constexpr u64 kBiosArea = kGuestBiosAreaEnd - kGuestBiosAreaStart;

TEST(E820Map, SixtyFourMiB) {
    const E820Map map = build(64 * MiB);
    ASSERT_EQ(map.count, 3u);
    expect_entry(map, 0, 0, 0x9FC00, kE820Ram);
    expect_entry(map, 1, 0x9FC00, 0x100000 - 0x9FC00, kE820Reserved);
    expect_entry(map, 2, 1 * MiB, 63 * MiB, kE820Ram);
    const Totals t = check_well_formed(map);
    EXPECT_EQ(t.ram + t.reserved, 64 * MiB);
}

TEST(E820Map, OneGiB) {
    const E820Map map = build(1 * GiB);
    ASSERT_EQ(map.count, 3u);
    expect_entry(map, 2, 1 * MiB, 1 * GiB - 1 * MiB, kE820Ram);
    const Totals t = check_well_formed(map);
    EXPECT_EQ(t.ram, 1 * GiB - kBiosArea);
}

TEST(E820Map, ThreeGiBEndsExactlyAtTheHole) {
    const E820Map map = build(3 * GiB);
    ASSERT_EQ(map.count, 3u);
    expect_entry(map, 2, 1 * MiB, 3 * GiB - 1 * MiB, kE820Ram);
}

TEST(E820Map, FourGiBPutsTheLastGiBAbove4G) {
    const E820Map map = build(4 * GiB);
    ASSERT_EQ(map.count, 4u);
    expect_entry(map, 2, 1 * MiB, 3 * GiB - 1 * MiB, kE820Ram);
    expect_entry(map, 3, 4 * GiB, 1 * GiB, kE820Ram);
    const Totals t = check_well_formed(map);
    EXPECT_EQ(t.ram + t.reserved, 4 * GiB);
}

TEST(E820Map, SixGiB) {
    const E820Map map = build(6 * GiB);
    ASSERT_EQ(map.count, 4u);
    expect_entry(map, 3, 4 * GiB, 3 * GiB, kE820Ram);
    const Totals t = check_well_formed(map);
    EXPECT_EQ(t.ram, 6 * GiB - kBiosArea);
    EXPECT_EQ(guest_ram_end(6 * GiB), 7 * GiB);
}

TEST(E820Map, TheAcpiTablesLieInAReservedRange) {
    const E820Map map = build(64 * MiB);
    bool covered = false;
    for (usize i = 0; i < map.count; ++i) {
        const E820Entry& e = map.entries[i];
        if (e.address <= kGuestAcpiTablesGpa && kGuestAcpiTablesGpa + kGuestAcpiTablesMaxSize <= e.address + e.size) {
            covered = e.type == kE820Reserved;
        }
    }
    EXPECT_TRUE(covered);
}

TEST(E820Map, RejectsSizesTheLayoutCannotHold) {
    E820Map map{};
    const char* error = nullptr;
    EXPECT_FALSE(build_guest_e820(1 * MiB, map, &error));
    ASSERT_NE(error, nullptr);
    EXPECT_NE(std::string(error).find("2 MiB"), std::string::npos);
    EXPECT_FALSE(build_guest_e820(64 * MiB + 100, map, &error));
    EXPECT_NE(std::string(error).find("4 KiB"), std::string::npos);
    EXPECT_EQ(map.count, 0u);
    EXPECT_TRUE(build_guest_e820(kGuestMinimumRamBytes, map, &error));
}

}  // namespace
