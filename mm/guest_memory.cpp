#include "mm/guest_memory.hpp"

#include <string.h>

#include "kernel/alloc.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/vm/mmio_bus.hpp"
#include "mm/ept_format.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/memory_quota.hpp"
#include "mm/p2m.hpp"
#include "mm/page_table.hpp"

namespace {

// Table pages come from the frame allocator and are charged to the domain's quota, so a
// p2m that keeps splitting (a dirty log, later foreign mappings) stops at its quota
// instead of draining the host.
struct NestedTableMemory {
    MemoryQuota* quota = nullptr;
    PhysAddr alloc_table() {
        if (quota && !quota->charge(kPageSize)) return ~0ull;
        const PhysAddr pa = frame_alloc(1);
        if (pa != kNoPhysFrame) return pa;
        if (quota) quota->uncharge(kPageSize);
        return ~0ull;
    }
    u64* table(PhysAddr pa) { return phys_to_virt<u64>(pa); }
    void free_table(PhysAddr pa) {
        frame_free(pa);
        if (quota) quota->uncharge(kPageSize);
    }
};

// One p2m per format (mm/p2m.hpp); only the one the domain uses is created. 1 GiB leaves
// only where the CPU has them (VirtualizationSupport::nested_1gib_pages).
template <typename Format>
struct NestedTables {
    explicit NestedTables(bool huge_pages) : table{memory, huge_pages} {}
    NestedTableMemory memory;
    P2m<Format, NestedTableMemory> table;
};
using NptTables = NestedTables<X86PagingFormat>;
using EptTables = NestedTables<EptFormat>;

// Maps every range's chunks, in order, as the domain's RAM; identity-mapped RAM maps
// each range onto the same host addresses. `on_first_touch`: the chunks are unmapped
// again at once, which leaves every table in place (PageTableBuilder::unmap clears the
// 2 MiB leaves only), so mapping a chunk later needs no memory and cannot fail.
template <typename Tables>
bool build_tables(Tables* tables, const GuestRamRange* ranges, usize range_count, const PhysAddr* chunks,
                  u64 chunk_size, bool identity, bool on_first_touch, const char** error) {
    if (!tables->table.create()) {
        *error = "out of memory for nested page tables";
        return false;
    }
    u64 chunk = 0;
    for (usize r = 0; r < range_count; ++r) {
        // Guest RAM is readable, writable and executable by the guest; the guest's own
        // page tables decide what its software may do.
        if (identity) {
            if (!tables->table.map(ranges[r].gpa, ranges[r].gpa, ranges[r].bytes, P2mType::Ram, true, true)) {
                *error = "out of memory for nested page tables";
                return false;
            }
        } else {
            for (u64 offset = 0; offset < ranges[r].bytes; offset += chunk_size) {
                if (!tables->table.map(ranges[r].gpa + offset, chunks[chunk++], chunk_size, P2mType::Ram, true, true)) {
                    *error = "out of memory for nested page tables";
                    return false;
                }
            }
        }
        if (on_first_touch) {
            if (!tables->table.unmap(ranges[r].gpa, ranges[r].bytes)) {
                *error = "out of memory for nested page tables";
                return false;
            }
            continue;
        }
        // Where the chunks happen to be one aligned, contiguous gigabyte of host memory,
        // one 1 GiB leaf maps them (and the table goes back at once: no CPU has walked
        // these tables yet).
        tables->table.merge(ranges[r].gpa, ranges[r].bytes);
    }
    auto retired = tables->table.take_retired();
    tables->table.free_retired(retired);
    return true;
}

template <typename Tables>
void release_tables(void* opaque) {
    auto* tables = static_cast<Tables*>(opaque);
    if (tables->table.root()) tables->table.release();
    delete tables;
}

}  // namespace

bool GuestMemory::create(u64 bytes, NestedPagingFormat format, bool huge_pages, RamZeroing zeroing, MemoryQuota* quota,
                         const char** error) {
    const GuestRamRange one{0, align_up(bytes, kChunkSize)};
    return create(&one, bytes ? 1 : 0, format, huge_pages, zeroing, quota, error);
}

