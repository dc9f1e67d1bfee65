// A domain's physical-to-machine map (Xen's "p2m"): which host frame backs each
// guest-physical page, of what type, with what access, on top of the nested page tables
// (mm/page_table.hpp with the NPT or EPT format). Types live in the entries' software bits
// (PageAttributes::software), so the tables the MMU walks are the only record.
//
//   Ram              the domain's own memory
//   RamLogDirty      its memory, write-protected while a dirty log runs: the first write
//                    faults, marks the page dirty and makes it writable again
//   MmioPassthrough  a real device's registers (uncached), for dom0's devices
//   Foreign          another domain's page, mapped for a control domain (save, builders)
//
// Emulated MMIO has no entry (a device model claims the range on the domain's MmioBus and
// every access faults); a ballooned-out page has none either.
//
// Every change that takes access away (unmap, protect, the dirty log's write-protection)
// leaves translations the CPUs may have cached: the caller flushes them on every CPU that
// may run the domain before it relies on the change or reuses a frame. Pure, so host tests
// drive it with fake table memory.
//
// Page sizes: map picks 4 KiB, 2 MiB or 1 GiB leaves as alignment allows (1 GiB only with
// huge_pages: CPUID Page1GB for NPT, IA32_VMX_EPT_VPID_CAP bit 17 for EPT, SDM vol. 3D
// A.10); unmap, protect and the dirty log split a large leaf they only partly cover.
//
// Merging and when table memory is freed. merge() (also run by protect and
// dirty_log_disable) undoes splits: a table whose 512 leaves map one contiguous, aligned
// host range with the same type and access becomes one 2 MiB or 1 GiB leaf again
// (PageTableBuilder::merge). The translation stays the same, but the detached table may
// still be walked: a CPU may keep the old pointer to it in its paging-structure caches,
// or (EPT) guest-physical and combined mappings, until an invalidation (Intel SDM vol. 3A
// 4.10.2.3 and 4.10.4, vol. 3C 29.4.3: INVEPT); AMD nested walks cache the same way
// until the TLB is flushed through the VMCB's TLB_CONTROL (AMD APM vol. 2 15.25 "Nested
// Paging", 15.16). A walk may even set accessed/dirty bits in it. So merged tables are
// never freed here. They are retired: recorded, untouched, on a list the p2m keeps (in
// pages from Memory::alloc_table, never in the retired tables themselves). The rule:
//   1. change the p2m (merge, protect, dirty_log_disable) under the p2m's lock;
//   2. take_retired() under the same lock: the tables retired so far become the caller's;
//   3. flush every CPU that may run the domain (INVEPT / TLB_CONTROL shootdown);
//   4. free_retired() them (for_each_retired shows their addresses first, if wanted).
// Tables retired after step 2 wait for the next round. Until then, and for owners that
// never take them, they stay allocated; release() frees them with the tree.
#pragma once

#include "kernel/types.hpp"
#include "mm/page_table.hpp"

enum class P2mType : u8 { None = 0, Ram = 1, RamLogDirty = 2, MmioPassthrough = 3, Foreign = 4 };

struct P2mEntry {
    PhysAddr frame;  // the host address the guest-physical address maps to
    P2mType type;
    bool writable, executable;
    u64 page_size;  // of the leaf that maps it: 4 KiB, 2 MiB or 1 GiB
};

template <typename Format, typename Memory>
class P2m {
public:
    static constexpr PhysAddr kNoTable = PageTableBuilder<Format, Memory>::kNoTable;

    // Tables taken out of the tree by merges, waiting for the caller's flush (see above).
    struct Retired {
        PhysAddr list = kNoTable;  // newest list page; each links to the next in its last entry
        u64 count = 0;             // retired tables (the list pages not counted)
    };

    P2m(Memory& memory, bool huge_pages) : memory_(memory), table_(memory, huge_pages) {}
    P2m(const P2m&) = delete;
    P2m& operator=(const P2m&) = delete;

    bool create() { return table_.create(); }
    PhysAddr root() const { return table_.root(); }

    // Frees the tree and every table still retired: no CPU may walk any of them any more.
    void release() {
        table_.release();
        Retired r = take_retired();
        free_retired(r);
    }

    // Maps [gpa, gpa + size) onto host [pa, pa + size) as `type`, with large pages where
    // alignment allows. False on bad arguments (PageTableBuilder::map) or no table memory.
    bool map(u64 gpa, PhysAddr pa, u64 size, P2mType type, bool writable, bool executable) {
        if (type == P2mType::None) return false;
        return table_.map(gpa, pa, size, attributes(type, writable, executable));
    }

