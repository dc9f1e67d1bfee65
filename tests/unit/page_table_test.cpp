// PageTableBuilder with X86PagingFormat over fake table memory: large-page selection,
// splitting, merging, unmapping, translation, attribute encoding, argument checks,
// exhaustion and the W^X walk.
#include "mm/page_table.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "tests/unit/fake_table_memory.hpp"

namespace {

using Builder = PageTableBuilder<X86PagingFormat, FakeMemory>;

struct Leaf {
    VirtAddr va;
    PhysAddr pa;
    u64 size;
    PageAttributes attrs;
};

std::vector<Leaf> leaves(const Builder& b) {
    std::vector<Leaf> v;
    b.for_each_leaf([&](VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs) {
        v.push_back({va, pa, size, attrs});
    });
    return v;
}

constexpr PageAttributes kRw{.writable = true, .executable = false, .user = false, .global = false, .uncached = false};
constexpr PageAttributes kRx{.writable = false, .executable = true, .user = false, .global = true, .uncached = false};
constexpr PageAttributes kRo{.writable = false, .executable = false, .user = false, .global = true, .uncached = false};
constexpr PageAttributes kMmio{.writable = true, .executable = false, .user = false, .global = false, .uncached = true};

struct Translation {
    bool ok;
    PhysAddr pa;
    PageAttributes attrs;
    u64 size;
};

Translation translate(const Builder& b, VirtAddr va) {
    Translation t{};
    t.ok = b.translate(va, t.pa, t.attrs, t.size);
    return t;
}

TEST(PageTable, CreateAllocatesTheRootOnce) {
    FakeMemory memory;
    Builder b(memory);
    EXPECT_EQ(b.root(), Builder::kNoTable);
    ASSERT_TRUE(b.create());
    EXPECT_NE(b.root(), Builder::kNoTable);
    EXPECT_FALSE(b.create());
    EXPECT_EQ(memory.live(), 1u);
    EXPECT_TRUE(leaves(b).empty());
}

TEST(PageTable, CreateFailsWithoutMemory) {
    FakeMemory memory(0);
    Builder b(memory);
    EXPECT_FALSE(b.create());
    EXPECT_FALSE(b.map(0, 0, kPageSize, kRw));  // no root
    EXPECT_FALSE(b.unmap(0, kPageSize));
    Translation t = translate(b, 0);
    EXPECT_FALSE(t.ok);
}

TEST(PageTable, MapsASingleSmallPage) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x400000, 0x1234000, kPageSize, kRw));
    EXPECT_EQ(memory.live(), 4u);  // PML4, PDPT, PD, PT
    Translation t = translate(b, 0x400abc);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.pa, 0x1234abcu);
    EXPECT_EQ(t.size, kPageSize);
    EXPECT_EQ(t.attrs, kRw);
    EXPECT_FALSE(translate(b, 0x401000).ok);
    EXPECT_FALSE(translate(b, 0x3ff000).ok);
}

TEST(PageTable, UsesA2MiBPageWhenAligned) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x40000000, 2 * MiB, kRx));
    EXPECT_EQ(memory.live(), 3u);  // no page table below the PD
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].va, 0x200000u);
    EXPECT_EQ(l[0].pa, 0x40000000u);
    EXPECT_EQ(l[0].size, 2 * MiB);
    EXPECT_EQ(l[0].attrs, kRx);
    Translation t = translate(b, 0x3fffff);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.pa, 0x401fffffu);
    EXPECT_EQ(t.size, 2 * MiB);
}

TEST(PageTable, UsesA1GiBPageWhenAlignedAndSupported) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(kHugePageSize, 3 * kHugePageSize, kHugePageSize, kRw));
    EXPECT_EQ(memory.live(), 2u);
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].size, kHugePageSize);
    Translation t = translate(b, kHugePageSize + 0x12345678);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.pa, 3 * kHugePageSize + 0x12345678);
}

TEST(PageTable, FallsBackTo2MiBPagesWithout1GiBSupport) {
    FakeMemory memory;
    Builder b(memory, /*huge_pages=*/false);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(kHugePageSize, 3 * kHugePageSize, kHugePageSize, kRw));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 512u);
    for (usize i = 0; i < l.size(); ++i) {
        EXPECT_EQ(l[i].size, 2 * MiB);
        EXPECT_EQ(l[i].va, kHugePageSize + i * 2 * MiB);
        EXPECT_EQ(l[i].pa, 3 * kHugePageSize + i * 2 * MiB);
    }
}