bool GuestMemory::create(const GuestRamRange* ranges, usize count, NestedPagingFormat format, bool huge_pages,
                         RamZeroing zeroing, MemoryQuota* quota, const char** error) {
    destroy();
    quota_ = quota;
    if (count == 0 || count > kMaxRanges) {
        *error = count ? "too many RAM ranges" : "a domain needs some memory";
        return false;
    }
    u64 total = 0, previous_end = 0;
    for (usize i = 0; i < count; ++i) {
        const GuestRamRange& r = ranges[i];
        if (r.bytes == 0 || r.gpa % kChunkSize || r.bytes % kChunkSize || (i && r.gpa <= previous_end) ||
            r.gpa >= kMaxGuestPhysical || r.bytes > kMaxGuestPhysical - r.gpa) {
            *error = "bad RAM layout (ranges must be ascending, apart, 2 MiB aligned and below 1 TiB)";
            return false;
        }
        previous_end = r.gpa + r.bytes;
        total += r.bytes;
    }
    format_ = format;
    const u64 count_chunks = total / kChunkSize;
    chunks_ = new (kNoThrow) PhysAddr[count_chunks];
    if (!chunks_) {
        *error = "out of memory for the RAM's chunk list";
        return false;
    }
    for (usize i = 0; i < count; ++i) ranges_[i] = ranges[i];
    range_count_ = count;
    huge_pages_ = huge_pages;
    if (zeroing == RamZeroing::OnFirstTouch) {
        chunk_states_ = new (kNoThrow) u8[count_chunks];
        if (!chunk_states_) {
            *error = "out of memory for the RAM's chunk list";
            destroy();
            return false;
        }
        memset(chunk_states_, kChunkUnpopulated, count_chunks);
    }
    for (usize r = 0; r < count; ++r) {
        for (u64 offset = 0; offset < ranges[r].bytes;) {
            // A whole aligned gigabyte in one piece where the CPU can map it with one
            // 1 GiB leaf (fewer table pages, fewer TLB misses); 2 MiB pieces otherwise.
            const bool gigabyte = huge_pages && (ranges[r].gpa + offset) % GiB == 0 && ranges[r].bytes - offset >= GiB;
            const u64 piece = gigabyte && allocate_ram(GiB, error) ? GiB : kChunkSize;
            if (piece == kChunkSize && !allocate_ram(kChunkSize, error)) {
                destroy();
                return false;
            }
            offset += piece;
        }
    }
    ram_bytes_ = total;
    if (!build_nested_tables(huge_pages, error)) {
        destroy();
        return false;
    }
    return true;
}

bool GuestMemory::create_identity(u64 bytes, GuestRamRange low, NestedPagingFormat format, bool huge_pages,
                                  MemoryQuota* quota, const char** error) {
    destroy();
    quota_ = quota;
    format_ = format;
    identity_ = true;
    bytes = align_up(bytes, kPageSize);
    if (low.gpa % kPageSize || low.bytes % kPageSize || low.bytes >= bytes) {
        *error = "bad identity-mapped RAM (low memory unaligned, or all of the RAM)";
        return false;
    }
    const u64 chunk_total = align_up(bytes - low.bytes, kChunkSize) / kChunkSize;
    chunks_ = new (kNoThrow) PhysAddr[chunk_total];
    if (!chunks_) {
        *error = "out of memory for the RAM's chunk list";
        return false;
    }
    if (low.bytes) {
        if (quota_ && !quota_->charge(low.bytes)) {
            *error = "its RAM passes its memory quota";
            destroy();
            return false;
        }
        low_bytes_ = low.bytes;
        ranges_[range_count_++] = low;
    }
    for (u64 i = 0; i < chunk_total; ++i) {
        if (!allocate_ram(kChunkSize, error)) {
            destroy();
            return false;
        }
        const PhysAddr block = chunks_[chunk_count_ - 1];
        GuestRamRange* last = range_count_ ? &ranges_[range_count_ - 1] : nullptr;
        if (last && last->gpa + last->bytes == block) {
            last->bytes += kChunkSize;
            continue;
        }
        // First fit from the bottom hands chunks out in ascending order; anything else
        // (or more pieces than fit) is a host too fragmented for this RAM.
        if ((last && block < last->gpa + last->bytes) || range_count_ == kMaxRanges) {
            *error = "the host's free memory is too fragmented for identity-mapped RAM of this size";
            destroy();
            return false;
        }
        ranges_[range_count_++] = {block, kChunkSize};
    }
    ram_bytes_ = low_bytes_ + chunk_count_ * kChunkSize;
    if (!build_nested_tables(huge_pages, error)) {
        destroy();
        return false;
    }
    return true;
}

