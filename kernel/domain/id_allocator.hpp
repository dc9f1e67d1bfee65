// Hands out small integer ids (domain ids, VPIDs) from [first, last], one at a time,
// and takes them back. Ids are handed out round-robin from after the last one given, as
// Xen does with domain ids, so a freed id is not reused at once: a stale reference (a
// toolstack's "destroy 5" racing the domain's end) finds no domain rather than a new one.
// Not thread safe: the owner holds its lock around it.
#pragma once

#include "kernel/types.hpp"

class IdAllocator {
public:
    static constexpr u32 kMaxIds = 65536;
    static constexpr u32 kNone = ~0u;

    // [first, last] with last - first < kMaxIds.
    IdAllocator(u32 first, u32 last);

    u32 allocate();  // kNone when every id is in use
    // False (and nothing changes) for an id out of range or not in use.
    bool release(u32 id);
    // Takes one particular id (e.g. 0 for dom0); false if out of range or in use.
    bool reserve(u32 id);
    bool in_use(u32 id) const;
    u32 free_count() const { return free_; }

private:
    bool test(u32 index) const { return bits_[index / 64] >> (index % 64) & 1; }
    void set(u32 index, bool used);

    u32 first_, count_;
    u32 next_ = 0;  // index where the next search starts
    u32 free_;
    u64 bits_[kMaxIds / 64] = {};
};
