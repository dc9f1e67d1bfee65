// A builder of x86-64 4-level page tables, independent of where table memory comes from
// and of the entry format, so the same walker serves the hypervisor's own tables
// (X86PagingFormat below), AMD nested page tables (the same format, AMD APM vol. 2
// 15.25 "Nested Paging") and Intel EPT (another format, Intel SDM vol. 3C "EPT
// Translation Mechanism").
//
// Format policy (all static):
//   kMaxLeafLevel, kCanonicalAddresses,
//   u64 kEmpty (what an entry that maps nothing holds: 0 in the CPU formats),
//   u64 make_leaf(u32 level, PhysAddr, PageAttributes),
//   u64 make_table(PhysAddr table, u32 level)  (an entry at `level` pointing to `table`),
//   bool is_present(u64), bool is_leaf(u64, u32 level), PhysAddr leaf_address(u64, u32 level),
//   PhysAddr table_address(u64), PageAttributes attributes(u64, u32 level).
// Memory policy (an object the builder references):
//   PhysAddr alloc_table()  a zeroed, 4 KiB aligned 4 KiB table, or ~0ull when exhausted;
//   u64* table(PhysAddr)    where the table's 512 entries can be written;
//   void free_table(PhysAddr)  only needed by release().
//
// Levels are numbered as the walk goes: 4 = PML4, 3 = PDPT (1 GiB leaves), 2 = PD
// (2 MiB leaves), 1 = PT (4 KiB leaves) (Intel SDM vol. 3A 4.5).
//
// The builder never flushes TLBs: after changing tables that are in use (loaded in CR3,
// or reachable from a VMCB/VMCS), the caller invalidates (Intel SDM vol. 3A 4.10.4;
// splitting a large page is the case of 4.10.2.3, where both sizes may be cached).
// Table memory is never freed while tables may be live: unmap keeps emptied tables;
// release() frees everything once the tables are no longer used; merge() takes tables out
// of the tree but hands them to the caller instead of freeing them, because a CPU may
// still hold a pointer to them in its paging-structure caches (SDM vol. 3A 4.10.3) and
// walk them until the caller has invalidated (SDM vol. 3A 4.10.4).
#pragma once

#include "kernel/types.hpp"

struct PageAttributes {
    bool writable = false;
    bool executable = false;
    bool user = false;
    bool global = false;
    bool uncached = false;
    // Three bits for the owner's own use, kept in bits 54:52 of a leaf, which the MMU
    // ignores in both formats (SDM vol. 3A 4.5 tables 4-19 to 4-20, "ignored"; SDM vol.
    // 3C 29.3.2, EPT bits 63:52 other than 63 ignored without #VE; APM vol. 2 5.4.1
    // "available"). The p2m keeps its entry types there (mm/p2m.hpp).
    u8 software = 0;

    constexpr bool operator==(const PageAttributes&) const = default;
};

// Where PageAttributes::software lives in a leaf, in either format.
inline constexpr u32 kSoftwareBitsShift = 52;
inline constexpr u64 kSoftwareBitsMask = 7ull << kSoftwareBitsShift;

// Ordinary 4-level paging entries (Intel SDM vol. 3A 4.5, the PML4E/PDPTE/PDE/PTE format
// tables; AMD APM vol. 2 5.3.3). The XD bit (63) requires IA32_EFER.NXE = 1; otherwise it
// is a reserved bit and every non-executable page faults (SDM vol. 3A 4.1.4), so these
// tables may only be loaded with NXE set.
struct X86PagingFormat {
    static constexpr u32 kMaxLeafLevel = 3;            // 1 GiB pages in the PDPT (CPUID Page1GB)
    static constexpr bool kCanonicalAddresses = true;  // inputs are linear addresses
    static constexpr u64 kEmpty = 0;

    static constexpr u64 kPresent = 1ull << 0;
    static constexpr u64 kWritable = 1ull << 1;
    static constexpr u64 kUser = 1ull << 2;
    static constexpr u64 kWriteThrough = 1ull << 3;  // PWT
    static constexpr u64 kCacheDisable = 1ull << 4;  // PCD
    static constexpr u64 kLargePage = 1ull << 7;     // PS, levels 2 and 3 only
    static constexpr u64 kGlobal = 1ull << 8;
    static constexpr u64 kNoExecute = 1ull << 63;               // XD
    static constexpr u64 kAddressMask = 0x000ffffffffff000ull;  // bits 51:12 (MAXPHYADDR <= 52)