bool GuestMemory::build_nested_tables(bool huge_pages, const char** error) {
    bool built = false;
    if (format_ == NestedPagingFormat::IntelEpt) {
        auto* tables = new (kNoThrow) EptTables(huge_pages);
        nested_tables_ = tables;
        if (tables) tables->memory.quota = quota_;
        if (tables)
            built = build_tables(tables, ranges_, range_count_, chunks_, kChunkSize, identity_,
                                 chunk_states_ != nullptr, error);
        if (tables) nested_root_ = tables->table.root();
    } else {
        auto* tables = new (kNoThrow) NptTables(huge_pages);
        nested_tables_ = tables;
        if (tables) tables->memory.quota = quota_;
        if (tables)
            built = build_tables(tables, ranges_, range_count_, chunks_, kChunkSize, identity_,
                                 chunk_states_ != nullptr, error);
        if (tables) nested_root_ = tables->table.root();
    }
    if (!nested_tables_) *error = "out of memory for nested page tables";
    return built;
}

bool GuestMemory::allocate_ram(u64 bytes, const char** error) {
    if (quota_ && !quota_->charge(bytes)) {
        *error = "its RAM passes its memory quota";
        return false;
    }
    // Zeroed now, or (chunk_states_) chunk by chunk on first touch.
    const PhysAddr block = chunk_states_ ? frame_alloc_uncleared(bytes / kPageSize, bytes / kPageSize)
                                         : frame_alloc(bytes / kPageSize, bytes / kPageSize);
    if (block == kNoPhysFrame) {
        if (quota_) quota_->uncharge(bytes);
        *error = "out of host memory for guest RAM";
        return false;
    }
    // Kept as 2 MiB chunks whatever the block: they are freed one by one.
    for (u64 at = 0; at < bytes; at += kChunkSize) chunks_[chunk_count_++] = block + at;
    return true;
}

void GuestMemory::free_ram() {
    if (!balloon_.active()) {
        for (u64 i = 0; i < chunk_count_; ++i) frame_free(chunks_[i], kChunkSize / kPageSize);
        return;
    }
    // Exactly what the domain still owns: whole chunks where nothing was released, the
    // chunk's remaining pages elsewhere, and the frames populated back, which only the
    // p2m records (a foreign entry never stands at such a page: map_foreign_page).
    balloon_.free_plan(
        chunk_count_, [&](u64 chunk) { frame_free(chunks_[chunk], kChunkSize / kPageSize); },
        [&](u64 chunk, u64 index) { frame_free(chunks_[chunk] + index * kPageSize, 1); },
        [&](u64 page) {
            u64 gpa;
            P2mEntry e;
            if (gpa_of_ram_page(ranges_, range_count_, page, gpa) && lookup(gpa, e) &&
                (e.type == P2mType::Ram || e.type == P2mType::RamLogDirty))
                frame_free(e.frame & ~(kPageSize - 1), 1);
        });
}

void GuestMemory::destroy() {
    frames_changed();
    dirty_log_ = false;
    free_retired_tables();  // no CPU walks the tables any more
    free_ram();             // before the tables go: they name the frames populated back
    if (nested_tables_) {
        if (format_ == NestedPagingFormat::IntelEpt)
            release_tables<EptTables>(nested_tables_);
        else
            release_tables<NptTables>(nested_tables_);
        nested_tables_ = nullptr;
    }
    if (quota_) quota_->uncharge(chunk_count_ * kChunkSize + low_bytes_ - balloon_.released() * kPageSize);
    if (balloon_.active()) {
        const u64 bitmap_bytes = BalloonPages::bytes_for(balloon_.pages());
        delete[] balloon_.detach();
        if (quota_) quota_->uncharge(bitmap_bytes);
    }
    delete[] chunks_;
    chunks_ = nullptr;
    delete[] chunk_states_;
    chunk_states_ = nullptr;
    populated_chunks_ = 0;
    huge_pages_ = false;
    chunk_count_ = 0;
    range_count_ = 0;
    ram_bytes_ = 0;
    low_bytes_ = 0;
    identity_ = false;
    nested_root_ = 0;
}