TEST(PageTable, HugePagesCanBeDisabledAfterConstruction) {
    FakeMemory memory;
    Builder b(memory);
    b.set_huge_pages(false);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0, 0, kHugePageSize, kRw));
    EXPECT_EQ(leaves(b).size(), 512u);
    b.set_huge_pages(true);
    ASSERT_TRUE(b.map(kHugePageSize, kHugePageSize, kHugePageSize, kRw));
    EXPECT_EQ(leaves(b).size(), 513u);
}

TEST(PageTable, SmallPagesOnlyWhenLargePagesAreNotAllowed) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x200000, 2 * MiB, kMmio, /*allow_large_pages=*/false));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 512u);
    for (const Leaf& leaf : l) {
        EXPECT_EQ(leaf.size, kPageSize);
        EXPECT_EQ(leaf.va, leaf.pa);
        EXPECT_EQ(leaf.attrs, kMmio);
    }
}

TEST(PageTable, MixesPageSizesAcrossAnUnalignedRange) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    // 4 KiB head, two 2 MiB pages, 4 KiB tail.
    ASSERT_TRUE(b.map(0x1ff000, 0x80001ff000, 0x402000, kRw));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0].va, 0x1ff000u);
    EXPECT_EQ(l[0].size, kPageSize);
    EXPECT_EQ(l[1].va, 0x200000u);
    EXPECT_EQ(l[1].size, 2 * MiB);
    EXPECT_EQ(l[1].pa, 0x8000200000u);
    EXPECT_EQ(l[2].va, 0x400000u);
    EXPECT_EQ(l[2].size, 2 * MiB);
    EXPECT_EQ(l[3].va, 0x600000u);
    EXPECT_EQ(l[3].size, kPageSize);
    EXPECT_EQ(l[3].pa, 0x8000600000u);
}

TEST(PageTable, MisalignedPhysicalAddressForcesSmallPages) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x201000, 2 * MiB, kRw));  // VA aligned, PA not
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 512u);
    EXPECT_EQ(translate(b, 0x3ff123).pa, 0x400123u);
}

TEST(PageTable, LargeMappingAcrossAGiBBoundaryUsesEveryLevel) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(kHugePageSize - 2 * MiB - kPageSize, kHugePageSize - 2 * MiB - kPageSize,
                      kHugePageSize + 4 * MiB + 2 * kPageSize, kRw));
    std::map<u64, int> sizes;
    u64 total = 0;
    for (const Leaf& l : leaves(b)) {
        ++sizes[l.size];
        total += l.size;
        EXPECT_EQ(l.va, l.pa);
    }
    EXPECT_EQ(total, kHugePageSize + 4 * MiB + 2 * kPageSize);
    EXPECT_EQ(sizes[kHugePageSize], 1);
    EXPECT_EQ(sizes[2 * MiB], 2);
    EXPECT_EQ(sizes[kPageSize], 2);
}

TEST(PageTable, RemappingPartOfA2MiBPageSplitsItAndKeepsTheRest) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x600000, 2 * MiB, kRw));
    ASSERT_TRUE(b.map(0x205000, 0x9000000, kPageSize, kRx));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 512u);
    for (const Leaf& leaf : l) {
        EXPECT_EQ(leaf.size, kPageSize);
        if (leaf.va == 0x205000) {
            EXPECT_EQ(leaf.pa, 0x9000000u);
            EXPECT_EQ(leaf.attrs, kRx);
        } else {
            EXPECT_EQ(leaf.pa, leaf.va + 0x400000);
            EXPECT_EQ(leaf.attrs, kRw);
        }
    }
}