    static constexpr u64 page_size(u32 level) { return 1ull << (12 + 9 * (level - 1)); }

    static constexpr u64 make_leaf(u32 level, PhysAddr pa, PageAttributes a) {
        u64 e = kPresent | (pa & kAddressMask);
        if (level > 1) e |= kLargePage;
        if (a.writable) e |= kWritable;
        if (a.user) e |= kUser;
        if (a.global) e |= kGlobal;
        // PCD = PWT = 1 selects PAT entry 3, which is UC in the power-up PAT (Intel SDM
        // vol. 3A "Selecting a Memory Type from the PAT"); the PAT bit stays 0.
        if (a.uncached) e |= kCacheDisable | kWriteThrough;
        if (!a.executable) e |= kNoExecute;
        e |= (u64(a.software) << kSoftwareBitsShift) & kSoftwareBitsMask;
        return e;
    }

    // Access rights combine across levels: a write needs R/W = 1 at every level, a user
    // access U/S = 1 at every level, and XD = 1 anywhere forbids fetches (SDM vol. 3A
    // 4.6.1). Non-leaf entries therefore grant everything and the leaf alone decides, so a
    // split or a remap only ever has to change leaves.
    static constexpr u64 make_table(PhysAddr table, u32 /*level*/) {
        return kPresent | kWritable | kUser | (table & kAddressMask);
    }

    static constexpr bool is_present(u64 e) { return (e & kPresent) != 0; }
    static constexpr bool is_leaf(u64 e, u32 level) { return level == 1 || (e & kLargePage) != 0; }
    // In 2 MiB and 1 GiB entries bit 12 is the PAT bit, not an address bit (SDM vol. 3A
    // 4.5, PDPTE/PDE formats), so the address mask depends on the level.
    static constexpr PhysAddr leaf_address(u64 e, u32 level) { return e & kAddressMask & ~(page_size(level) - 1); }
    static constexpr PhysAddr table_address(u64 e) { return e & kAddressMask; }
    static constexpr PageAttributes attributes(u64 e, u32 /*level*/) {
        PageAttributes a;
        a.writable = (e & kWritable) != 0;
        a.executable = (e & kNoExecute) == 0;
        a.user = (e & kUser) != 0;
        a.global = (e & kGlobal) != 0;
        a.uncached = (e & kCacheDisable) != 0;
        a.software = u8((e & kSoftwareBitsMask) >> kSoftwareBitsShift);
        return a;
    }
};

template <typename Format, typename Memory>
class PageTableBuilder {
public:
    static constexpr PhysAddr kNoTable = ~0ull;
    static constexpr u32 kLevels = 4;
    static constexpr u64 kEntries = 512;
    // Largest table-output address + 1 (SDM vol. 3A 4.1.4: MAXPHYADDR is at most 52).
    static constexpr PhysAddr kPhysLimit = 1ull << 52;

    // huge_pages: whether 1 GiB leaves may be used: CPUID.80000001H:EDX.Page1GB[bit 26]
    // for ordinary paging and AMD nested paging, IA32_VMX_EPT_VPID_CAP bit 17 for EPT
    // (SDM vol. 3D A.10). Formats whose kMaxLeafLevel is below 3 never use them.
    constexpr explicit PageTableBuilder(Memory& memory, bool huge_pages = true)
        : memory_(memory), huge_pages_(huge_pages) {}
    PageTableBuilder(const PageTableBuilder&) = delete;
    PageTableBuilder& operator=(const PageTableBuilder&) = delete;

    // For builders constructed before CPUID was read (e.g. as globals): later maps use 1 GiB
    // leaves only when enabled. Without CPU support a 1 GiB PDPTE has a reserved bit set.
    void set_huge_pages(bool enabled) { huge_pages_ = enabled; }

    static constexpr u64 page_size(u32 level) { return 1ull << (12 + 9 * (level - 1)); }

    // Allocates the empty root table (PML4). False when memory is exhausted or a root
    // already exists.
    bool create() {
        if (root_ != kNoTable) return false;
        const PhysAddr t = memory_.alloc_table();
        if (t == kNoTable) return false;
        clear_table(t);
        root_ = t;
        return true;
    }

    PhysAddr root() const { return root_; }