// Runs `f` on the domain's p2m, whichever format it has.
template <typename F>
auto with_p2m(void* tables, NestedPagingFormat format, F f) {
    if (format == NestedPagingFormat::IntelEpt) return f(static_cast<EptTables*>(tables)->table);
    return f(static_cast<NptTables*>(tables)->table);
}

// Frees a batch of retired tables that GuestMemory kept as (list, count).
template <typename Map>
static void free_batch(Map& p2m, PhysAddr list, u64 count) {
    typename Map::Retired r{list, count};
    p2m.free_retired(r);
}

bool GuestMemory::dirty_log_enable(u64* bitmap) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!nested_tables_ || dirty_log_) return false;
    dirty_log_ = with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_enable(bitmap, pages()); });
    return dirty_log_;
}

bool GuestMemory::dirty_log_write_fault(u64 gpa) {
    // Under the lock whether or not a log runs now: a vCPU on another CPU may fault while
    // dirty_log_enable is still write-protecting pages (before dirty_log_ is set), or on a
    // translation it cached before dirty_log_disable made its page writable again; both
    // must retry, not end the domain. Only writes to present pages come here, which RAM
    // outside a log never sees but through such a stale translation.
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!nested_tables_) return false;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) {
        if (p2m.dirty_log_write_fault(gpa)) return true;
        P2mEntry e;
        return p2m.lookup(gpa, e) && e.type == P2mType::Ram && e.writable;
    });
}

u64 GuestMemory::dirty_log_take(u64* out) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!dirty_log_) return 0;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_take(out); });
}

bool GuestMemory::dirty_log_disable() {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!dirty_log_) return false;
    dirty_log_ = false;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) {
        const bool ok = p2m.dirty_log_disable();
        // Step 2 of the rule in mm/p2m.hpp: taken under the lock of the change. One batch
        // waits at a time: a batch still waiting goes back first (it was flushed by the
        // shootdown that followed its own disable, before this one could start).
        if (retired_count_) free_batch(p2m, retired_list_, retired_count_);
        const auto r = p2m.take_retired();
        retired_list_ = r.list;
        retired_count_ = r.count;
        return ok;
    });
}

void GuestMemory::free_retired_tables() {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!retired_count_ || !nested_tables_) return;
    with_p2m(nested_tables_, format_, [&](auto& p2m) {
        free_batch(p2m, retired_list_, retired_count_);
        return true;
    });
    retired_list_ = ~0ull;
    retired_count_ = 0;
}

void GuestMemory::mark_dirty(u64 gpa, u64 len) {
    if (!dirty_log_) return;
    LockGuard<SpinLock> guard(p2m_lock_);
    with_p2m(nested_tables_, format_, [&](auto& p2m) {
        p2m.dirty_log_mark(gpa, len);
        return true;
    });
}

bool GuestMemory::map_passthrough(u64 gpa, u64 bytes, const MmioBus* claims) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!identity_ || !nested_tables_) return false;
    if (claims && claims->overlaps(gpa, bytes)) return false;
    // Device registers: never executed, never cached (the guest's PAT cannot make them
    // cacheable: the nested UC type wins, AMD APM vol. 2 15.25.8, Intel SDM vol. 3C 29.3.7.2).
    return with_p2m(nested_tables_, format_,
                    [&](auto& p2m) { return p2m.map(gpa, gpa, bytes, P2mType::MmioPassthrough, true, false); });
}

bool GuestMemory::unmap_passthrough(u64 gpa, u64 bytes) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!identity_ || !nested_tables_) return false;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.unmap(gpa, bytes); });
}

bool GuestMemory::foreign_source_frame(u64 gpa, PhysAddr& frame) {
    populate(gpa);  // RAM zeroed on first touch is zeroed before another domain sees it
    LockGuard<SpinLock> guard(p2m_lock_);
    P2mEntry e;
    if ((gpa & (kPageSize - 1)) || !contains(gpa, kPageSize) || !lookup(gpa, e) ||
        (e.type != P2mType::Ram && e.type != P2mType::RamLogDirty))
        return false;
    frame = e.frame & ~(kPageSize - 1);
    return true;
}

