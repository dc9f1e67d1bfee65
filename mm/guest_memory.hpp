// A domain's guest-physical RAM: host frames in 2 MiB chunks (zeroed when allocated, or
// on first touch: RamZeroing; all returned when the domain dies, less the 4 KiB pages its
// balloon gave back earlier, mm/balloon_pages.hpp) and its p2m (mm/p2m.hpp), the nested page tables
// that map the RAM ranges of the domain's layout onto them as typed entries. RAM need not
// be one block: a virtual PC has RAM below its 32-bit MMIO hole and the rest above 4 GiB
// (kernel/vm/firmware/guest_pc_layout.hpp). The nested tables use the same page-table builder
// as the hypervisor's own, with an entry-format policy: AMD NPT takes the ordinary x86-64 format, with the U bit set on
// every entry because nested walks count as user accesses (APM vol. 2, 15.25.5); Intel EPT has its own
// (mm/ept_format.hpp).
#pragma once

#include "kernel/spinlock.hpp"
#include "kernel/types.hpp"
#include "mm/balloon_pages.hpp"
#include "mm/guest_page_walk.hpp"

struct P2mEntry;
class MemoryQuota;

// Which nested paging the tables are for: AMD NPT or Intel EPT (mm/ept_format.hpp).
enum class NestedPagingFormat : u8 { AmdNpt, IntelEpt };

// When a domain's RAM is zeroed. AtCreation: all of it, before create returns. OnFirstTouch:
// each 2 MiB chunk when the guest or the hypervisor first reaches it, as KVM's memory is
// (Linux's anonymous pages) and Xen's populate-on-demand: a guest touches a fraction of its
// RAM while it boots, and zeroing the rest up front cost a quarter of a second per 256 MiB
// under QEMU's TCG, plus the host's own first touch of every page (issue 17). Until then
// the chunk's frames hold whatever their last owner left there, so nothing may read them:
// the chunk has no p2m entry (a guest access is a nested page fault, populate_on_fault),
// and every way the hypervisor reaches RAM (read, write, compare_exchange, page_view,
// foreign_source_frame, map_foreign_page, balloon_release, populate) zeroes it first.
enum class RamZeroing : u8 { AtCreation, OnFirstTouch };

// A block of guest-physical RAM: [gpa, gpa + bytes), both multiples of 2 MiB (of 4 KiB
// for identity-mapped RAM).
struct GuestRamRange {
    u64 gpa;
    u64 bytes;
};

class GuestMemory final : public GuestPhysicalMemory {
public:
    static constexpr u64 kChunkSize = 2 * MiB;
    // A virtual PC needs 2; dom0's identity-mapped RAM follows the host's free memory.
    static constexpr usize kMaxRanges = 16;
    // The highest guest-physical address RAM may reach: 1 TiB, within the 40 physical
    // address bits every x86-64 CPU reports (CPUID 80000008H:EAX[7:0]) and far beyond any
    // domain this machine class can hold.
    static constexpr u64 kMaxGuestPhysical = 1ull << 40;

    GuestMemory() = default;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    ~GuestMemory() { destroy(); }

    // Allocates RAM for `ranges` (ascending, disjoint, 2 MiB aligned, below
    // kMaxGuestPhysical) and builds the nested tables, charging both to `quota` (RAM
    // before it is allocated, each table page as the p2m allocates it, later splits
    // included; destroy gives it all back). On failure everything allocated so far is
    // returned and `error` says why.
    // `huge_pages`: the nested tables may use 1 GiB leaves (where the host frames allow;
    // with OnFirstTouch, once the whole gigabyte was touched).
    bool create(const GuestRamRange* ranges, usize count, NestedPagingFormat format, bool huge_pages,
                RamZeroing zeroing, MemoryQuota* quota, const char** error);
    // One block at guest-physical 0 of `bytes`, rounded up to 2 MiB.
    bool create(u64 bytes, NestedPagingFormat format, bool huge_pages, RamZeroing zeroing, MemoryQuota* quota,
                const char** error);
    // Identity-mapped RAM (always zeroed at creation; dom0's: guest-physical == host-physical for every page, so
    // the DMA its drivers program reaches the right pages without an IOMMU). `low` is
    // host RAM the frame allocator never hands out (conventional memory below 1 MiB,
    // page-aligned; may be empty), the domain's from now on; the rest of `bytes` comes
    // from the host in 2 MiB chunks, lowest first, so that it forms few ranges.
    bool create_identity(u64 bytes, GuestRamRange low, NestedPagingFormat format, bool huge_pages, MemoryQuota* quota,
                         const char** error);
    bool identity() const { return identity_; }
    void destroy();

