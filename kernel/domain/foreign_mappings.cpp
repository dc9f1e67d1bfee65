#include "kernel/domain/foreign_mappings.hpp"

#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/domain/foreign_map_table.hpp"
#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "mm/p2m.hpp"

namespace {

using namespace hypercall;

// Lock order: g_lock, then a domain's lock, then a domain's p2m lock. Nobody takes g_lock
// holding a domain's lock. Flushes (domain_tlb_shootdown) happen with none held.
SpinLock g_lock;
ForeignMapTable<kForeignMapRecords> g_table;

constexpr u64 kMaxGfn = GuestMemory::kMaxGuestPhysical / kPageSize;

u64 bookkeeping_bytes(u32 count) { return u64(count) * 2 * sizeof(u64); }

// Puts the mapper's own frames back at the first `done` pages of `r`. It cannot fail: a
// foreign page is always a 4 KiB leaf (P2m::merge never merges them), so no split is
// needed; a failure would be a bug, and is said.
void restore(Domain& mapper, const ForeignMapRecord& r, u32 done) {
    for (u32 i = done; i-- > 0;) {
        const u64 gpa = r.pages[2 * usize(i)] * kPageSize;
        if (!mapper.memory.unmap_foreign_page(gpa, r.pages[2 * usize(i) + 1]))
            log_error("domain %u (%s): its page at %#llx could not be given its own frame back", mapper.id, mapper.name,
                      (unsigned long long)gpa);
    }
}

// The target's dirty log cannot see writes through a mapping (they go straight to its
// frames): while a log runs, the pages count as written when their mapping ends. With
// g_lock held; the target's lock is taken after it, as the lock order says.
void mark_written(Domain& target, const ForeignMapRecord& r) {
    LockGuard<SpinLock> guard(target.lock);
    if (target.dirty_bitmap && !target.resources_released)
        target.memory.dirty_log_mark(r.first_gfn * kPageSize, u64(r.count) * kPageSize);
}

// Maps the pages under every lock; returns the handle or an error, and how many pages
// changed frames (which the caller flushes).
i64 map_locked(Domain& mapper, Domain& target, u64 first_gfn, const u64* local_gfns, u32 count, u64* pages,
               u32& changed) {
    LockGuard<SpinLock> guard(g_lock);
    LockGuard<SpinLock> target_guard(target.lock);
    if (target.resources_released || target.lifecycle.being_destroyed()) return kErrorWrongState;
    const u32 slot = g_table.claim(&mapper, &target);
    if (slot == g_table.kNoSlot) return kErrorNoMemory;
    ForeignMapRecord probe{};  // what restore needs to undo a partial map
    probe.pages = pages;
    i64 error = 0;
    for (u32 i = 0; i < count && !error; ++i) {
        const u64 local = local_gfns[i];
        PhysAddr frame, original;
        P2mEntry e;
        if (local >= kMaxGfn || !target.memory.foreign_source_frame((first_gfn + i) * kPageSize, frame) ||
            !mapper.memory.populate(local * kPageSize) || !mapper.memory.lookup(local * kPageSize, e) ||
            e.type != P2mType::Ram) {
            error = kErrorInvalid;
        } else if (!mapper.memory.map_foreign_page(local * kPageSize, frame, original)) {
            error = kErrorNoMemory;  // no table memory (or quota) to split a large page
        } else {
            pages[2 * usize(i)] = local;
            pages[2 * usize(i) + 1] = original;
            ++changed;
        }
    }
    ForeignMapRecord& r = g_table.record(slot);
    if (error) {
        restore(mapper, probe, changed);
        g_table.release(r);
        return error;
    }
    r.first_gfn = first_gfn;
    r.count = count;
    r.pages = pages;
    domain_get(target);  // the record's
    return i64(g_table.handle(slot));
}

}  // namespace

