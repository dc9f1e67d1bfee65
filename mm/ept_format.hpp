// The Intel EPT entry format (Intel SDM vol. 3C, 29.3.2, tables 29-1 to 29-6) as a format
// policy for the shared page-table builder (mm/page_table.hpp). Guest-physical addresses
// are not canonical linear addresses; memory type 6 (write-back) for guest RAM, 0 (UC)
// for pages marked uncached.
#pragma once

#include "mm/page_table.hpp"

struct EptFormat {
    // 2 MiB leaves in EPT PDEs and 1 GiB leaves in EPT PDPTEs (bit 7 set, address bits
    // 51:30, bits 29:12 reserved: SDM vol. 3C 29.3.2 table 29-2); make_leaf and
    // leaf_address below already handle level 3. A 1 GiB leaf is only valid when
    // IA32_VMX_EPT_VPID_CAP bit 17 is set (SDM vol. 3D A.10), so the builder's huge_pages
    // flag must come from supports_1gib_pages() for EPT.
    static constexpr u32 kMaxLeafLevel = 3;
    static constexpr bool kCanonicalAddresses = false;
    static constexpr u64 kEmpty = 0;
    static constexpr u64 kCap1GiBPages = 1ull << 17;  // in IA32_VMX_EPT_VPID_CAP (MSR 0x48c)

    static constexpr bool supports_1gib_pages(u64 ept_vpid_cap) { return (ept_vpid_cap & kCap1GiBPages) != 0; }

    static constexpr u64 kRead = 1ull << 0;
    static constexpr u64 kWrite = 1ull << 1;
    static constexpr u64 kExecute = 1ull << 2;
    static constexpr u64 kMemoryTypeShift = 3;  // bits 5:3 of a leaf
    static constexpr u64 kMemoryTypeWriteBack = 6;
    static constexpr u64 kLargePage = 1ull << 7;  // PDE (2 MiB) or PDPTE (1 GiB) maps a page
    static constexpr u64 kAddressMask = 0x000ffffffffff000ull;

    static constexpr u64 page_size(u32 level) { return 1ull << (12 + 9 * (level - 1)); }

    static constexpr u64 make_leaf(u32 level, PhysAddr pa, PageAttributes a) {
        u64 e = kRead | (pa & kAddressMask);
        if (level > 1) e |= kLargePage;
        if (a.writable) e |= kWrite;
        if (a.executable) e |= kExecute;
        if (!a.uncached) e |= kMemoryTypeWriteBack << kMemoryTypeShift;
        e |= (u64(a.software) << kSoftwareBitsShift) & kSoftwareBitsMask;
        return e;
    }
    // Non-leaf entries grant everything; the leaf decides (as in X86PagingFormat).
    static constexpr u64 make_table(PhysAddr table, u32 /*level*/) {
        return kRead | kWrite | kExecute | (table & kAddressMask);
    }
    // An EPT entry is present when any of R, W, X is set (SDM 29.3.2).
    static constexpr bool is_present(u64 e) { return (e & (kRead | kWrite | kExecute)) != 0; }
    static constexpr bool is_leaf(u64 e, u32 level) { return level == 1 || (e & kLargePage) != 0; }
    static constexpr PhysAddr leaf_address(u64 e, u32 level) { return e & kAddressMask & ~(page_size(level) - 1); }
    static constexpr PhysAddr table_address(u64 e) { return e & kAddressMask; }
    static constexpr PageAttributes attributes(u64 e, u32 /*level*/) {
        PageAttributes a;
        a.writable = (e & kWrite) != 0;
        a.executable = (e & kExecute) != 0;
        a.user = true;
        a.uncached = ((e >> kMemoryTypeShift) & 7) == 0;
        a.software = u8((e & kSoftwareBitsMask) >> kSoftwareBitsShift);
        return a;
    }
};
