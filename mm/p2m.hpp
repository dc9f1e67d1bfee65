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
    P2m(Memory& memory, bool huge_pages) : table_(memory, huge_pages) {}
    P2m(const P2m&) = delete;
    P2m& operator=(const P2m&) = delete;

    bool create() { return table_.create(); }
    PhysAddr root() const { return table_.root(); }
    void release() { table_.release(); }

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
    // write-protected until its first write, whatever `writable` says.
    bool protect(u64 gpa, u64 size, bool writable, bool executable) {
        return for_each_mapped(gpa, size, [&](u64 at, PhysAddr pa, u64 chunk, P2mEntry& e) {
            const bool w = e.type == P2mType::RamLogDirty ? false : writable;
            return table_.map(at, pa, chunk, attributes(e.type, w, executable));
        });
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

    // Ends the log: every log-dirty page is writable Ram again.
    bool dirty_log_disable() {
        if (!dirty_) return false;
        const bool ok = retype(P2mType::RamLogDirty, P2mType::Ram, true);
        dirty_ = nullptr;
        dirty_pages_ = 0;
        return ok;
    }

    bool dirty_log_active() const { return dirty_ != nullptr; }

private:
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
            if (!lookup(at, e)) {
                at += kPageSize;
                continue;
            }
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

    PageTableBuilder<Format, Memory> table_;
    u64* dirty_ = nullptr;
    u64 dirty_pages_ = 0;
};