bool GuestMemory::map_foreign_page(u64 gpa, PhysAddr frame, PhysAddr& original) {
    populate(gpa);  // a chunk never touched has no entry to replace yet
    LockGuard<SpinLock> guard(p2m_lock_);
    P2mEntry e;
    if ((gpa & (kPageSize - 1)) || !contains(gpa, kPageSize) || !lookup(gpa, e) || e.type != P2mType::Ram) return false;
    u64 page;
    if (balloon_.active() && ram_page_of(ranges_, range_count_, gpa, page) && balloon_.detached(page)) return false;
    original = e.frame & ~(kPageSize - 1);
    // A large leaf is split around the page (charged to this domain's quota, as any split).
    return with_p2m(nested_tables_, format_,
                    [&](auto& p2m) { return p2m.map(gpa, frame, kPageSize, P2mType::Foreign, true, false); });
}

bool GuestMemory::unmap_foreign_page(u64 gpa, PhysAddr original) {
    LockGuard<SpinLock> guard(p2m_lock_);
    P2mEntry e;
    if ((gpa & (kPageSize - 1)) || !lookup(gpa, e) || e.type != P2mType::Foreign) return false;
    // RAM is mapped writable and executable (build_nested_tables), and is again; while
    // this domain's own dirty log runs, write-protected and log-dirty, as its other pages.
    const P2mType type = dirty_log_ ? P2mType::RamLogDirty : P2mType::Ram;
    return with_p2m(nested_tables_, format_,
                    [&](auto& p2m) { return p2m.map(gpa, original, kPageSize, type, !dirty_log_, true); });
}

bool GuestMemory::balloon_enable(u64* words) {
    LockGuard<SpinLock> guard(p2m_lock_);
    const u64 pages = ram_bytes_ / kPageSize;
    if (identity_ || !nested_tables_ || balloon_.active() || !words) return false;
    if (quota_ && !quota_->charge(BalloonPages::bytes_for(pages))) return false;
    balloon_.attach(words, pages);
    return true;
}

GuestMemory::BalloonError GuestMemory::balloon_release(u64 gpa, PhysAddr& frame) {
    // A page of a chunk never touched is released as any other: zeroed and mapped first,
    // so the release and everything after it see a chunk in the usual state.
    populate(gpa);
    LockGuard<SpinLock> guard(p2m_lock_);
    if (identity_ || !nested_tables_) return BalloonError::Invalid;
    if (dirty_log_) return BalloonError::WrongState;
    u64 page;
    P2mEntry e;
    if ((gpa & (kPageSize - 1)) || !balloon_.active() || !ram_page_of(ranges_, range_count_, gpa, page) ||
        !lookup(gpa, e) || e.type != P2mType::Ram)
        return BalloonError::Invalid;
    // A large leaf is split around the page (charged, as any split): that may fail.
    if (!with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.unmap(gpa, kPageSize); }))
        return BalloonError::NoMemory;
    frame = e.frame & ~(kPageSize - 1);
    frames_changed();
    balloon_.release(page);
    if (quota_) quota_->uncharge(kPageSize);
    return BalloonError::None;
}

void GuestMemory::balloon_free_frames(const PhysAddr* frames, usize count) {
    for (usize i = 0; i < count; ++i) frame_free(frames[i], 1);
}

