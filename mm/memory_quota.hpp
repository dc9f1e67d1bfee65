// A domain's memory quota: what it may cost the host, counted in bytes of host memory.
// Its RAM is charged, and so is every hypervisor structure that exists because of it (the
// domain object, its nested page tables, vCPU control blocks and FPU pages, its devices,
// a dirty log's bitmap), as Xen bounds a domain by max_pages plus its paging pool (Xen's
// xen/arch/x86/mm/p2m-pod.c and paging_set_allocation). A charge that would pass the
// limit fails and changes nothing, so the request that needed the memory fails with an
// error instead of taking it from the host or from other domains. Lock-free (a CAS loop):
// charges come from any CPU, page faults of the dirty log included. Pure; host-tested.
#pragma once

#include "kernel/types.hpp"

class MemoryQuota {
public:
    // What a domain of `ram_bytes` with `vcpus` vCPUs may spend on hypervisor structures
    // beside its RAM: its tables split down to 4 KiB pages (one 4 KiB table per 2 MiB,
    // RAM / 512, with the upper levels) and a dirty log's bitmap (RAM / 32768) fit in
    // RAM / 256; each vCPU's control block, FPU page and local APIC in 64 KiB; the domain
    // object and its devices in 1 MiB.
    static constexpr u64 overhead_allowance(u64 ram_bytes, u32 vcpus) {
        return ram_bytes / 256 + u64(vcpus) * 64 * KiB + 1 * MiB;
    }

    void set_limit(u64 bytes) { __atomic_store_n(&limit_, bytes, __ATOMIC_RELAXED); }
    u64 limit() const { return __atomic_load_n(&limit_, __ATOMIC_RELAXED); }
    u64 used() const { return __atomic_load_n(&used_, __ATOMIC_RELAXED); }

    // Adds `bytes` unless the total would pass the limit; false then, with nothing added.
    bool charge(u64 bytes) {
        u64 used = __atomic_load_n(&used_, __ATOMIC_RELAXED);
        const u64 limit = this->limit();
        do {
            if (bytes > limit || used > limit - bytes) return false;
        } while (!__atomic_compare_exchange_n(&used_, &used, used + bytes, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
        return true;
    }

    // Gives back what a charge took. Giving back more than was charged is a bug of the
    // caller's; the count then stops at zero rather than wrapping around.
    void uncharge(u64 bytes) {
        u64 used = __atomic_load_n(&used_, __ATOMIC_RELAXED);
        u64 next;
        do {
            next = bytes > used ? 0 : used - bytes;
        } while (!__atomic_compare_exchange_n(&used_, &used, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    }

private:
    u64 limit_ = 0;
    u64 used_ = 0;
};
