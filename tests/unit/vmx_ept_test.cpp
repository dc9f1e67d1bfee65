// The pure parts of the VMX backend: control-word adjustment from the capability MSRs
// (Intel SDM vol. 3D, A.3-A.5) and the EPT entry format (SDM vol. 3C, 29.3.2) through
// the shared page-table builder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "mm/ept_format.hpp"
#include "vmx/vmx_capabilities.hpp"

namespace {

TEST(VmxControls, AdjustForcesRequiredAndDropsUnsupportedBits) {
    // Allowed-0 (low half) must be 1; allowed-1 (high half) may be 1. Bochs Haswell TRUE_PINBASED.
    const u64 pin_cap = 0x0000007f00000016ull;
    EXPECT_EQ(vmx::adjust_controls(pin_cap, 0x1 | 0x8), 0x1fu);        // wanted bits kept, required 0x16 added
    EXPECT_EQ(vmx::adjust_controls(pin_cap, 0x80), 0x16u);             // bit 7 not allowed: dropped
    EXPECT_EQ(vmx::adjust_controls(pin_cap, 0x40), 0x56u);             // preemption timer allowed
    EXPECT_EQ(vmx::adjust_controls(0x0000000000000000ull, 0xff), 0u);  // nothing allowed
}

struct FakeTables {
    std::map<PhysAddr, u64*> tables;
    PhysAddr next = 0x1000;
    PhysAddr alloc_table() {
        auto* t = static_cast<u64*>(std::aligned_alloc(4096, 4096));
        std::memset(t, 0, 4096);
        tables[next] = t;
        next += 0x1000;
        return next - 0x1000;
    }
    u64* table(PhysAddr pa) { return tables.at(pa); }
    void free_table(PhysAddr pa) {
        std::free(tables.at(pa));
        tables.erase(pa);
    }
    ~FakeTables() {
        for (auto& [pa, t] : tables) std::free(t);
    }
};

TEST(EptFormat, LeafAndTableEntries) {
    const PageAttributes ram{.writable = true, .executable = true, .user = true, .global = false, .uncached = false};
    // 2 MiB leaf: R W X, memory type 6 (WB) in bits 5:3, bit 7 large page.
    EXPECT_EQ(EptFormat::make_leaf(2, 0x40200000, ram), 0x40200000ull | 0x7 | (6 << 3) | 0x80);
    EXPECT_EQ(EptFormat::make_leaf(1, 0x5000, {.writable = false, .executable = false}), 0x5000ull | 0x1 | (6 << 3));
    EXPECT_EQ(EptFormat::make_leaf(1, 0x5000, {.writable = true, .uncached = true}), 0x5000ull | 0x3);  // UC: type 0
    EXPECT_EQ(EptFormat::make_table(0x9000, 2), 0x9007ull);
    EXPECT_TRUE(EptFormat::is_present(0x4));  // execute-only is present
    EXPECT_FALSE(EptFormat::is_present(0x5000ull | (6 << 3)));
}

TEST(EptFormat, BuilderMapsGuestPhysicalWithLargePages) {
    FakeTables memory;
    PageTableBuilder<EptFormat, FakeTables> builder(memory, false);
    ASSERT_TRUE(builder.create());
    const PageAttributes ram{.writable = true, .executable = true, .user = true, .global = false, .uncached = false};
    // Guest-physical addresses are not canonical linear addresses: 0x8000_0000_0000 is fine.
    ASSERT_TRUE(builder.map(0, 0x200000000ull, 4 * 1024 * 1024, ram));
    PhysAddr pa = 0;
    PageAttributes attrs;
    u64 size = 0;
    ASSERT_TRUE(builder.translate(0x201234, pa, attrs, size));
    EXPECT_EQ(pa, 0x200201234ull);
    EXPECT_EQ(size, 2u * 1024 * 1024);
    EXPECT_TRUE(attrs.writable && attrs.executable && !attrs.uncached);
    EXPECT_FALSE(builder.translate(0x400000, pa, attrs, size));
    builder.release();
}

TEST(EptFormat, OneGiBLeafNeedsTheCapability) {
    const PageAttributes ram{.writable = true, .executable = true, .user = true, .global = false, .uncached = false};
    // 1 GiB leaf in a PDPTE: bit 7, address bits 51:30 (SDM vol. 3C 29.3.2 table 29-2).
    EXPECT_EQ(EptFormat::make_leaf(3, 0x1c0000000ull, ram), 0x1c0000000ull | 0x7 | (6 << 3) | 0x80);
    EXPECT_EQ(EptFormat::leaf_address(0x1c0000000ull | 0x87 | (1ull << 29), 3), 0x1c0000000ull)
        << "bits 29:12 no address";
    EXPECT_TRUE(EptFormat::is_leaf(0x1c0000087ull, 3));
    EXPECT_FALSE(EptFormat::is_leaf(0x1c0000007ull, 3)) << "bit 7 clear: a PD pointer";
    EXPECT_TRUE(EptFormat::supports_1gib_pages(1ull << 17));
    EXPECT_FALSE(EptFormat::supports_1gib_pages(~(1ull << 17)));

    for (const bool huge : {false, true}) {
        FakeTables memory;
        PageTableBuilder<EptFormat, FakeTables> builder(memory, huge);
        ASSERT_TRUE(builder.create());
        ASSERT_TRUE(builder.map(0x40000000, 0x1c0000000ull, 0x40000000, ram));
        PhysAddr pa = 0;
        PageAttributes attrs;
        u64 size = 0;
        ASSERT_TRUE(builder.translate(0x7654321f, pa, attrs, size));
        EXPECT_EQ(pa, 0x1c0000000ull + 0x3654321f);
        EXPECT_EQ(size, huge ? 0x40000000u : 2u * 1024 * 1024);
        builder.release();
    }
}

}  // namespace