    // Bytes of RAM the domain has now (what `xm list` shows): its layout less the pages
    // it ballooned out (released, not populated again).
    u64 size() const { return ram_bytes_ - balloon_.released() * kPageSize; }
    // Bytes of RAM in its layout (its ranges, fixed at creation: its maxmem), whatever the
    // balloon took. What the guest's firmware tables and boot information describe.
    u64 layout_size() const { return ram_bytes_; }
    // One past its highest guest-physical address.
    u64 end() const { return range_count_ ? ranges_[range_count_ - 1].gpa + ranges_[range_count_ - 1].bytes : 0; }
    usize range_count() const { return range_count_; }
    const GuestRamRange& range(usize i) const { return ranges_[i]; }
    PhysAddr nested_root() const { return nested_root_; }
    // Whether [gpa, gpa + len) lies in RAM (in one range: ranges never touch).
    bool contains(u64 gpa, u64 len) const;
    // What the p2m maps at `gpa` (mm/p2m.hpp); false where nothing is mapped.
    bool lookup(u64 gpa, P2mEntry& out) const;
    // How many gigabytes of RAM one 1 GiB leaf each maps.
    u64 gigabyte_leaves() const;
    // How many gigabytes of RAM are one aligned gigabyte of host memory each: those a 1 GiB
    // leaf maps, at once or (OnFirstTouch) once all of it was touched.
    u64 whole_host_gigabytes() const;

    // OnFirstTouch: zeroes and maps the chunk holding `gpa`, unless done already (waiting
    // while another CPU does it). True when `gpa` is RAM whose chunk is populated now.
    // Never under the p2m's lock (it takes it).
    bool populate(u64 gpa);
    // A nested page fault at `gpa` on a page the p2m does not map (`present` false): true
    // when it is RAM that is mapped now (its chunk zeroed and mapped here, or by another
    // CPU since the fault), so the guest just retries.
    bool populate_on_fault(u64 gpa, bool present);
    // False for RAM at `gpa` that was never touched (zeroed on first touch, so it reads
    // zero already); true for anything else.
    bool touched(u64 gpa) const;
    // Bytes of RAM zeroed so far on first touch, and those still waiting for it (a count,
    // safe to read while the memory is destroyed: the debug key 'e' does).
    u64 populated_bytes() const;
    u64 unpopulated_bytes() const {
        const u64 chunked = ram_bytes_ - low_bytes_, populated = populated_bytes();
        return populated < chunked ? chunked - populated : 0;
    }

    // The dirty log over the whole RAM (P2m's, under this memory's lock). The bitmap has
    // a bit per 4 KiB page and stays the caller's while the log runs. After enable and
    // take, which take write access away, every CPU's cached translations must be
    // flushed (domain_tlb_shootdown) before the pages are read.
    bool dirty_log_enable(u64* bitmap);
    // A write that faulted on a present page (a nested page fault): true when the guest
    // just retries, because the page was log-dirty (now marked and writable again) or is
    // writable RAM by now, the fault coming from a translation a CPU cached before (the
    // log's enable or disable changing the page under a running vCPU, ahead of its flush).
    bool dirty_log_write_fault(u64 gpa);
    u64 dirty_log_take(u64* out);
    // Marks [gpa, gpa + len) written, while a log runs (else nothing): pages written
    // where the log cannot see it (through another domain's foreign mapping).
    void dirty_log_mark(u64 gpa, u64 len) { mark_dirty(gpa, len); }
    // Ends the log; pages its write faults split are merged back into large leaves, and
    // the tables that freed wait for free_retired_tables, after the caller's shootdown.
    bool dirty_log_disable();
    // After a TLB shootdown on every CPU: tables the p2m took out of the tree (merges)
    // before it go back to the host (mm/p2m.hpp, the rule for retired tables).
    void free_retired_tables();
    bool dirty_log_active() const { return dirty_log_; }
    // Guest-physical pages up to end(), holes included: the dirty log's bitmap covers them.
    u64 pages() const { return end() / kPageSize; }

