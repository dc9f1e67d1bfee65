// The RSDP search of the BIOS areas (ACPI 6.5, 5.2.5.1): where firmware puts it, the
// order of the areas, and what does not count (a bad checksum, a misaligned copy, an
// XSDP whose extended checksum is wrong).
#include "drivers/acpi/rsdp_search.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

// The first MiB and a little more, as a BIOS leaves it.
class BiosMemory final : public AcpiMemory {
public:
    BiosMemory() : bytes_(0x100000 + 64, 0) {}
    const u8* map(PhysAddr phys, u64 length) override {
        if (phys > bytes_.size() || length > bytes_.size() - phys) return nullptr;
        return bytes_.data() + phys;
    }
    u8* at(PhysAddr phys) { return bytes_.data() + phys; }
    void set_ebda_segment(u16 segment) { std::memcpy(at(0x40e), &segment, 2); }

    // An RSDP of `revision` at `phys` with correct checksums.
    void put_rsdp(PhysAddr phys, u8 revision, u32 rsdt = 0x7fe0000) {
        u8* p = at(phys);
        std::memcpy(p, "RSD PTR ", 8);
        std::memcpy(p + 9, "VIREOT", 6);
        p[15] = revision;
        std::memcpy(p + 16, &rsdt, 4);
        p[8] = 0;
        p[8] = u8(-sum(p, 20));
        if (revision >= 2) {
            const u32 length = 36;
            std::memcpy(p + 20, &length, 4);
            const u64 xsdt = 0x7fe1000;
            std::memcpy(p + 24, &xsdt, 8);
            p[32] = 0;
            p[32] = u8(-sum(p, 36));
        }
    }
    static u8 sum(const u8* p, usize n) {
        u8 s = 0;
        for (usize i = 0; i < n; ++i) s = u8(s + p[i]);
        return s;
    }

private:
    std::vector<u8> bytes_;
};

TEST(RsdpSearchTest, FindsARevision0RsdpInTheBiosRom) {
    BiosMemory memory;
    memory.put_rsdp(0xf59d0, 0);
    FoundRsdp found;
    ASSERT_TRUE(find_rsdp_in_bios_areas(memory, found));
    EXPECT_EQ(found.address, 0xf59d0u);
    EXPECT_EQ(found.length, 20u);
    EXPECT_EQ(std::memcmp(found.bytes, memory.at(0xf59d0), 20), 0);
}

TEST(RsdpSearchTest, AnXsdpComesWhole) {
    BiosMemory memory;
    memory.put_rsdp(0xe0000, 2);
    FoundRsdp found;
    ASSERT_TRUE(find_rsdp_in_bios_areas(memory, found));
    EXPECT_EQ(found.address, 0xe0000u);
    EXPECT_EQ(found.length, 36u);
    EXPECT_EQ(std::memcmp(found.bytes, memory.at(0xe0000), 36), 0);
}

TEST(RsdpSearchTest, TheEbdaIsSearchedFirst) {
    BiosMemory memory;
    memory.set_ebda_segment(0x9fc0);  // EBDA at 0x9fc00
    memory.put_rsdp(0x9fc00 + 0x40, 0, 0x1111);
    memory.put_rsdp(0xf0000, 0, 0x2222);
    FoundRsdp found;
    ASSERT_TRUE(find_rsdp_in_bios_areas(memory, found));
    EXPECT_EQ(found.address, 0x9fc40u);
}

TEST(RsdpSearchTest, OnlyItsFirstKibAndOnlyABelow640KibEbdaCount) {
    BiosMemory memory;
    memory.set_ebda_segment(0x9000);  // EBDA at 0x90000: an RSDP past its first KiB
    memory.put_rsdp(0x90400, 0);
    FoundRsdp found;
    EXPECT_FALSE(find_rsdp_in_bios_areas(memory, found));
    memory.set_ebda_segment(0xf000);  // not an EBDA: 0xf0000 is the ROM, searched once anyway
    memory.put_rsdp(0xf0010, 0);
    ASSERT_TRUE(find_rsdp_in_bios_areas(memory, found));
    EXPECT_EQ(found.address, 0xf0010u);
}

TEST(RsdpSearchTest, BadChecksumsAndMisalignedCopiesAreSkipped) {
    BiosMemory memory;
    memory.put_rsdp(0xe0008, 0);  // not on a 16-byte boundary
    memory.put_rsdp(0xe1000, 0);
    memory.at(0xe1000)[19] ^= 1;  // checksum broken
    memory.put_rsdp(0xe2000, 2);
    memory.at(0xe2000)[30] ^= 1;  // extended checksum broken (the first 20 bytes still sum)
    FoundRsdp found;
    EXPECT_FALSE(find_rsdp_in_bios_areas(memory, found));
    memory.put_rsdp(0xe3000, 2);
    const u32 longer = 40;  // a length other than the XSDP's 36, checksums made good
    std::memcpy(memory.at(0xe3000) + 20, &longer, 4);
    memory.at(0xe3000)[32] = 0;
    memory.at(0xe3000)[32] = u8(-BiosMemory::sum(memory.at(0xe3000), 36));
    EXPECT_FALSE(find_rsdp_in_bios_areas(memory, found));
    memory.put_rsdp(0xffff0, 0);  // would end past 1 MiB: not in the ROM area
    EXPECT_FALSE(find_rsdp_in_bios_areas(memory, found));
    memory.put_rsdp(0xfffe0, 0);  // ends inside it: the last place one can be
    ASSERT_TRUE(find_rsdp_in_bios_areas(memory, found));
    EXPECT_EQ(found.address, 0xfffe0u);
}

}  // namespace