TEST(PageTable, SplittingA1GiBPageGoesDownOnlyAsFarAsNeeded) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    const PageAttributes global_rw{
        .writable = true, .executable = false, .user = true, .global = true, .uncached = true};
    ASSERT_TRUE(b.map(0, 0, kHugePageSize, global_rw));
    ASSERT_TRUE(b.map(0x12345000, 0x12345000, kPageSize, kRo));
    std::map<u64, int> sizes;
    for (const Leaf& l : leaves(b)) {
        ++sizes[l.size];
        EXPECT_EQ(l.va, l.pa);
        EXPECT_EQ(l.attrs, l.va == 0x12345000 ? kRo : global_rw) << std::hex << l.va;
    }
    EXPECT_EQ(sizes[2 * MiB], 511);
    EXPECT_EQ(sizes[kPageSize], 512);
}

TEST(PageTable, RemapReplacesAttributesAndTarget) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x200000, 2 * MiB, kRw));
    ASSERT_TRUE(b.map(0x200000, 0x800000, 2 * MiB, kRo));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].pa, 0x800000u);
    EXPECT_EQ(l[0].attrs, kRo);
}

TEST(PageTable, LargeRemapOverSmallPagesReusesTheTable) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x200000, 2 * MiB, kRw, false));
    const usize tables = memory.live();
    ASSERT_TRUE(b.map(0x200000, 0xa00000, 2 * MiB, kRo, true));
    EXPECT_EQ(memory.live(), tables);  // the page table stays (it may still be walked)
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 512u);
    for (const Leaf& leaf : l) {
        EXPECT_EQ(leaf.pa, leaf.va + 0x800000);
        EXPECT_EQ(leaf.attrs, kRo);
    }
}

TEST(PageTable, UnmapRemovesWholeAndPartialLargePages) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0, 0, 8 * MiB, kRw));
    ASSERT_TRUE(b.unmap(2 * MiB, 2 * MiB));                // a whole 2 MiB page
    ASSERT_TRUE(b.unmap(4 * MiB + kPageSize, kPageSize));  // one page out of the next one
    EXPECT_FALSE(translate(b, 2 * MiB).ok);
    EXPECT_FALSE(translate(b, 4 * MiB - 1).ok);
    EXPECT_FALSE(translate(b, 4 * MiB + kPageSize).ok);
    Translation t = translate(b, 4 * MiB);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.size, kPageSize);
    EXPECT_EQ(t.attrs, kRw);
    t = translate(b, 4 * MiB + 2 * kPageSize);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.pa, 4 * MiB + 2 * kPageSize);
    t = translate(b, 6 * MiB);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.size, 2 * MiB);
    u64 mapped = 0;
    for (const Leaf& l : leaves(b)) mapped += l.size;
    EXPECT_EQ(mapped, 8 * MiB - 2 * MiB - kPageSize);
}

TEST(PageTable, UnmapOfUnmappedMemoryIsANoOp) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    EXPECT_TRUE(b.unmap(0x40000000, kHugePageSize));
    EXPECT_EQ(memory.live(), 1u);
    ASSERT_TRUE(b.map(0x1000, 0x1000, kPageSize, kRw));
    EXPECT_TRUE(b.unmap(0, 4 * MiB));
    EXPECT_TRUE(leaves(b).empty());
}

TEST(PageTable, RejectsBadArgumentsWithoutTouchingTables) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    const usize before = memory.allocations();
    EXPECT_FALSE(b.map(0x1001, 0x1000, kPageSize, kRw));                // VA misaligned
    EXPECT_FALSE(b.map(0x1000, 0x1800, kPageSize, kRw));                // PA misaligned
    EXPECT_FALSE(b.map(0x1000, 0x1000, 0x800, kRw));                    // size misaligned
    EXPECT_FALSE(b.map(0x1000, 0x1000, 0, kRw));                        // empty
    EXPECT_FALSE(b.map(0x0000800000000000ull, 0, kPageSize, kRw));      // non-canonical
    EXPECT_FALSE(b.map(0xffff7ffffffff000ull, 0, kPageSize, kRw));      // non-canonical
    EXPECT_FALSE(b.map(0x00007ffffffff000ull, 0, 2 * kPageSize, kRw));  // runs into the hole
    EXPECT_FALSE(b.map(0xfffffffffffff000ull, 0, 2 * kPageSize, kRw));  // wraps past 2^64
    EXPECT_FALSE(b.map(0x1000, 1ull << 52, kPageSize, kRw));            // beyond MAXPHYADDR
    EXPECT_FALSE(b.map(0x1000, (1ull << 52) - kPageSize, 2 * kPageSize, kRw));
    EXPECT_FALSE(b.map(0x1000, ~0ull & ~0xfffull, 2 * kPageSize, kRw));  // PA range wraps
    EXPECT_FALSE(b.unmap(0x1001, kPageSize));
    EXPECT_FALSE(b.unmap(0x0000800000000000ull, kPageSize));
    EXPECT_FALSE(b.unmap(0x1000, 0));
    EXPECT_EQ(memory.allocations(), before);
    PhysAddr pa;
    PageAttributes attrs;
    u64 size;
    EXPECT_FALSE(b.translate(0x0000800000000000ull, pa, attrs, size));
}