    // dom0's passthrough of a real device's registers: [gpa, gpa + bytes) mapped onto the
    // same host addresses, uncached (MmioPassthrough), charged like any table. Only for
    // identity-mapped memory; the caller has checked that the host range is a device's.
    // `claims`: a bus whose claimed ranges must stay unmapped, checked again under the
    // p2m's lock, so that a claim made (then the range unmapped) by another CPU meanwhile
    // always wins (kernel/passthrough/dom0_pci.cpp claims MSI-X tables that way).
    bool map_passthrough(u64 gpa, u64 bytes, const class MmioBus* claims = nullptr);
    // Takes a passthrough mapping away again (a page that becomes emulated, e.g. an MSI-X
    // table); the caller then flushes every CPU (domain_tlb_shootdown).
    bool unmap_passthrough(u64 gpa, u64 bytes);

    // Foreign mappings (kernel/domain/foreign_mappings.hpp), 4 KiB at a time, under the
    // p2m's lock. The source side: the host frame behind one of this domain's RAM pages,
    // false unless it is RAM (plain or log-dirty: while the dirty log runs, writes through
    // another domain's mapping escape it, and foreign_mappings.hpp counts the pages as
    // written instead). The mapping side: the RAM page at `gpa` shows `frame`
    // instead of its own (P2mType::Foreign: writable, never executable), and `original`
    // gets the frame it had; false unless it is plain RAM. unmap_foreign_page puts the
    // original back; false unless the page is foreign. After either, the caller flushes
    // every CPU (domain_tlb_shootdown). The hypervisor's own accesses (read, write) still
    // reach the domain's own frames.
    // map_foreign_page refuses a page that was ever ballooned out (below): its frame is a
    // single page that only the p2m records, which a foreign entry would hide.
    bool foreign_source_frame(u64 gpa, PhysAddr& frame);
    bool map_foreign_page(u64 gpa, PhysAddr frame, PhysAddr& original);
    bool unmap_foreign_page(u64 gpa, PhysAddr original);

    // Ballooning (the control call domain_balloon, for a guest's balloon driver through
    // its device model): 4 KiB pages of RAM go back to the host and come back again. Not
    // for identity-mapped RAM (Domain-0's), nor while the dirty log runs. Ranges never
    // change: a released page is simply not mapped, and a guest that touches it again
    // breaks the balloon protocol and meets memory outside its RAM (it crashes); the
    // hypervisor's own accesses (read, write) fail there.
    //
    // The bookkeeping (mm/balloon_pages.hpp: a bit per page of RAM) is made at the first
    // release: the caller allocates balloon_bitmap_words() words outside any lock and
    // hands them over with balloon_enable, which charges them to the quota (false: no
    // quota, or one exists; the words stay the caller's). destroy frees and uncharges them.
    enum class BalloonError : u8 { None, Invalid, NoMemory, WrongState };
    u64 balloon_bitmap_words() const { return BalloonPages::words_for(ram_bytes_ / kPageSize); }
    bool balloon_active() const { return balloon_.active(); }
    bool balloon_enable(u64* words);
    // Release: the plain RAM page at `gpa` (P2mType::Ram, so never a foreign mapping's) is
    // unmapped and uncharged (4 KiB), and `frame` gets its host frame, which becomes the
    // caller's: the caller flushes every CPU (domain_tlb_shootdown) and only then frees it
    // (balloon_free_frames), since CPUs may still reach it through cached translations
    // until then. Invalid: not such a page (or no bookkeeping yet); NoMemory: no table
    // memory (or quota) to split the large page around it; WrongState: dirty log.
    BalloonError balloon_release(u64 gpa, PhysAddr& frame);
    static void balloon_free_frames(const PhysAddr* frames, usize count);
    // Populate: the released page at `gpa` gets a fresh zeroed frame (charged) and is RAM
    // again (and dirty, should a dirty log run). Invalid: not a released page; NoMemory:
    // no quota, frame or table memory. Adds access only: no flush is needed.
    BalloonError balloon_populate(u64 gpa);
    // A restart in place (kernel/domain/domain_restart.cpp): every released page is
    // populated again, so the guest boots with all its RAM. False when memory ran out.
    bool balloon_populate_all();