i64 foreign_map(Domain& mapper, Domain& target, u64 first_gfn, const u64* local_gfns, u32 count) {
    if (&mapper == &target || count == 0 || count > kForeignMapMaxPages || first_gfn >= kMaxGfn ||
        count > kMaxGfn - first_gfn)
        return kErrorInvalid;
    if (!mapper.quota.charge(bookkeeping_bytes(count))) return kErrorNoMemory;
    u64* pages = new (kNoThrow) u64[2 * usize(count)];
    if (!pages) {
        mapper.quota.uncharge(bookkeeping_bytes(count));
        return kErrorNoMemory;
    }
    u32 changed = 0;
    const i64 result = map_locked(mapper, target, first_gfn, local_gfns, count, pages, changed);
    // The mapper's CPUs may cache the frames its pages had (or, after an undo, the
    // target's): none may once this returns.
    if (changed) domain_tlb_shootdown(mapper);
    if (result < 0) {
        delete[] pages;
        mapper.quota.uncharge(bookkeeping_bytes(count));
    }
    return result;
}

i64 foreign_unmap(Domain& mapper, u64 handle) {
    ForeignMapRecord* r;
    {
        LockGuard<SpinLock> guard(g_lock);
        r = g_table.find(handle, &mapper);
        if (!r) return kErrorInvalid;
        if (r->state == ForeignMapState::Mapped) {
            restore(mapper, *r, r->count);
            mark_written(*static_cast<Domain*>(const_cast<void*>(r->target)), *r);
        }
        r->state = ForeignMapState::Unmapping;  // found by nobody now; a revoke flushes too
    }
    domain_tlb_shootdown(mapper);
    u64* pages;
    u32 count;
    Domain* target;
    {
        LockGuard<SpinLock> guard(g_lock);
        pages = r->pages;
        count = r->count;
        target = static_cast<Domain*>(const_cast<void*>(r->target));
        g_table.release(*r);
    }
    delete[] pages;
    mapper.quota.uncharge(bookkeeping_bytes(count));
    domain_put(*target);
    return 0;
}

void foreign_mappings_release(Domain& d) {
    u64* pages[kForeignMapRecords];
    Domain* targets[kForeignMapRecords];
    u32 ended = 0, revoked = 0;
    u64 uncharge = 0;
    bool flush = false;
    {
        LockGuard<SpinLock> guard(g_lock);
        g_table.for_each_in_use([&](ForeignMapRecord& r) {
            if (r.target == &d) {
                // Revoked: the mapper's pages are its own again, its handle stays.
                Domain& mapper = *static_cast<Domain*>(const_cast<void*>(r.mapper));
                if (r.state == ForeignMapState::Mapped) restore(mapper, r, r.count);
                if (r.state != ForeignMapState::Revoked) flush = true;  // an unmap's flush may be in flight
                if (r.state == ForeignMapState::Mapped) {
                    r.state = ForeignMapState::Revoked;
                    ++revoked;
                }
            } else if (r.mapper == &d) {
                // Its own memory goes: nothing to put back; the mapping ends with it, and
                // its pages count as written in the target's dirty log, as at an unmap.
                mark_written(*static_cast<Domain*>(const_cast<void*>(r.target)), r);
                pages[ended] = r.pages;
                targets[ended++] = static_cast<Domain*>(const_cast<void*>(r.target));
                uncharge += bookkeeping_bytes(r.count);
                g_table.release(r);
            }
        });
    }
    // No CPU may reach the frames about to be freed through a mapper's cached translation.
    if (flush) domain_tlb_shootdown(d);
    if (revoked)
        log_info("domain %u (%s): %u mapping(s) of its memory by other domains revoked", d.id, d.name, revoked);
    d.quota.uncharge(uncharge);
    for (u32 i = 0; i < ended; ++i) {
        delete[] pages[i];
        domain_put(*targets[i]);
    }
}

SpinLock& foreign_mappings_lock() { return g_lock; }

bool foreign_page_mapped_locked(const Domain& target, u64 gfn) { return g_table.maps_page(&target, gfn); }

void foreign_mark_mapped_written_locked(Domain& target) {
    g_table.for_each_mapping_of(&target, [&](u64 first_gfn, u32 count) {
        target.memory.dirty_log_mark(first_gfn * kPageSize, u64(count) * kPageSize);
    });
}