GuestMemory::BalloonError GuestMemory::balloon_populate(u64 gpa) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (identity_ || !nested_tables_) return BalloonError::Invalid;
    u64 page;
    P2mEntry e;
    if ((gpa & (kPageSize - 1)) || !ram_page_of(ranges_, range_count_, gpa, page) || !balloon_.detached(page) ||
        lookup(gpa, e))
        return BalloonError::Invalid;
    if (quota_ && !quota_->charge(kPageSize)) return BalloonError::NoMemory;
    const PhysAddr frame = frame_alloc(1);  // zeroed
    // Writable and executable, as all RAM (build_nested_tables); the table the release
    // split is still there, so this needs no memory unless a merge took it. Under a dirty
    // log (only a restart populates then: domain_balloon refuses) the new page is dirty,
    // and the next take write-protects it like the others.
    const bool mapped = frame != kNoPhysFrame && with_p2m(nested_tables_, format_, [&](auto& p2m) {
                            if (!p2m.map(gpa, frame, kPageSize, P2mType::Ram, true, true)) return false;
                            p2m.dirty_log_mark(gpa, kPageSize);
                            return true;
                        });
    if (!mapped) {
        if (frame != kNoPhysFrame) frame_free(frame, 1);
        if (quota_) quota_->uncharge(kPageSize);
        return BalloonError::NoMemory;
    }
    frames_changed();
    balloon_.populate(page);
    return BalloonError::None;
}

bool GuestMemory::balloon_populate_all() {
    if (!balloon_.active()) return true;
    for (u64 page = 0; page < balloon_.pages() && balloon_.released(); ++page) {
        u64 gpa;
        P2mEntry e;
        if (!balloon_.detached(page) || !gpa_of_ram_page(ranges_, range_count_, page, gpa) || lookup(gpa, e)) continue;
        if (balloon_populate(gpa) != BalloonError::None) return false;
    }
    return true;
}

bool GuestMemory::lookup(u64 gpa, P2mEntry& out) const {
    if (!nested_tables_) return false;
    if (format_ == NestedPagingFormat::IntelEpt)
        return static_cast<const EptTables*>(nested_tables_)->table.lookup(gpa, out);
    return static_cast<const NptTables*>(nested_tables_)->table.lookup(gpa, out);
}

bool GuestMemory::contains(u64 gpa, u64 len) const {
    for (usize i = 0; i < range_count_; ++i) {
        const GuestRamRange& r = ranges_[i];
        if (gpa >= r.gpa && gpa - r.gpa < r.bytes) return len <= r.bytes - (gpa - r.gpa);
    }
    return false;
}

bool GuestMemory::chunk_of(u64 gpa, u64& chunk, u64& chunk_gpa) const {
    u64 page;
    if (!chunk_states_ || !ram_page_of(ranges_, range_count_, gpa, page)) return false;
    const u64 ram_offset = page * kPageSize + gpa % kPageSize;
    chunk = ram_offset / kChunkSize;
    chunk_gpa = gpa - ram_offset % kChunkSize;
    return true;
}

void GuestMemory::populate_chunk(u64 chunk, u64 chunk_gpa) {
    u8 expected = kChunkUnpopulated;
    if (!__atomic_compare_exchange_n(&chunk_states_[chunk], &expected, kChunkZeroing, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_ACQUIRE)) {
        // Another CPU zeroes it (a vCPU's fault, or the hypervisor for a control call):
        // a few hundred microseconds at most, with no lock held that it could need.
        while (!chunk_populated(chunk)) __builtin_ia32_pause();
        return;
    }
    frame_clear(chunks_[chunk], kChunkSize / kPageSize);
    LockGuard<SpinLock> guard(p2m_lock_);
    with_p2m(nested_tables_, format_, [&](auto& p2m) {
        // Writable and executable, as all RAM (build_nested_tables); while a dirty log
        // runs, write-protected, as dirty_log_enable would have left it, so that the
        // guest's writes are logged. Not dirty itself: nothing ever read the chunk before
        // (the first read populates it), so its zeros are news to no one, and marking
        // 2 MiB for every chunk a migration's first pass populates would send them twice.
        const bool logging = p2m.dirty_log_active();
        // Cannot fail (build_tables left every table in place); were it to, the guest
        // would meet memory outside its RAM there and end, which is all it could do.
        const bool mapped = p2m.map(chunk_gpa, chunks_[chunk], kChunkSize,
                                    logging ? P2mType::RamLogDirty : P2mType::Ram, !logging, true);
        // Populated under the lock, so that of two CPUs populating a gigabyte's last two
        // chunks at once, the second sees the first's and merges.
        __atomic_add_fetch(&populated_chunks_, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&chunk_states_[chunk], kChunkPopulated, __ATOMIC_RELEASE);
        // The last chunk of a gigabyte of host memory that can be one 1 GiB leaf: it
        // becomes one (the table retired, P2m's rule: freed after the next shootdown that
        // takes it, or with the tree). Not while a log runs: a merge there would fold
        // tables whose pages the log made writable again, which its next take would have
        // to split (dirty_log_disable merges everything afterwards anyway).
        const u64 gigabyte = align_down(chunk_gpa, GiB);
        if (mapped && !logging && huge_pages_ && contains(gigabyte, GiB)) {
            const u64 first = chunk - (chunk_gpa - gigabyte) / kChunkSize;
            bool all = true;
            for (u64 c = first; c < first + GiB / kChunkSize && all; ++c) all = chunk_populated(c);
            if (all) p2m.merge(gigabyte, GiB);
        }
        return mapped;
    });
}