    // Maps [va, va + size) to [pa, pa + size), replacing whatever was mapped there. va, pa
    // and size must be 4 KiB aligned, size > 0, the VA range valid (canonical, in one half
    // of the address space) and the PA range below 2^52; otherwise returns false before
    // changing anything. Uses 1 GiB / 2 MiB leaves where va, pa and the remaining size
    // allow it and allow_large_pages is set; a large leaf of which only a part is remapped
    // is first split into 512 smaller leaves with its attributes. Returns false when table
    // memory runs out: the tables are then still consistent (a split leaf is installed only
    // once completely filled), with the part of the range before the failure remapped.
    bool map(VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs, bool allow_large_pages = true) {
        if (root_ == kNoTable || !valid_range(va, size) || !is_aligned(pa, kPageSize)) return false;
        if (pa >= kPhysLimit || size > kPhysLimit - pa) return false;
        return map_level(root_, kLevels, va, pa, size, attrs, allow_large_pages);
    }

    // Removes every mapping in [va, va + size) (same argument rules as map); unmapped parts
    // are fine. Large leaves partly inside the range are split first, so this can fail
    // with false when table memory runs out (the rest of the range stays mapped then).
    bool unmap(VirtAddr va, u64 size) {
        if (root_ == kNoTable || !valid_range(va, size)) return false;
        return unmap_level(root_, kLevels, va, size);
    }

    // The physical address `va` maps to, with its leaf's attributes and size.
    bool translate(VirtAddr va, PhysAddr& pa, PageAttributes& attrs, u64& page_size_out) const {
        if (root_ == kNoTable || !valid_address(va)) return false;
        PhysAddr table = root_;
        for (u32 level = kLevels; level >= 1; --level) {
            const u64 e = memory_.table(table)[index(va, level)];
            if (!Format::is_present(e)) {
                page_size_out = page_size(level);  // all of it unmapped: callers may skip it
                return false;
            }
            if (Format::is_leaf(e, level)) {
                const u64 size = page_size(level);
                pa = Format::leaf_address(e, level) + (va & (size - 1));
                attrs = Format::attributes(e, level);
                page_size_out = size;
                return true;
            }
            table = Format::table_address(e);
        }
        return false;  // unreachable: level 1 entries are always leaves
    }

    // Calls f(VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs) for every leaf, in
    // ascending table order; with canonical addresses the upper half's VAs come out
    // sign-extended (0xffff8000'00000000 and up).
    template <typename F>
    void for_each_leaf(F f) const {
        if (root_ != kNoTable) walk(root_, kLevels, 0, f);
    }

    // The reverse of a split: every table that maps part of [va, va + size) (same argument
    // rules as unmap) and whose 512 entries are leaves with identical attributes mapping
    // one contiguous range aligned to the parent entry's size is replaced by one leaf of
    // that size, where a leaf is allowed there (1 GiB ones only with huge_pages).
    // Bottom-up, so 4 KiB leaves can end in a 1 GiB leaf. Translations do not change, only
    // their page size: the TLBs may then hold both sizes and use either (SDM vol. 3A
    // 4.10.2.3), harmless because frame and attributes are the same. A detached table is not
    // freed: retire(PhysAddr) takes it, or returns false when it cannot, which stops the
    // merge before that table is detached. Returns how many tables were detached; the
    // caller frees them only after invalidating on every CPU that may have walked them.
    // keep_split(attrs): leaves with these attributes stay as they are, mergeable or not.
    struct MergeAll {
        bool operator()(const PageAttributes&) const { return false; }
    };
    template <typename Retire, typename KeepSplit = MergeAll>
    u64 merge(VirtAddr va, u64 size, Retire retire, KeepSplit keep_split = {}) {
        if (root_ == kNoTable || !valid_range(va, size)) return 0;
        u64 merged = 0;
        merge_level(root_, kLevels, va, size, retire, keep_split, merged);
        return merged;
    }

    // Frees every table, root included, through Memory::free_table. Only for tables no CPU
    // (or guest) can still walk.
    void release() {
        if (root_ == kNoTable) return;
        release_level(root_, kLevels);
        root_ = kNoTable;
    }

private:
    static constexpr u64 kLowerHalfEnd = 1ull << 47;               // 48-bit linear addresses
    static constexpr u64 kUpperHalfStart = 0xffff800000000000ull;  // SDM vol. 1 3.3.7.1
    static constexpr u64 kInputLimit = 1ull << 48;                 // non-canonical formats (guest-physical)