TEST(PageTable, UpperHalfAddressesAreSignExtended) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0xffffffff80000000ull, 0x200000, 2 * MiB, kRx));  // kernel image
    ASSERT_TRUE(b.map(0xffff800000000000ull, 0, kHugePageSize, kRw));   // direct map
    ASSERT_TRUE(b.map(0xfffffffffffff000ull, 0x5000, kPageSize, kRo));  // very last page
    ASSERT_TRUE(b.map(0x00007ffffffff000ull, 0x6000, kPageSize, kRo));  // last lower-half page
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0].va, 0x00007ffffffff000ull);
    EXPECT_EQ(l[1].va, 0xffff800000000000ull);
    EXPECT_EQ(l[2].va, 0xffffffff80000000ull);
    EXPECT_EQ(l[3].va, 0xfffffffffffff000ull);
    Translation t = translate(b, 0xffffffff80001234ull);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.pa, 0x201234u);
    EXPECT_EQ(translate(b, 0xffffffffffffffffull).pa, 0x5fffu);
    EXPECT_TRUE(b.unmap(0xfffffffffffff000ull, kPageSize));
    EXPECT_FALSE(translate(b, 0xfffffffffffff000ull).ok);
}

TEST(PageTable, ExhaustionFailsCleanly) {
    FakeMemory memory(3);
    Builder b(memory);
    ASSERT_TRUE(b.create());
    EXPECT_FALSE(b.map(0x1000, 0x1000, kPageSize, kRw));  // needs a fourth table
    EXPECT_FALSE(translate(b, 0x1000).ok);
    ASSERT_TRUE(b.map(0x200000, 0x200000, 2 * MiB, kRw));  // fits in the two tables there
    EXPECT_EQ(translate(b, 0x200000).size, 2 * MiB);
}

TEST(PageTable, FailedSplitLeavesTheLargePageIntact) {
    FakeMemory memory(3);
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x200000, 0x200000, 2 * MiB, kRw));
    EXPECT_FALSE(b.map(0x201000, 0x900000, kPageSize, kRo));  // the split needs a table
    EXPECT_FALSE(b.unmap(0x201000, kPageSize));
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].size, 2 * MiB);
    EXPECT_EQ(l[0].pa, 0x200000u);
    EXPECT_EQ(l[0].attrs, kRw);
    memory.set_limit(4);
    EXPECT_TRUE(b.map(0x201000, 0x900000, kPageSize, kRo));
    EXPECT_EQ(translate(b, 0x201000).pa, 0x900000u);
}