bool GuestMemory::touched(u64 gpa) const {
    u64 chunk, chunk_gpa;
    return !chunk_of(gpa, chunk, chunk_gpa) || chunk_populated(chunk);
}

bool GuestMemory::populate(u64 gpa) {
    u64 chunk, chunk_gpa;
    if (!chunk_of(gpa, chunk, chunk_gpa)) return contains(gpa, 1);
    if (!chunk_populated(chunk)) populate_chunk(chunk, chunk_gpa);
    return true;
}

bool GuestMemory::populate_on_fault(u64 gpa, bool present) {
    u64 chunk, chunk_gpa;
    if (present || !chunk_of(gpa, chunk, chunk_gpa)) return false;
    if (!chunk_populated(chunk)) {
        populate_chunk(chunk, chunk_gpa);
        return true;
    }
    // Populated already: by another CPU after this fault (retry), or this is a page the
    // balloon took, which is not ours to handle.
    LockGuard<SpinLock> guard(p2m_lock_);
    P2mEntry e;
    return lookup(gpa, e) && (e.type == P2mType::Ram || e.type == P2mType::RamLogDirty);
}

u64 GuestMemory::populated_bytes() const {
    if (!chunk_states_) return chunk_count_ * kChunkSize;
    return __atomic_load_n(&populated_chunks_, __ATOMIC_RELAXED) * kChunkSize;
}

u64 GuestMemory::whole_host_gigabytes() const {
    if (!chunk_states_) return gigabyte_leaves();
    if (!huge_pages_) return 0;
    u64 count = 0, first = 0;
    for (usize r = 0; r < range_count_; ++r) {
        for (u64 offset = 0; offset < ranges_[r].bytes; offset += kChunkSize) {
            const u64 chunk = first + offset / kChunkSize;
            if ((ranges_[r].gpa + offset) % GiB || ranges_[r].bytes - offset < GiB || chunks_[chunk] % GiB) continue;
            bool contiguous = true;
            for (u64 c = 1; c < GiB / kChunkSize && contiguous; ++c)
                contiguous = chunks_[chunk + c] == chunks_[chunk] + c * kChunkSize;
            count += contiguous;
        }
        first += ranges_[r].bytes / kChunkSize;
    }
    return count;
}

u64 GuestMemory::gigabyte_leaves() const {
    u64 count = 0;
    for (u64 gpa = 0; gpa < end(); gpa += GiB) {
        P2mEntry e;
        if (lookup(gpa, e) && e.page_size == GiB) ++count;
    }
    return count;
}

void* GuestMemory::host_pointer(u64 gpa, usize& contiguous) {
    if (identity_) {
        for (usize i = 0; i < range_count_; ++i) {
            const GuestRamRange& r = ranges_[i];
            if (gpa >= r.gpa && gpa - r.gpa < r.bytes) contiguous = usize(r.gpa + r.bytes - gpa);
        }
        return phys_to_virt(gpa);
    }
    u64 ram_offset = 0;
    for (usize i = 0; i < range_count_; ++i) {
        const GuestRamRange& r = ranges_[i];
        if (gpa >= r.gpa && gpa - r.gpa < r.bytes) {
            ram_offset += gpa - r.gpa;
            break;
        }
        ram_offset += r.bytes;
    }
    contiguous = usize(kChunkSize - ram_offset % kChunkSize);
    if (!chunk_populated(ram_offset / kChunkSize))
        populate_chunk(ram_offset / kChunkSize, gpa - ram_offset % kChunkSize);
    if (balloon_.active()) {
        // Page by page now. The bit and the p2m say where the page is; nothing here is
        // held past this access, which runs without posted CPU work (cpu_work.hpp) in
        // between: a release's shootdown waits for this CPU to run its flush, so the
        // frame found here is freed only after the access is over.
        contiguous = usize(kPageSize - ram_offset % kPageSize);
        if (balloon_.detached(ram_offset / kPageSize)) {
            LockGuard<SpinLock> guard(p2m_lock_);
            P2mEntry e;
            if (!lookup(gpa, e) || (e.type != P2mType::Ram && e.type != P2mType::RamLogDirty)) return nullptr;
            return phys_to_virt(e.frame);
        }
    }
    return phys_to_virt(chunks_[ram_offset / kChunkSize] + ram_offset % kChunkSize);
}