    bool unmap(u64 gpa, u64 size) { return table_.unmap(gpa, size); }

    bool lookup(u64 gpa, P2mEntry& out) const {
        PhysAddr pa;
        PageAttributes a;
        u64 size;
        if (!table_.translate(gpa, pa, a, size)) return false;
        out = {pa, P2mType(a.software), a.writable, a.executable, size};
        return true;
    }

    // New access for every mapped page of the range (unmapped parts stay unmapped); a
    // large page only partly inside is split first. A log-dirty page stays
    // write-protected until its first write, whatever `writable` says. Tables the range
    // made uniform again are merged (and retired).
    bool protect(u64 gpa, u64 size, bool writable, bool executable) {
        const bool ok = for_each_mapped(gpa, size, [&](u64 at, PhysAddr pa, u64 chunk, P2mEntry& e) {
            const bool w = e.type == P2mType::RamLogDirty ? false : writable;
            return table_.map(at, pa, chunk, attributes(e.type, w, executable));
        });
        if (ok) merge(gpa, size);
        return ok;
    }

    // Merges every table that maps part of [gpa, gpa + size) and whose 512 entries map one
    // contiguous, aligned host range with the same type and access into one large leaf
    // (PageTableBuilder::merge), retiring the tables. Returns how many were retired; 0 for
    // bad arguments, and the merge stops early when no memory is left for the list.
    u64 merge(u64 gpa, u64 size) {
        // Foreign pages stay 4 KiB leaves: putting a mapper's own frame back at one of them
        // (GuestMemory::unmap_foreign_page) must never need a split, which could fail.
        return table_.merge(
            gpa, size, [this](PhysAddr t) { return retire(t); },
            [](const PageAttributes& a) { return a.software == u8(P2mType::Foreign); });
    }

    u64 retired_count() const { return retired_.count; }

    // Hands every table retired so far to the caller (step 2 above); the p2m forgets them.
    Retired take_retired() {
        const Retired r = retired_;
        retired_ = Retired{};
        return r;
    }

    // Calls f(PhysAddr) for each table in `r`, newest first.
    template <typename F>
    void for_each_retired(const Retired& r, F f) const {
        u64 in_page = r.count % kPerListPage == 0 ? kPerListPage : r.count % kPerListPage;
        for (PhysAddr page = r.list; page != kNoTable; page = memory_.table(page)[kPerListPage]) {
            const u64* slots = memory_.table(page);
            for (u64 i = in_page; i > 0; --i) f(slots[i - 1]);
            in_page = kPerListPage;
        }
    }

    // Frees the tables of `r` and the pages that listed them, through Memory::free_table.
    // Only after every CPU that may have walked them was flushed (step 4 above).
    void free_retired(Retired& r) {
        for_each_retired(r, [this](PhysAddr t) { memory_.free_table(t); });
        for (PhysAddr page = r.list; page != kNoTable;) {
            const PhysAddr next = memory_.table(page)[kPerListPage];
            memory_.free_table(page);
            page = next;
        }
        r = Retired{};
    }

    // Starts logging writes to the RAM pages in [0, pages * 4 KiB): every writable Ram
    // page becomes RamLogDirty without write access. `bitmap` (pages bits, zeroed here)
    // stays the caller's and must outlive the log.
    bool dirty_log_enable(u64* bitmap, u64 pages) {
        if (dirty_ || !bitmap || pages == 0) return false;
        for (u64 i = 0; i < (pages + 63) / 64; ++i) bitmap[i] = 0;
        dirty_ = bitmap;
        dirty_pages_ = pages;
        return retype(P2mType::Ram, P2mType::RamLogDirty, false);
    }

    // A write that faulted at `gpa`: true when it hit a log-dirty page, which is now
    // marked dirty and writable (4 KiB of it; a large page is split), so the guest just
    // retries; false when the fault is not the log's.
    bool dirty_log_write_fault(u64 gpa) {
        P2mEntry e;
        if (!dirty_ || !lookup(gpa, e) || e.type != P2mType::RamLogDirty) return false;
        const u64 page = gpa / kPageSize;
        if (page < dirty_pages_) dirty_[page / 64] |= 1ull << (page % 64);
        const PhysAddr frame = e.frame & ~(kPageSize - 1);
        return table_.map(gpa & ~(kPageSize - 1), frame, kPageSize, attributes(P2mType::Ram, true, e.executable));
    }

