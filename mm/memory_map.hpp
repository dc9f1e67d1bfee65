// The set of physical memory the hypervisor may hand out: firmware's "available RAM"
// regions (Multiboot2 memory map type 1, i.e. e820 type 1) minus everything already in
// use (low 1 MiB, the hypervisor image, the boot information, modules, ...).
//
// Both inputs are kept exactly as given (byte granular, sorted, overlapping or touching
// entries merged), and the usable ranges are recomputed from them after every change:
// available minus reserved, each piece shrunk inward to 4 KiB frame boundaries, empty
// pieces dropped. Keeping the inputs exact matters: two adjacent firmware regions that
// meet inside a page still form whole pages together, and a reservation that ends inside
// a page makes that whole page unusable. The order of add_available and reserve calls
// does not matter.
//
// About 12 KiB of fixed storage (no allocation exists yet when it is built), so the
// kernel keeps it in static storage.
#pragma once

#include "kernel/types.hpp"

// Half-open [start, end).
struct PhysRange {
    PhysAddr start;
    PhysAddr end;

    constexpr u64 size() const { return end - start; }
    constexpr bool empty() const { return end <= start; }
};

class MemoryMap {
public:
    static constexpr usize kMaxAvailable = 256;
    // Every boot module is one (Multiboot2Info::kMaxModules, 128), with room to spare.
    static constexpr usize kMaxReserved = 256;
    // Subtracting k disjoint reservations from n disjoint ranges leaves at most n + k
    // pieces, so recomputing the usable ranges can never overflow.
    static constexpr usize kMaxRanges = kMaxAvailable + kMaxReserved;
    // Intel SDM vol. 3A 4.1.4 / AMD APM vol. 2 5.3.1: physical addresses have at most 52
    // bits, so memory above 2^52 cannot exist; such a region is a firmware bug.
    static constexpr PhysAddr kMaxPhysAddr = 1ull << 52;

    // Adds [base, base + length) as available RAM. A zero length is accepted and ignored.
    // Returns false (with a static message in *error when error is not null, and the map
    // unchanged) when the region wraps past 2^64, reaches above 2^52, or does not fit.
    bool add_available(PhysAddr base, u64 length, const char** error = nullptr);
    // Removes [start, end) from what is usable, now and for regions added later. start ==
    // end is a no-op. Returns false (map unchanged) when start > end or the reservation
    // list is full.
    bool reserve(PhysAddr start, PhysAddr end, const char** error = nullptr);

    // The usable ranges: sorted, disjoint, non-empty, 4 KiB aligned at both ends.
    usize range_count() const { return range_count_; }
    PhysRange range(usize i) const;
    u64 total_bytes() const;
    // The (exclusive) end of the highest usable range; 0 when nothing is usable.
    PhysAddr highest_address() const;
    // True when every byte of [start, end) is usable.
    bool contains(PhysAddr start, PhysAddr end) const;

private:
    void recompute();

    PhysRange available_[kMaxAvailable] = {};
    usize available_count_ = 0;
    PhysRange reserved_[kMaxReserved] = {};
    usize reserved_count_ = 0;
    PhysRange ranges_[kMaxRanges] = {};
    usize range_count_ = 0;
};