    // Guest-physical accesses from the hypervisor; false outside guest RAM.
    bool read(u64 gpa, void* dst, usize len) override;
    bool write(u64 gpa, const void* src, usize len) override;
    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override;
    // The host frames behind RAM change only when the balloon takes or gives a page, or
    // the memory is destroyed: each bumps the generation (before a released frame can be
    // freed, which waits for every CPU's flush: balloon_release).
    const void* page_view(u64 gpa, usize len) override;
    const u64* frames_generation() const override { return &frames_generation_; }

private:
    // Where RAM at `gpa` (inside a range) is in the hypervisor's view, and how many bytes
    // from there stay in the same chunk (once pages were ballooned, in the same page);
    // null for a released page.
    void* host_pointer(u64 gpa, usize& contiguous);
    // Appends `bytes` (2 MiB or 1 GiB) of zeroed host RAM, aligned to its size, to
    // chunks_, charged to the quota; false (with `error`) when there is no room or quota.
    bool allocate_ram(u64 bytes, const char** error);

    // Maps every range onto its chunks (or onto itself, identity) and merges; with
    // OnFirstTouch, unmaps the chunks again (their tables stay, so a chunk's first touch
    // maps it without allocating) and merges nothing.
    bool build_nested_tables(bool huge_pages, const char** error);

    // OnFirstTouch: a state per chunk (null for RAM zeroed at creation). A chunk goes from
    // Unpopulated to Zeroing (one CPU zeroes it) to Populated (zeroed and mapped), never back.
    enum ChunkState : u8 { kChunkPopulated = 0, kChunkUnpopulated = 1, kChunkZeroing = 2 };
    u8* chunk_states_ = nullptr;
    u64 populated_chunks_ = 0;  // atomic; what populated_bytes reports without the states
    bool huge_pages_ = false;
    // The chunk holding RAM at `gpa`, and where that chunk starts; false outside RAM.
    bool chunk_of(u64 gpa, u64& chunk, u64& chunk_gpa) const;
    bool chunk_populated(u64 chunk) const {
        return !chunk_states_ || __atomic_load_n(&chunk_states_[chunk], __ATOMIC_ACQUIRE) == kChunkPopulated;
    }
    void populate_chunk(u64 chunk, u64 chunk_gpa);

    MemoryQuota* quota_ = nullptr;
    bool identity_ = false;
    u64 ram_bytes_ = 0;
    u64 low_bytes_ = 0;  // identity: the part of ram_bytes_ not from the frame allocator
    GuestRamRange ranges_[kMaxRanges] = {};
    usize range_count_ = 0;
    PhysAddr* chunks_ = nullptr;  // in range order
    u64 chunk_count_ = 0;
    PhysAddr nested_root_ = 0;
    void* nested_tables_ = nullptr;  // the builder, opaque here (guest_memory.cpp)
    NestedPagingFormat format_ = NestedPagingFormat::AmdNpt;
    // The p2m changes from several CPUs at once (write faults of a dirty log, the control
    // domain's take); the hypervisor's own writes mark pages under it too.
    SpinLock p2m_lock_;
    bool dirty_log_ = false;
    // Retired tables taken from the p2m (P2m::Retired, the same for both formats), waiting
    // for the shootdown that makes them safe to free; under p2m_lock_.
    PhysAddr retired_list_ = ~0ull;
    u64 retired_count_ = 0;
    // Ballooned pages; changed under p2m_lock_, read without it (atomics).
    BalloonPages balloon_;
    u64 frames_generation_ = 0;  // atomic; page_view
    void frames_changed() { __atomic_add_fetch(&frames_generation_, 1, __ATOMIC_RELEASE); }
    // Frees every frame the domain owns: its chunks, or page by page where pages were
    // ballooned (BalloonPages::free_plan); before the tables go.
    void free_ram();
    void mark_dirty(u64 gpa, u64 len);
};
