// Memory ballooning, the hypervisor's side (virtio-balloon and `xm mem-set`, as Xen's
// XENMEM_decrease_reservation, XENMEM_populate_physmap and memory target): a domain's
// device model in Domain-0 hears from the guest's balloon driver which of its pages it
// gives back (inflate) or wants again (deflate) and asks for them here by guest frame
// number; the toolstack sets the memory target the device model works towards.
//
// Lock and flush story. Per page, the mappings' lock (foreign_mappings.hpp), then the
// domain's, then its p2m's (inside GuestMemory): the domain's state is checked (no
// destroy, restart or dirty log), no other domain maps the page (a mapping cannot start
// meanwhile), and the page is unmapped and uncharged; its frame goes on a list. Once the
// batch is done, with no lock held, every CPU is flushed (domain_tlb_shootdown), and only
// then are the frames freed: no CPU can reach them any more, through the guest's cached
// translations or through a hypervisor access begun before the flush (GuestMemory's
// host_pointer). A populate adds access only: a zeroed frame, charged, mapped under the
// same locks, with no flush. A destroy that comes meanwhile frees what the domain still
// owns (the list's frames are no longer its own); a restart populates every released page
// again.
#pragma once

#include "kernel/types.hpp"

struct Domain;

// Operation `op` (hypercall::BalloonOp) on the pages `gfns` of the domain: how many were
// done, in order, stopping at the first that fails; the error (hypercall_abi.hpp) when
// the first fails: kErrorInvalid (identity-mapped RAM, not plain RAM to release, not
// released to populate), kErrorBusy (another domain maps it), kErrorNoMemory (no quota,
// frame or table memory), kErrorWrongState (being destroyed or restarted, or its dirty
// log runs). `count` is at most hypercall::kBalloonMaxPages.
i64 domain_balloon(Domain& domain, u64 op, const u64* gfns, u32 count);
// hypercall::MemoryTargetOp: get gives the target in bytes; set stores `bytes` (from 16
// MiB, or its RAM when smaller, to its RAM at creation) and raises Domain-0's event line
// so its device model looks.
i64 domain_memory_target(Domain& domain, u64 op, u64 bytes);