TEST(PageTable, EntryEncodingFollowsTheSdm) {
    using F = X86PagingFormat;
    // 4 KiB, writable, user, global, uncached, executable.
    const PageAttributes all{.writable = true, .executable = true, .user = true, .global = true, .uncached = true};
    EXPECT_EQ(F::make_leaf(1, 0x123456000, all), 0x123456000ull | 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x100);
    // Read-only, not executable: XD (bit 63) set, R/W clear.
    EXPECT_EQ(F::make_leaf(1, 0x1000, PageAttributes{}), 0x1000ull | 0x1 | (1ull << 63));
    // Large pages carry PS (bit 7).
    EXPECT_EQ(F::make_leaf(2, 0x200000, kRx), 0x200000ull | 0x1 | 0x80 | 0x100);
    EXPECT_EQ(F::make_leaf(3, 0x40000000, kRw), 0x40000000ull | 0x1 | 0x2 | 0x80 | (1ull << 63));
    // Tables: present, writable, user; never XD, so the leaf alone decides.
    EXPECT_EQ(F::make_table(0x5000, 2), 0x5000ull | 0x7);
    EXPECT_TRUE(F::is_leaf(0x1, 1));
    EXPECT_FALSE(F::is_leaf(0x1, 2));
    EXPECT_TRUE(F::is_leaf(0x81, 2));
    EXPECT_FALSE(F::is_present(0x80));
    // Bit 12 of a large entry is PAT, not address; bits 52..62 are not address either.
    EXPECT_EQ(F::leaf_address(0x200000ull | 0x1000 | 0x81, 2), 0x200000u);
    EXPECT_EQ(F::leaf_address(0x40000000ull | 0x1000 | 0x81, 3), 0x40000000u);
    EXPECT_EQ(F::leaf_address(0x7ff0000000003001ull, 1), 0x3000u);
    EXPECT_EQ(F::table_address(0x8000000000005067ull), 0x5000u);
    EXPECT_EQ(F::attributes(F::make_leaf(2, 0x200000, all), 2), all);
    EXPECT_EQ(F::attributes(F::make_leaf(1, 0x1000, kMmio), 1), kMmio);
}

TEST(PageTable, TableEntriesInTheTreeGrantEverything) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0x1000, 0x1000, kPageSize, kRo));
    const u64 pml4e = memory.table(b.root())[0];
    EXPECT_EQ(pml4e & 0xfff, 0x7u);
    EXPECT_EQ(pml4e >> 63, 0u);
    const u64 pdpte = memory.table(X86PagingFormat::table_address(pml4e))[0];
    EXPECT_EQ(pdpte & 0xfff, 0x7u);
    const u64 pde = memory.table(X86PagingFormat::table_address(pdpte))[0];
    const u64 pte = memory.table(X86PagingFormat::table_address(pde))[1];
    EXPECT_EQ(pte, 0x1000ull | 0x1 | 0x100 | (1ull << 63));
}

// The kernel's check after building its tables: no page both writable and executable.
TEST(PageTable, WalkFindsWriteXorExecuteViolations) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0xffffffff80200000ull, 0x200000, 0x5000, kRx));   // text
    ASSERT_TRUE(b.map(0xffffffff80205000ull, 0x205000, 0x3000, kRo));   // rodata
    ASSERT_TRUE(b.map(0xffffffff80208000ull, 0x208000, 0x10000, kRw));  // data
    ASSERT_TRUE(b.map(0xffff800000000000ull, 0, 4 * GiB, kRw));         // direct map
    auto violations = [&] {
        std::vector<VirtAddr> bad;
        u64 mapped = 0;
        b.for_each_leaf([&](VirtAddr va, PhysAddr, u64 size, PageAttributes a) {
            mapped += size;
            if (a.writable && a.executable) bad.push_back(va);
        });
        EXPECT_EQ(mapped, 0x5000u + 0x3000u + 0x10000u + 4 * GiB);
        return bad;
    };
    EXPECT_TRUE(violations().empty());
    const PageAttributes rwx{.writable = true, .executable = true, .user = false, .global = false, .uncached = false};
    ASSERT_TRUE(b.map(0xffffffff80209000ull, 0x209000, kPageSize, rwx));
    const auto bad = violations();
    ASSERT_EQ(bad.size(), 1u);
    EXPECT_EQ(bad[0], 0xffffffff80209000ull);
}

TEST(PageTable, ReleaseFreesEveryTable) {
    FakeMemory memory;
    {
        Builder b(memory);
        ASSERT_TRUE(b.create());
        ASSERT_TRUE(b.map(0, 0, 3 * GiB, kRw));
        ASSERT_TRUE(b.map(0x1000, 0x1000, kPageSize, kRo));
        ASSERT_TRUE(b.map(0xffffffff80000000ull, 0x200000, 0x3000, kRx));
        EXPECT_GT(memory.live(), 4u);
        b.release();
        EXPECT_EQ(b.root(), Builder::kNoTable);
        b.release();  // nothing left: no-op
    }
    EXPECT_EQ(memory.live(), 0u);
}

