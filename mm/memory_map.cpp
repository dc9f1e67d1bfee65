#include "mm/memory_map.hpp"

#include "kernel/assert.hpp"

namespace {

bool fail(const char** error, const char* message) {
    if (error) *error = message;
    return false;
}

// Inserts `r` (non-empty) into the sorted, disjoint, non-touching array `ranges`,
// merging it with every entry it overlaps or touches. Fails, leaving the array unchanged,
// only when `r` merges with nothing and the array is full.
bool insert_merged(PhysRange* ranges, usize& count, usize capacity, PhysRange r) {
    // first: the first entry that ends at or after r.start (may touch or overlap r).
    usize first = 0;
    while (first < count && ranges[first].end < r.start) ++first;
    // last: one past the last entry that starts at or before r.end.
    usize last = first;
    while (last < count && ranges[last].start <= r.end) ++last;
    if (first == last) {
        if (count == capacity) return false;
        for (usize i = count; i > first; --i) ranges[i] = ranges[i - 1];
        ranges[first] = r;
        ++count;
        return true;
    }
    if (ranges[first].start < r.start) r.start = ranges[first].start;
    if (ranges[last - 1].end > r.end) r.end = ranges[last - 1].end;
    ranges[first] = r;
    const usize removed = last - first - 1;
    for (usize i = first + 1; i + removed < count; ++i) ranges[i] = ranges[i + removed];
    count -= removed;
    return true;
}

}  // namespace

bool MemoryMap::add_available(PhysAddr base, u64 length, const char** error) {
    if (length == 0) return true;
    // The end must be representable: base + length == 2^64 already wraps to 0.
    if (length > ~0ull - base) return fail(error, "memory map: region wraps past the end of the address space");
    if (base + length > kMaxPhysAddr) return fail(error, "memory map: region reaches above 2^52 (MAXPHYADDR limit)");
    if (!insert_merged(available_, available_count_, kMaxAvailable, {base, base + length}))
        return fail(error, "memory map: more than 256 disjoint available regions (MemoryMap::kMaxAvailable)");
    recompute();
    return true;
}

bool MemoryMap::reserve(PhysAddr start, PhysAddr end, const char** error) {
    if (start > end) return fail(error, "memory map: reservation ends before it starts");
    if (start == end) return true;
    if (!insert_merged(reserved_, reserved_count_, kMaxReserved, {start, end}))
        return fail(error, "memory map: more than 256 disjoint reservations (MemoryMap::kMaxReserved)");
    recompute();
    return true;
}

// available minus reserved, both sorted and disjoint: one sweep, then each piece shrinks
// inward to frame boundaries, because only whole free frames can be handed out.
void MemoryMap::recompute() {
    range_count_ = 0;
    usize r = 0;
    for (usize a = 0; a < available_count_; ++a) {
        const PhysRange avail = available_[a];
        while (r < reserved_count_ && reserved_[r].end <= avail.start) ++r;
        PhysAddr cursor = avail.start;
        // Reservations are not consumed here: one may also overlap the next available range.
        for (usize k = r; k < reserved_count_ && reserved_[k].start < avail.end; ++k) {
            if (reserved_[k].start > cursor) {
                VIREO_ASSERT(range_count_ < kMaxRanges);
                ranges_[range_count_++] = {cursor, reserved_[k].start};
            }
            if (reserved_[k].end > cursor) cursor = reserved_[k].end;
        }
        if (cursor < avail.end) {
            VIREO_ASSERT(range_count_ < kMaxRanges);
            ranges_[range_count_++] = {cursor, avail.end};
        }
    }
    usize kept = 0;
    for (usize i = 0; i < range_count_; ++i) {
        // end <= 2^52, so rounding start up cannot wrap.
        const PhysRange aligned = {align_up(ranges_[i].start, kPageSize), align_down(ranges_[i].end, kPageSize)};
        if (!aligned.empty()) ranges_[kept++] = aligned;
    }
    range_count_ = kept;
}

PhysRange MemoryMap::range(usize i) const {
    VIREO_ASSERT(i < range_count_);
    return ranges_[i];
}

u64 MemoryMap::total_bytes() const {
    u64 total = 0;
    for (usize i = 0; i < range_count_; ++i) total += ranges_[i].size();
    return total;
}

PhysAddr MemoryMap::highest_address() const { return range_count_ ? ranges_[range_count_ - 1].end : 0; }

bool MemoryMap::contains(PhysAddr start, PhysAddr end) const {
    if (start >= end) return start == end;
    for (usize i = 0; i < range_count_; ++i) {
        if (ranges_[i].start <= start && end <= ranges_[i].end) return true;
    }
    return false;
}
