// Foreign mappings, as Xen gives its toolstack with XENMAPSPACE_gmfn_foreign: pages of a
// control domain's RAM that show another domain's pages instead of their own, so that
// Domain-0's domain builder writes a new domain's kernel straight into its memory (and
// later save and migration read it) with no copy through the hypervisor. The control
// domain gives up pages of its own for it (Domain-0's module allocates them), and gets
// them back, as they were, when it unmaps.
//
// Lifetime: a mapping holds a reference to the mapped domain (its id stays taken while
// any remains). When that domain's memory goes back (destroy, or a boot domain's end),
// every mapping of it is revoked first: the mapper's pages are its own again and every
// CPU is flushed before a frame is freed, so no mapping ever reaches freed memory. The
// mapper's handle stays valid until it unmaps. A mapper's own mappings end with its
// memory. At most kForeignMapRecords mappings exist at once, of at most
// kForeignMapMaxPages (hypercall_abi.hpp) pages each.
#pragma once

#include "kernel/spinlock.hpp"
#include "kernel/types.hpp"

struct Domain;

inline constexpr u32 kForeignMapRecords = 64;

// Maps `count` pages of `target` from its guest frame `first_gfn` at the mapper's RAM
// pages `local_gfns` (its guest frame numbers). Returns a handle (>= 0) or a hypercall
// error: kErrorInvalid (a count out of range, a page that is not RAM on the target's side
// (plain, or log-dirty) or plain RAM on the mapper's, a page named twice), kErrorWrongState (the target's memory is
// going), kErrorNoMemory (no record free, or no quota for the bookkeeping or a split). On an error nothing stays
// mapped.
i64 foreign_map(Domain& mapper, Domain& target, u64 first_gfn, const u64* local_gfns, u32 count);
// Ends the mapping `handle` names (kErrorInvalid when it names none of the mapper's):
// its pages are its own again on every CPU when this returns.
i64 foreign_unmap(Domain& mapper, u64 handle);
// Called once as `domain`'s memory goes back (domain_release_resources), before it does.
void foreign_mappings_release(Domain& domain);
// A dirty log and foreign mappings of the same domain (live migration with its device
// model running): writes through a mapping go straight to the frames, past the log, so
// a page counts as written when its mapping ends (foreign_unmap), and at a migration's
// last take every page still mapped does (foreign_mark_mapped_written_locked, once the
// device model that writes through them has stopped). No page written through a mapping
// is missed by the last round.
//
// The mappings' lock, held by callers of the two below: it is taken before any domain's
// lock (the order foreign_mappings.cpp keeps), so that no mapping starts or ends while
// the caller acts on the answer.
SpinLock& foreign_mappings_lock();
// Whether another domain maps `target`'s page `gfn` now (its balloon must not release
// it), with the mappings' lock held by the caller, as above.
bool foreign_page_mapped_locked(const Domain& target, u64 gfn);
// Marks every page of `target` that others map now as written in its dirty log (if one
// runs), with the mappings' lock and then the target's lock held by the caller.
void foreign_mark_mapped_written_locked(Domain& target);