// The table below the entry that maps `va` at `level` (4 = the root's entry).
PhysAddr table_at(FakeMemory& memory, const Builder& b, VirtAddr va, u32 level) {
    PhysAddr t = b.root();
    for (u32 l = 4; l >= level; --l)
        t = X86PagingFormat::table_address(memory.table(t)[(va >> (12 + 9 * (l - 1))) & 511]);
    return t;
}

TEST(PageTable, MergeHandsDetachedTablesToTheCallerAndFreesNothing) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(kHugePageSize, 3 * kHugePageSize, kHugePageSize, kRw));
    ASSERT_TRUE(b.map(kHugePageSize + 0x5000, 3 * kHugePageSize + 0x5000, kPageSize, kRo));  // splits twice
    const PhysAddr pd = table_at(memory, b, kHugePageSize, 3);
    const PhysAddr pt = table_at(memory, b, kHugePageSize, 2);
    ASSERT_EQ(memory.live(), 4u);
    std::vector<PhysAddr> retired;
    auto retire = [&](PhysAddr t) {
        retired.push_back(t);
        return true;
    };
    EXPECT_EQ(b.merge(kHugePageSize, kHugePageSize, retire), 0u) << "one page differs";
    ASSERT_TRUE(b.map(kHugePageSize + 0x5000, 3 * kHugePageSize + 0x5000, kPageSize, kRw));
    EXPECT_EQ(b.merge(kHugePageSize + 0x5000, kPageSize, retire), 2u);
    EXPECT_EQ(retired, (std::vector<PhysAddr>{pt, pd})) << "bottom-up";
    EXPECT_EQ(memory.live(), 4u) << "nothing freed: the caller frees after its flush";
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].size, kHugePageSize);
    EXPECT_EQ(l[0].pa, 3 * kHugePageSize);
    EXPECT_EQ(l[0].attrs, kRw);
    for (PhysAddr t : retired) memory.free_table(t);
    b.release();
    EXPECT_EQ(memory.live(), 0u) << "release() does not free the detached tables again";
}

TEST(PageTable, MergeStopsWhereRetireRefuses) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0, 0, 4 * MiB, kRw, /*allow_large_pages=*/false));
    EXPECT_EQ(b.merge(0, 4 * MiB, [](PhysAddr) { return false; }), 0u);
    EXPECT_EQ(leaves(b).size(), 1024u) << "both tables stay";
    int calls = 0;
    EXPECT_EQ(b.merge(0, 4 * MiB, [&](PhysAddr) { return ++calls == 1; }), 1u);
    const auto l = leaves(b);
    ASSERT_EQ(l.size(), 513u);
    EXPECT_EQ(l[0].size, 2 * MiB);
    EXPECT_EQ(l[1].size, kPageSize);
}

TEST(PageTable, MergeIgnoresAccessedAndDirtyBits) {
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(0, 0, 2 * MiB, kRw, /*allow_large_pages=*/false));
    u64* pt = memory.table(table_at(memory, b, 0, 2));
    pt[7] |= 1ull << 5 | 1ull << 6;  // accessed and dirty, set by the CPU's walks (SDM vol. 3A 4.8)
    std::vector<PhysAddr> retired;
    auto retire = [&](PhysAddr t) {
        retired.push_back(t);
        return true;
    };
    EXPECT_EQ(b.merge(0, 2 * MiB, retire), 1u);
    Translation t = translate(b, 0x7000);
    ASSERT_TRUE(t.ok);
    EXPECT_EQ(t.size, 2 * MiB);
    EXPECT_EQ(t.attrs, kRw);
    for (PhysAddr r : retired) memory.free_table(r);
    b.release();
}

TEST(PageTable, MergeDoesNotMakeA1GiBLeafWithoutHugePages) {
    FakeMemory memory;
    Builder b(memory, /*huge_pages=*/false);
    ASSERT_TRUE(b.create());
    ASSERT_TRUE(b.map(kHugePageSize, 3 * kHugePageSize, kHugePageSize, kRw));
    EXPECT_EQ(b.merge(kHugePageSize, kHugePageSize, [](PhysAddr) { return true; }), 0u);
    EXPECT_EQ(leaves(b).size(), 512u);
    b.set_huge_pages(true);
    std::vector<PhysAddr> retired;
    EXPECT_EQ(b.merge(kHugePageSize, kHugePageSize,
                      [&](PhysAddr t) {
                          retired.push_back(t);
                          return true;
                      }),
              1u);
    EXPECT_EQ(leaves(b).size(), 1u);
    for (PhysAddr r : retired) memory.free_table(r);
    b.release();
    EXPECT_EQ(memory.live(), 0u);
}