    static constexpr usize index(VirtAddr va, u32 level) { return (va >> (12 + 9 * (level - 1))) & (kEntries - 1); }

    static constexpr bool valid_address(VirtAddr va) {
        if (Format::kCanonicalAddresses) return va < kLowerHalfEnd || va >= kUpperHalfStart;
        return va < kInputLimit;
    }

    // Non-empty, page aligned, no wrap past 2^64, and all of it valid: a range may not
    // straddle the non-canonical hole.
    static constexpr bool valid_range(VirtAddr va, u64 size) {
        if (size == 0 || !is_aligned(va, kPageSize) || !is_aligned(size, kPageSize)) return false;
        if (size - 1 > ~0ull - va) return false;
        const u64 last = va + (size - 1);
        if (Format::kCanonicalAddresses) return last < kLowerHalfEnd || va >= kUpperHalfStart;
        return last < kInputLimit;
    }

    bool leaf_allowed(u32 level, bool allow_large_pages) const {
        if (level == 1) return true;
        if (!allow_large_pages || level > Format::kMaxLeafLevel) return false;
        return level < 3 || huge_pages_;
    }

    // One 64-bit release store: the MMU (or another CPU) never sees a torn entry, nor a
    // new table pointer before the stores that filled the table (x86 stores are not
    // reordered with other stores: SDM vol. 3A "Memory Ordering in P6 and More Recent
    // Processor Families"; the release order keeps the compiler from reordering them).
    static void write_entry(u64& e, u64 value) { __atomic_store_n(&e, value, __ATOMIC_RELEASE); }

    // A new table maps nothing: the allocator's zeroes are that already, unless the
    // format's empty entry is another value.
    void clear_table(PhysAddr t) {
        if constexpr (Format::kEmpty != 0) {
            u64* entries = memory_.table(t);
            for (u64 i = 0; i < kEntries; ++i) entries[i] = Format::kEmpty;
        }
    }

    // The table below entry `e` at `level`, creating it when the entry is empty and
    // splitting the large leaf it holds otherwise. kNoTable when memory runs out; `e` is
    // then unchanged.
    PhysAddr table_below(u64& e, u32 level) {
        const u64 current = e;
        if (Format::is_present(current) && !Format::is_leaf(current, level)) return Format::table_address(current);
        const PhysAddr t = memory_.alloc_table();
        if (t == kNoTable) return kNoTable;
        if (!Format::is_present(current)) clear_table(t);
        if (Format::is_present(current)) {
            u64* entries = memory_.table(t);
            const PhysAddr base = Format::leaf_address(current, level);
            const PageAttributes attrs = Format::attributes(current, level);
            const u64 child_size = page_size(level - 1);
            for (u64 i = 0; i < kEntries; ++i) entries[i] = Format::make_leaf(level - 1, base + i * child_size, attrs);
        }
        write_entry(e, Format::make_table(t, level));
        return t;
    }

    // Calls f(entry, va, offset, chunk) for each entry of `table` at `level` that
    // [va, va + size) touches, in order: `chunk` bytes of the range fall in it, starting
    // `offset` bytes into it. Stops with false as soon as f does.
    template <typename F>
    bool for_each_entry(PhysAddr table, u32 level, VirtAddr va, u64 size, F f) {
        u64* entries = memory_.table(table);
        const u64 entry_size = page_size(level);
        while (size != 0) {
            const u64 offset = va & (entry_size - 1);
            const u64 chunk = size < entry_size - offset ? size : entry_size - offset;
            if (!f(entries[index(va, level)], va, offset, chunk)) return false;
            va += chunk;  // may wrap to 0 after the last page of the address space; size is 0 then
            size -= chunk;
        }
        return true;
    }

    bool map_level(PhysAddr table, u32 level, VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs,
                   bool allow_large_pages) {
        const u64 entry_size = page_size(level);
        return for_each_entry(table, level, va, size, [&](u64& e, VirtAddr at, u64 offset, u64 chunk) {
            const PhysAddr to = pa + (at - va);
            // A whole, aligned entry becomes a leaf unless a table is already there: its
            // memory cannot be freed while the tables may be live, so it is reused.
            const bool whole = offset == 0 && chunk == entry_size && is_aligned(to, entry_size);
            const bool has_table = Format::is_present(e) && !Format::is_leaf(e, level);
            if (whole && !has_table && leaf_allowed(level, allow_large_pages)) {
                write_entry(e, Format::make_leaf(level, to, attrs));
                return true;
            }
            const PhysAddr child = table_below(e, level);
            return child != kNoTable && map_level(child, level - 1, at, to, chunk, attrs, allow_large_pages);
        });
    }