    // Marks pages the hypervisor itself wrote (a hypercall's result, an emulated store):
    // they change without a fault, and a dirty log must see them too.
    void dirty_log_mark(u64 gpa, u64 size) {
        if (!dirty_ || size == 0) return;
        for (u64 page = gpa / kPageSize; page <= (gpa + size - 1) / kPageSize && page < dirty_pages_; ++page)
            dirty_[page / 64] |= 1ull << (page % 64);
    }

    // Moves the pages dirtied since the last call into `out` (OR-ed in) and protects them
    // again; returns how many there were.
    u64 dirty_log_take(u64* out) {
        if (!dirty_) return 0;
        u64 count = 0;
        for (u64 word = 0; word < (dirty_pages_ + 63) / 64; ++word) {
            u64 bits = dirty_[word];
            dirty_[word] = 0;
            out[word] |= bits;
            while (bits) {
                const u64 page = word * 64 + u64(__builtin_ctzll(bits));
                bits &= bits - 1;
                ++count;
                P2mEntry e;
                if (lookup(page * kPageSize, e) && e.type == P2mType::Ram)
                    table_.map(page * kPageSize, e.frame, kPageSize,
                               attributes(P2mType::RamLogDirty, false, e.executable));
            }
        }
        return count;
    }

    // Ends the log: every log-dirty page is writable Ram again, and the tables that write
    // faults split are merged back where their pages are uniform again.
    bool dirty_log_disable() {
        if (!dirty_) return false;
        const bool ok = retype(P2mType::RamLogDirty, P2mType::Ram, true);
        if (ok) merge(0, dirty_pages_ * kPageSize);
        dirty_ = nullptr;
        dirty_pages_ = 0;
        return ok;
    }

    bool dirty_log_active() const { return dirty_ != nullptr; }

private:
    // A list page holds this many retired table addresses, then the next list page.
    static constexpr u64 kPerListPage = PageTableBuilder<Format, Memory>::kEntries - 1;

    // Records a detached table; false (the merge stops) when a new list page is needed
    // and there is no memory for it.
    bool retire(PhysAddr table) {
        if (retired_.count % kPerListPage == 0) {
            const PhysAddr page = memory_.alloc_table();
            if (page == kNoTable) return false;
            memory_.table(page)[kPerListPage] = retired_.list;
            retired_.list = page;
        }
        memory_.table(retired_.list)[retired_.count % kPerListPage] = table;
        ++retired_.count;
        return true;
    }

    static PageAttributes attributes(P2mType type, bool writable, bool executable) {
        PageAttributes a;
        a.writable = writable;
        a.executable = executable;
        a.user = true;  // nested walks are user accesses on AMD (APM vol. 2 15.25.5); EPT ignores it
        a.uncached = type == P2mType::MmioPassthrough;
        a.software = u8(type);
        return a;
    }

    // Calls f(gpa, host address, bytes, entry) for each piece of [gpa, gpa + size) that
    // one leaf maps; an unmapped page is skipped. Stops with false when f fails.
    template <typename F>
    bool for_each_mapped(u64 gpa, u64 size, F f) {
        if (size == 0 || (gpa | size) & (kPageSize - 1)) return false;
        const u64 end = gpa + size;
        if (end < gpa) return false;
        for (u64 at = gpa; at < end;) {
            P2mEntry e;
            PhysAddr pa;
            PageAttributes a;
            u64 leaf = kPageSize;
            if (!table_.translate(at, pa, a, leaf)) {
                // A whole absent entry is skipped at once: RAM zeroed on first touch leaves
                // most of a large domain unmapped (mm/guest_memory.hpp).
                const u64 next = (at & ~(leaf - 1)) + leaf;
                if (next <= at) return true;  // the end of the address space
                at = next;
                continue;
            }
            e = {pa, P2mType(a.software), a.writable, a.executable, leaf};
            const u64 leaf_end = (at & ~(e.page_size - 1)) + e.page_size;
            const u64 chunk = (leaf_end < end ? leaf_end : end) - at;
            if (!f(at, e.frame, chunk, e)) return false;
            at += chunk;
        }
        return true;
    }

    bool retype(P2mType from, P2mType to, bool writable) {
        return for_each_mapped(0, dirty_pages_ * kPageSize, [&](u64 at, PhysAddr pa, u64 chunk, P2mEntry& e) {
            if (e.type != from || (from == P2mType::Ram && !e.writable)) return true;
            return table_.map(at, pa, chunk, attributes(to, writable, e.executable));
        });
    }

    Memory& memory_;
    PageTableBuilder<Format, Memory> table_;
    Retired retired_;
    u64* dirty_ = nullptr;
    u64 dirty_pages_ = 0;
};
