// dom0's e820 map (kernel/vm/firmware/dom0_e820.hpp): the host's map re-typed around the
// ranges dom0 owns, on a PC-like host map and on the awkward ones (unsorted, overlapping,
// touching entries, more entries than boot_params holds).
#include "kernel/vm/firmware/dom0_e820.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using Host = std::vector<Multiboot2MemoryRegion>;
using Ranges = std::vector<PhysRange>;

struct Built {
    bool ok = false;
    const char* error = nullptr;
    E820Map map{};
};

Built build(const Host& host, const Ranges& dom0, PhysRange acpi = {0, 0}) {
    Built b;
    b.error = "not set";
    b.ok = build_dom0_e820(host.data(), host.size(), dom0.data(), dom0.size(), acpi, b.map, &b.error);
    return b;
}

std::vector<E820Entry> entries(const E820Map& map) { return {map.entries, map.entries + map.count}; }

void expect_map(const Built& b, const std::vector<E820Entry>& expected) {
    ASSERT_TRUE(b.ok) << b.error;
    EXPECT_EQ(b.error, nullptr);
    ASSERT_EQ(b.map.count, expected.size());
    for (usize i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(b.map.entries[i].address, expected[i].address) << i;
        EXPECT_EQ(b.map.entries[i].size, expected[i].size) << i;
        EXPECT_EQ(b.map.entries[i].type, expected[i].type) << i;
    }
    // Sorted, disjoint, no two touching entries of one type.
    for (usize i = 1; i < b.map.count; ++i) {
        const E820Entry& p = b.map.entries[i - 1];
        const E820Entry& e = b.map.entries[i];
        EXPECT_GE(e.address, p.address + p.size) << i;
        EXPECT_FALSE(e.address == p.address + p.size && e.type == p.type) << i;
    }
}

constexpr u64 k4G = 4 * GiB;

// A PC with 6 GiB: conventional memory, the BIOS area, RAM to 2 GiB with firmware's ACPI
// tables and NVS at its top, the PCI hole (ECAM reserved, no RAM), RAM above 4 GiB.
const Host kPcHost = {
    {0x0, 0x9fc00, 1},           {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 0x7fe00000 - 0x100000, 1},
    {0x7fe00000, 0x100000, 3},    // ACPI tables
    {0x7ff00000, 0x100000, 4},    // NVS
    {0xb0000000, 0x10000000, 2},  // ECAM
    {0xfffc0000, 0x40000, 2},     // BIOS flash
    {k4G, 0x100000000, 1},
};

TEST(Dom0E820, RamDom0DoesNotOwnIsReservedAndFirmwareRangesStayAsTheyAre) {
    const Ranges dom0 = {{0x1000, 0x9f000}, {0x1000000, 0x40000000}, {k4G + 0x40000000, k4G + 0x80000000}};
    const Built b = build(kPcHost, dom0, {0x1000000, 0x1001000});
    expect_map(b, {
                      {0x0, 0x1000, kE820Reserved},  // Vireo's first page
                      {0x1000, 0x9e000, kE820Ram},
                      {0x9f000, 0x1000, kE820Reserved},  // the host's last RAM page, then its own reserved
                      // The BIOS, then Vireo's image, heap, ... (RAM, merged into the reserved before it).
                      {0xf0000, 0x1000000 - 0xf0000, kE820Reserved},
                      {0x1000000, 0x1000, kE820Acpi},  // dom0's new ACPI root tables
                      {0x1001000, 0x40000000 - 0x1001000, kE820Ram},
                      {0x40000000, 0x7fe00000 - 0x40000000, kE820Reserved},
                      {0x7fe00000, 0x100000, kE820Acpi},
                      {0x7ff00000, 0x100000, kE820Nvs},
                      {0xb0000000, 0x10000000, kE820Reserved},
                      {0xfffc0000, 0x40000 + 0x40000000, kE820Reserved},  // the flash, then another domain's RAM
                      {k4G + 0x40000000, 0x40000000, kE820Ram},
                      {k4G + 0x80000000, 0x80000000, kE820Reserved},
                  });
}

TEST(Dom0E820, HolesStayHoles) {
    const Built b = build(kPcHost, {{0x100000, 0x200000}});
    ASSERT_TRUE(b.ok) << b.error;
    for (const E820Entry& e : entries(b.map)) {
        // Nothing in [0xa0000, 0xf0000) (VGA, option ROMs) or in the PCI hole outside the ECAM.
        EXPECT_FALSE(e.address < 0xf0000 && e.address + e.size > 0xa0000) << std::hex << e.address;
        EXPECT_FALSE(e.address < 0xb0000000 && e.address + e.size > 0x80000000) << std::hex << e.address;
        EXPECT_FALSE(e.address < 0xfffc0000 && e.address + e.size > 0xc0000000) << std::hex << e.address;
    }
}

TEST(Dom0E820, AnUnsortedOverlappingHostMapIsSortedAndTheHighestTypeWins) {
    const Host host = {
        {0x200000, 0x200000, 1},
        {0x0, 0x200000, 1},
        {0x300000, 0x10000, 2},   // reserved inside RAM: wins
        {0x380000, 0x100000, 4},  // NVS over the end of RAM and past it
    };
    expect_map(build(host, {{0x0, 0x300000}}), {
                                                   {0x0, 0x300000, kE820Ram},
                                                   {0x300000, 0x80000, kE820Reserved},  // the reserved + unowned RAM
                                                   {0x380000, 0x100000, kE820Nvs},
                                               });
}