    bool unmap_level(PhysAddr table, u32 level, VirtAddr va, u64 size) {
        const u64 entry_size = page_size(level);
        return for_each_entry(table, level, va, size, [&](u64& e, VirtAddr at, u64 offset, u64 chunk) {
            if (!Format::is_present(e)) return true;
            if (Format::is_leaf(e, level) && offset == 0 && chunk == entry_size) {
                write_entry(e, Format::kEmpty);
                return true;
            }
            const PhysAddr child = table_below(e, level);  // splits a partly unmapped leaf
            return child != kNoTable && unmap_level(child, level - 1, at, chunk);
        });
    }

    // Merges below every table entry of [va, va + size) at `level`, then the entry's own
    // table. False once retire refused a table.
    template <typename Retire, typename KeepSplit>
    bool merge_level(PhysAddr table, u32 level, VirtAddr va, u64 size, Retire& retire, KeepSplit& keep_split,
                     u64& merged) {
        return for_each_entry(table, level, va, size, [&](u64& e, VirtAddr at, u64, u64 chunk) {
            if (!Format::is_present(e) || Format::is_leaf(e, level)) return true;
            const PhysAddr child = Format::table_address(e);
            if (level > 2 && !merge_level(child, level - 1, at, chunk, retire, keep_split, merged)) return false;
            PhysAddr base;
            PageAttributes attrs;
            if (collapsible(child, level, base, attrs) && !keep_split(attrs)) {
                if (!retire(child)) return false;
                write_entry(e, Format::make_leaf(level, base, attrs));
                ++merged;
            }
            return true;
        });
    }

    // Whether the table below an entry at `level` can become one leaf there: 512 leaves,
    // each the next piece of one range aligned to the new leaf's size, all with the
    // attributes of the first (software bits included). Bits the CPU sets (accessed,
    // dirty) are not attributes and are dropped by the merge.
    bool collapsible(PhysAddr child, u32 level, PhysAddr& base, PageAttributes& attrs) const {
        if (!leaf_allowed(level, true)) return false;
        const u64* entries = memory_.table(child);
        const u32 child_level = level - 1;
        const u64 child_size = page_size(child_level);
        if (!Format::is_present(entries[0]) || !Format::is_leaf(entries[0], child_level)) return false;
        base = Format::leaf_address(entries[0], child_level);
        attrs = Format::attributes(entries[0], child_level);
        if (!is_aligned(base, page_size(level))) return false;
        for (u64 i = 1; i < kEntries; ++i) {
            const u64 e = entries[i];
            if (!Format::is_present(e) || !Format::is_leaf(e, child_level)) return false;
            if (Format::leaf_address(e, child_level) != base + i * child_size) return false;
            if (Format::attributes(e, child_level) != attrs) return false;
        }
        return true;
    }

    template <typename F>
    void walk(PhysAddr table, u32 level, VirtAddr base, F& f) const {
        const u64* entries = memory_.table(table);
        for (u64 i = 0; i < kEntries; ++i) {
            const u64 e = entries[i];
            if (!Format::is_present(e)) continue;
            VirtAddr va = base + i * page_size(level);
            if (Format::kCanonicalAddresses && level == kLevels && (va & kLowerHalfEnd)) va |= kUpperHalfStart;
            if (Format::is_leaf(e, level)) {
                f(va, Format::leaf_address(e, level), page_size(level), Format::attributes(e, level));
            } else {
                walk(Format::table_address(e), level - 1, va, f);
            }
        }
    }

    void release_level(PhysAddr table, u32 level) {
        if (level > 1) {
            const u64* entries = memory_.table(table);
            for (u64 i = 0; i < kEntries; ++i) {
                const u64 e = entries[i];
                if (Format::is_present(e) && !Format::is_leaf(e, level))
                    release_level(Format::table_address(e), level - 1);
            }
        }
        memory_.free_table(table);
    }

    Memory& memory_;
    bool huge_pages_;
    PhysAddr root_ = kNoTable;
};
