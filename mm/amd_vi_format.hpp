// The AMD I/O page table entry format for host translations (AMD I/O Virtualization
// Technology (IOMMU) Specification, 48882 rev. 3.x, 2.2.3 "I/O Page Tables for Host
// Translations", the PDE and PTE figures) as a format policy for the shared page-table
// builder (mm/page_table.hpp), which also builds the CPU's tables, AMD NPT and Intel EPT.
//
// An entry: PR (bit 0), Next Level (bits 11:9: the level of the table it points to, 0 in
// a PTE or in a PDE that maps a large page), the address (bits 51:12), IR (bit 61: reads
// allowed) and IW (bit 62: writes allowed). Permissions combine across levels like the
// CPU's, so tables allow both and the leaf decides. Bits 58:52 are reserved: no software
// bits here (PageAttributes::software must be 0), and no execute or cache attribute.
// Level 2 and 3 entries with Next Level 0 map 2 MiB and 1 GiB pages.
#pragma once

#include "mm/page_table.hpp"

struct AmdViFormat {
    static constexpr u32 kMaxLeafLevel = 3;
    // Device (bus) addresses, not linear addresses.
    static constexpr bool kCanonicalAddresses = false;

    static constexpr u64 kPresent = 1ull << 0;
    static constexpr u32 kNextLevelShift = 9;
    static constexpr u64 kNextLevelMask = 7ull << kNextLevelShift;
    static constexpr u64 kAddressMask = 0x000ffffffffff000ull;
    static constexpr u64 kReadable = 1ull << 61;  // IR
    static constexpr u64 kWritable = 1ull << 62;  // IW

    // An entry that maps nothing. With PR = 0 the IOMMU ignores every other bit (48882
    // 2.2.3), and any access through it is an IO_PAGE_FAULT it logs. The Next Level of 1
    // costs nothing on hardware and makes QEMU's model log the fault too: its walk
    // (hw/i386/amd_iommu.c, amdvi_page_walk) stops without an event at an all-zero entry
    // but checks PR of an entry whose Next Level is nonzero.
    static constexpr u64 kEmpty = 1ull << kNextLevelShift;

    static constexpr u64 page_size(u32 level) { return 1ull << (12 + 9 * (level - 1)); }

    static constexpr u64 make_leaf(u32 /*level*/, PhysAddr pa, PageAttributes a) {
        u64 e = kPresent | kReadable | (pa & kAddressMask);
        if (a.writable) e |= kWritable;
        return e;  // Next Level 0: a page, of the size of its level
    }
    static constexpr u64 make_table(PhysAddr table, u32 level) {
        return kPresent | kReadable | kWritable | (u64(level - 1) << kNextLevelShift) | (table & kAddressMask);
    }
    static constexpr bool is_present(u64 e) { return (e & kPresent) != 0; }
    static constexpr bool is_leaf(u64 e, u32 level) { return level == 1 || (e & kNextLevelMask) == 0; }
    static constexpr PhysAddr leaf_address(u64 e, u32 level) { return e & kAddressMask & ~(page_size(level) - 1); }
    static constexpr PhysAddr table_address(u64 e) { return e & kAddressMask; }
    static constexpr PageAttributes attributes(u64 e, u32 /*level*/) {
        PageAttributes a;
        a.writable = (e & kWritable) != 0;
        a.user = true;
        return a;
    }
};