// Random maps and unmaps in a window spanning a 1 GiB boundary, checked page by page
// against a model, and the leaves the walk reports against the same model.
TEST(PageTable, RandomizedAgainstAModel) {
    struct Page {
        PhysAddr pa;
        PageAttributes attrs;
    };
    constexpr VirtAddr kWindow = kHugePageSize - 8 * MiB;
    constexpr u64 kWindowPages = 16 * MiB / kPageSize;
    FakeMemory memory;
    Builder b(memory);
    ASSERT_TRUE(b.create());
    std::map<u64, Page> model;  // page index in the window -> mapping
    std::mt19937_64 rng(2024);
    const PageAttributes choices[] = {kRw, kRx, kRo, kMmio};
    bool saw_large_page = false;
    for (int op = 0; op < 400; ++op) {
        // Sizes and offsets biased towards 2 MiB multiples so that large pages appear.
        const bool big = rng() % 2;
        const u64 first = big ? (rng() % 8) * 512 : rng() % kWindowPages;
        u64 count = big ? 512 * (1 + rng() % 3) : 1 + rng() % 700;
        if (first + count > kWindowPages) count = kWindowPages - first;
        const VirtAddr va = kWindow + first * kPageSize;
        if (rng() % 3) {
            const PhysAddr pa = (big ? (rng() % 64) * 2 * MiB : (rng() % 100000) * kPageSize) + 0x100000000ull;
            const PageAttributes attrs = choices[rng() % 4];
            ASSERT_TRUE(b.map(va, pa, count * kPageSize, attrs, rng() % 4 != 0));
            for (u64 i = 0; i < count; ++i) model[first + i] = {pa + i * kPageSize, attrs};
        } else {
            ASSERT_TRUE(b.unmap(va, count * kPageSize));
            for (u64 i = 0; i < count; ++i) model.erase(first + i);
        }
        if (op % 20 == 19 || op == 399) {
            for (u64 page = 0; page < kWindowPages; ++page) {
                const Translation t = translate(b, kWindow + page * kPageSize + 0x18);
                const auto it = model.find(page);
                ASSERT_EQ(t.ok, it != model.end()) << "op " << op << " page " << page;
                if (t.ok) {
                    ASSERT_EQ(t.pa, it->second.pa + 0x18);
                    ASSERT_EQ(t.attrs, it->second.attrs);
                }
            }
            u64 leaf_pages = 0;
            for (const Leaf& l : leaves(b)) {
                ASSERT_TRUE(is_aligned(l.va, l.size) && is_aligned(l.pa, l.size));
                saw_large_page |= l.size > kPageSize;
                for (u64 off = 0; off < l.size; off += kPageSize) {
                    const auto it = model.find((l.va + off - kWindow) / kPageSize);
                    ASSERT_NE(it, model.end());
                    ASSERT_EQ(it->second.pa, l.pa + off);
                    ++leaf_pages;
                }
            }
            ASSERT_EQ(leaf_pages, model.size());
        }
    }
    EXPECT_TRUE(saw_large_page);
}

TEST(PageTableFormats, SoftwareBitsRoundTripAndLeaveTheAddressAlone) {
    for (u8 bits = 0; bits < 8; ++bits) {
        PageAttributes a;
        a.writable = true;
        a.software = bits;
        const u64 x86 = X86PagingFormat::make_leaf(1, 0x000ffffffffff000ull, a);
        EXPECT_EQ(X86PagingFormat::attributes(x86, 1).software, bits);
        EXPECT_EQ(X86PagingFormat::leaf_address(x86, 1), 0x000ffffffffff000ull);
        EXPECT_EQ((x86 >> 52) & 7, bits) << "bits 54:52, ignored by the MMU";
    }
    PageAttributes a;
    a.software = 9;  // only three bits
    EXPECT_EQ(X86PagingFormat::attributes(X86PagingFormat::make_leaf(1, 0, a), 1).software, 1);
}

}  // namespace
