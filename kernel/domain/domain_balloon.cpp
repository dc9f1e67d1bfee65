#include "kernel/domain/domain_balloon.hpp"

#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/foreign_mappings.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace {

using namespace hypercall;

constexpr u64 kMaxGfn = GuestMemory::kMaxGuestPhysical / kPageSize;

// Under the domain's lock: whether its memory may change now.
i64 state_error_locked(const Domain& d) {
    // A restart populates every page again (domain_restart.cpp); a dirty log would miss
    // the pages that come back, and migration would copy the ones that went.
    if (d.resources_released || d.lifecycle.being_destroyed() || d.restart_busy || d.dirty_bitmap)
        return kErrorWrongState;
    return 0;
}

i64 error_of(GuestMemory::BalloonError e) {
    switch (e) {
        case GuestMemory::BalloonError::None: return 0;
        case GuestMemory::BalloonError::Invalid: return kErrorInvalid;
        case GuestMemory::BalloonError::NoMemory: return kErrorNoMemory;
        case GuestMemory::BalloonError::WrongState: return kErrorWrongState;
    }
    return kErrorInvalid;
}

// The bookkeeping of released pages, made at the first release: allocated here with no
// lock held, handed over (and charged to the quota) under the domain's lock.
i64 enable_bookkeeping(Domain& d) {
    if (d.memory.balloon_active()) return 0;
    auto* words = new (kNoThrow) u64[d.memory.balloon_bitmap_words()];
    if (!words) return kErrorNoMemory;
    i64 result;
    {
        LockGuard<SpinLock> guard(d.lock);
        result = state_error_locked(d);
        if (result == 0 && !d.memory.balloon_active()) {
            if (d.memory.balloon_enable(words))
                words = nullptr;  // the memory's now
            else
                result = kErrorNoMemory;  // no quota for it
        }
    }
    delete[] words;
    return result;
}

// Unmap all, one shootdown, then free (domain_balloon.hpp).
i64 release(Domain& d, const u64* gfns, u32 count) {
    if (const i64 error = enable_bookkeeping(d)) return error;
    auto* frames = new (kNoThrow) PhysAddr[count];
    if (!frames) return kErrorNoMemory;
    u32 done = 0;
    i64 error = 0;
    for (u32 i = 0; i < count && error == 0; ++i) {
        // The mappings' lock first: no mapping of the page starts between the check and
        // the unmap (a device model drops its own mappings of a page before it asks).
        LockGuard<SpinLock> foreign_guard(foreign_mappings_lock());
        LockGuard<SpinLock> guard(d.lock);
        error = state_error_locked(d);
        if (error == 0 && gfns[i] >= kMaxGfn) error = kErrorInvalid;
        if (error == 0 && foreign_page_mapped_locked(d, gfns[i])) error = kErrorBusy;
        if (error == 0) error = error_of(d.memory.balloon_release(gfns[i] * kPageSize, frames[done]));
        if (error == 0) ++done;
    }
    // Until this flush a CPU may still reach the frames (cached translations, or a
    // hypervisor access to the guest's RAM begun before the unmap).
    if (done) domain_tlb_shootdown(d);
    GuestMemory::balloon_free_frames(frames, done);
    delete[] frames;
    return done ? i64(done) : error;
}

i64 populate(Domain& d, const u64* gfns, u32 count) {
    u32 done = 0;
    i64 error = 0;
    for (u32 i = 0; i < count && error == 0; ++i) {
        LockGuard<SpinLock> guard(d.lock);
        error = state_error_locked(d);
        if (error == 0 && gfns[i] >= kMaxGfn) error = kErrorInvalid;
        if (error == 0) error = error_of(d.memory.balloon_populate(gfns[i] * kPageSize));
        if (error == 0) ++done;
    }
    return done ? i64(done) : error;
}

}  // namespace

i64 domain_balloon(Domain& d, u64 op, const u64* gfns, u32 count) {
    if (count == 0 || count > kBalloonMaxPages) return count == 0 ? kErrorInvalid : kErrorTooBig;
    // Domain-0's RAM is identity-mapped and its own to manage.
    if (d.memory.identity()) return kErrorInvalid;
    switch (op) {
        case kBalloonRelease: return release(d, gfns, count);
        case kBalloonPopulate: return populate(d, gfns, count);
        default: return kErrorInvalid;
    }
}

i64 domain_memory_target(Domain& d, u64 op, u64 bytes) {
    switch (op) {
        case kMemoryTargetGet: return i64(__atomic_load_n(&d.memory_target, __ATOMIC_RELAXED));
        case kMemoryTargetSet: {
            {
                LockGuard<SpinLock> guard(d.lock);
                if (d.resources_released || d.lifecycle.being_destroyed()) return kErrorWrongState;
                // Its maxmem is its RAM at creation; a domain smaller than the floor may
                // still be set to its own size.
                const u64 most = d.memory.layout_size();
                const u64 least = most < kMinMemoryTarget ? most : kMinMemoryTarget;
                if (bytes < least || bytes > most) return kErrorInvalid;
                __atomic_store_n(&d.memory_target, bytes, __ATOMIC_RELAXED);
            }
            {
                // Its device model's page: the server goes with the domain's resources,
                // which a destroy meanwhile releases only after this use.
                const DomainPlatformUse use(d);
                if (use.platform()) ioreq_memory_target_changed(d);
            }
            dom0_event_raise();  // its device model reads the target again
            return 0;
        }
        default: return kErrorInvalid;
    }
}