TEST(Dom0E820, TouchingRangesOfOneTypeMerge) {
    // The host splits RAM in three; dom0 owns two touching ranges across the splits.
    const Host host = {{0x0, 0x100000, 1}, {0x100000, 0x100000, 1}, {0x200000, 0x200000, 1}, {0x400000, 0x1000, 2}};
    expect_map(build(host, {{0x0, 0x180000}, {0x180000, 0x300000}}), {
                                                                         {0x0, 0x300000, kE820Ram},
                                                                         {0x300000, 0x101000, kE820Reserved},
                                                                     });
}

TEST(Dom0E820, UnknownAndBadHostTypesAreKept) {
    const Host host = {{0x0, 0x100000, 1}, {0x100000, 0x1000, 5}, {0x101000, 0x1000, 12}};
    expect_map(build(host, {{0x0, 0x100000}}), {
                                                   {0x0, 0x100000, kE820Ram},
                                                   {0x100000, 0x1000, kE820Unusable},
                                                   {0x101000, 0x1000, 12},
                                               });
}

TEST(Dom0E820, ZeroLengthHostEntriesAreIgnored) {
    const Host host = {{0x0, 0x100000, 1}, {0x50000, 0, 2}};
    expect_map(build(host, {{0x0, 0x100000}}), {{0x0, 0x100000, kE820Ram}});
}

TEST(Dom0E820, BadInputsAreRefusedWithASentence) {
    struct Case {
        Ranges dom0;
        PhysRange acpi;
        const char* error;
    };
    const Case cases[] = {
        {{{0x1000, 0x1000}}, {0, 0}, "dom0 e820: one of dom0's memory ranges is empty"},
        {{{0x1800, 0x3000}}, {0, 0}, "dom0 e820: dom0's memory ranges must be 4 KiB aligned"},
        {{{0x1000, 0x2800}}, {0, 0}, "dom0 e820: dom0's memory ranges must be 4 KiB aligned"},
        {{{0x4000, 0x5000}, {0x1000, 0x2000}}, {0, 0}, "dom0 e820: dom0's memory ranges are not sorted and disjoint"},
        {{{0x1000, 0x5000}, {0x4000, 0x6000}}, {0, 0}, "dom0 e820: dom0's memory ranges are not sorted and disjoint"},
        {{{0x1000, 0x9f000}}, {0x1800, 0x2000}, "dom0 e820: the ACPI table area must be 4 KiB aligned"},
        {{{0x1000, 0x9f000}}, {0x100000, 0x101000}, "dom0 e820: the ACPI table area is not inside dom0's memory"},
        {{{0x1000, 0xa0000}}, {0, 0}, "dom0 e820: dom0 owns memory that is not host RAM"},         // the EBDA
        {{{0x7fd00000, 0x7ff00000}}, {0, 0}, "dom0 e820: dom0 owns memory that is not host RAM"},  // ACPI
        {{{0xa0000, 0xb0000}}, {0, 0}, "dom0 e820: dom0 owns memory that is not host RAM"},        // a hole
    };
    for (const Case& c : cases) {
        const Built b = build(kPcHost, c.dom0, c.acpi);
        EXPECT_FALSE(b.ok) << c.error;
        EXPECT_STREQ(b.error, c.error);
    }
    const Host wrapping = {{0xfffffffffffff000ull, 0x2000, 2}};
    const Built b = build(wrapping, {});
    EXPECT_FALSE(b.ok);
    EXPECT_STREQ(b.error, "dom0 e820: a host region wraps around 2^64");
}

// A host map of alternating RAM and reserved pages: `count` entries out.
Host alternating(usize count) {
    Host host;
    for (usize i = 0; i < count; ++i) host.push_back({i * kPageSize, kPageSize, i % 2 == 0 ? 1u : 2u});
    return host;
}

TEST(Dom0E820, AsManyEntriesAsBootParamsHoldFitAndOneMoreIsAnError) {
    const Built fits = build(alternating(E820Map::kMaxEntries), {});
    ASSERT_TRUE(fits.ok) << fits.error;
    // Unowned RAM is reserved, and reserved pages merge: one entry.
    EXPECT_EQ(fits.map.count, 1u);

    Ranges every_ram_page;
    for (usize i = 0; i < E820Map::kMaxEntries; i += 2) every_ram_page.push_back({i * kPageSize, (i + 1) * kPageSize});
    const Built full = build(alternating(E820Map::kMaxEntries), every_ram_page);
    ASSERT_TRUE(full.ok) << full.error;
    EXPECT_EQ(full.map.count, E820Map::kMaxEntries);

    every_ram_page.push_back({E820Map::kMaxEntries * kPageSize, (E820Map::kMaxEntries + 1) * kPageSize});
    const Built over = build(alternating(E820Map::kMaxEntries + 2), every_ram_page);
    EXPECT_FALSE(over.ok);
    EXPECT_STREQ(over.error, "dom0 e820: the map needs more entries than boot_params holds (128)");
}

}  // namespace