const void* GuestMemory::page_view(u64 gpa, usize len) {
    if (len == 0 || (gpa & (kPageSize - 1)) + len > kPageSize || !contains(gpa, len)) return nullptr;
    usize contiguous;
    return host_pointer(gpa, contiguous);  // null for a released page
}

bool GuestMemory::read(u64 gpa, void* dst, usize len) {
    // The usual read (an instruction fetched at an exit, a guest page-table entry, a
    // hypercall's argument) lies in one chunk: found in one pass over the ranges, which
    // is what every exit that decodes pays for (issue 17's exit path). The rest, and any
    // balloon or identity-mapped RAM, take the general path.
    if (!identity_ && !balloon_.active()) {
        u64 ram_offset = 0;
        for (usize i = 0; i < range_count_; ++i) {
            const GuestRamRange& r = ranges_[i];
            const u64 into = gpa - r.gpa;  // wraps (huge) below the range
            if (into < r.bytes) {
                if (len > r.bytes - into) return false;
                ram_offset += into;
                const u64 in_chunk = ram_offset % kChunkSize;
                if (in_chunk + len > kChunkSize) break;
                if (!chunk_populated(ram_offset / kChunkSize)) populate_chunk(ram_offset / kChunkSize, gpa - in_chunk);
                memcpy(dst, phys_to_virt(chunks_[ram_offset / kChunkSize] + in_chunk), len);
                return true;
            }
            ram_offset += r.bytes;
        }
    }
    if (!contains(gpa, len)) return false;
    auto* out = static_cast<u8*>(dst);
    while (len) {
        usize piece;
        const void* from = host_pointer(gpa, piece);
        if (!from) return false;  // a released page
        if (piece > len) piece = len;
        memcpy(out, from, piece);
        out += piece;
        gpa += piece;
        len -= piece;
    }
    return true;
}

bool GuestMemory::write(u64 gpa, const void* src, usize len) {
    if (!contains(gpa, len)) return false;
    mark_dirty(gpa, len);
    const auto* in = static_cast<const u8*>(src);
    while (len) {
        usize piece;
        void* to = host_pointer(gpa, piece);
        if (!to) return false;  // a released page
        if (piece > len) piece = len;
        memcpy(to, in, piece);
        in += piece;
        gpa += piece;
        len -= piece;
    }
    return true;
}

bool GuestMemory::compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) {
    // Naturally aligned 1-, 4- or 8-byte values never straddle a chunk.
    if ((size != 1 && size != 4 && size != 8) || gpa % size || !contains(gpa, size)) return false;
    mark_dirty(gpa, size);
    usize contiguous;
    void* entry = host_pointer(gpa, contiguous);
    if (!entry) return false;  // a released page
    if (size == 8) {
        exchanged = __atomic_compare_exchange_n(static_cast<u64*>(entry), &expected, desired, false, __ATOMIC_SEQ_CST,
                                                __ATOMIC_SEQ_CST);
    } else if (size == 4) {
        u32 expected32 = u32(expected);
        exchanged = __atomic_compare_exchange_n(static_cast<u32*>(entry), &expected32, u32(desired), false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    } else {
        u8 expected8 = u8(expected);
        exchanged = __atomic_compare_exchange_n(static_cast<u8*>(entry), &expected8, u8(desired), false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    return true;
}
