// Physical frame allocator: one bit per 4 KiB frame (1 = in use or not RAM, 0 = free),
// covering the frames from the lowest to the highest usable address of a MemoryMap.
// The bitmap lives in memory the caller provides, because nothing can allocate it yet:
// the kernel takes it from the usable memory itself and then reserves those frames:
//
//     const u64 bytes = FrameAllocator::bitmap_bytes_for(map);
//     const PhysRange where = FrameAllocator::choose_bitmap_location(map, bytes, directly_mapped_limit);
//     // where.empty(): no usable range can hold the bitmap (report and stop)
//     allocator.init(map, static_cast<u64*>(phys_to_virt(where.start)), bytes);
//     allocator.reserve(where.start, where.size() / kPageSize);
//
// Not thread safe: the kernel wraps it in a lock.
#pragma once

#include "kernel/types.hpp"
#include "mm/memory_map.hpp"

class FrameAllocator {
public:
    static constexpr PhysAddr kNoFrame = ~0ull;

    // Bytes of bitmap needed for `usable` (a multiple of 8; 0 when nothing is usable).
    static u64 bitmap_bytes_for(const MemoryMap& usable);
    // The first usable range holding `bytes` (rounded up to whole frames) entirely below
    // `limit`, e.g. the end of what the boot page tables map; an empty range when none.
    static PhysRange choose_bitmap_location(const MemoryMap& usable, u64 bytes, PhysAddr limit = ~0ull);

    // Starts with every usable frame of `usable` free and everything else in use. The
    // usable ranges are copied, so `usable` need not outlive the allocator. Fails when
    // `bitmap` is null or misaligned, `bitmap_bytes` < bitmap_bytes_for(usable), or the
    // allocator is already initialized.
    bool init(const MemoryMap& usable, u64* bitmap, u64 bitmap_bytes);

    // `pages` contiguous free frames whose first frame is aligned to `align_pages` frames
    // (a power of two) and whose last byte lies below `limit`; kNoFrame when there are
    // none or the request is invalid (pages == 0, align_pages not a power of two).
    PhysAddr alloc(u64 pages = 1, u64 align_pages = 1, PhysAddr limit = ~0ull);
    // Returns `pages` frames from `start`. Fails, changing nothing, unless every one of
    // them is usable RAM and currently allocated (so double frees are caught).
    bool free(PhysAddr start, u64 pages);
    // Takes specific frames (e.g. the bitmap's own, or a fixed address a device needs).
    // Fails, changing nothing, unless every one of them is usable RAM and free.
    bool reserve(PhysAddr start, u64 pages);

    u64 free_frames() const { return free_frames_; }
    u64 total_frames() const { return total_frames_; }
    // Whether the frame holding `address` is usable RAM that is currently free.
    bool is_free(PhysAddr address) const;

private:
    // Frame numbers below are absolute (physical address / 4 KiB).
    bool usable_run(u64 frame, u64 count) const;
    bool test(u64 frame) const;
    void set_run(u64 frame, u64 count, bool used);
    // First frame in [from, to) whose bit equals `used`, or `to` when there is none. Only
    // frames the bitmap covers are searched: callers stay inside [first_frame_, end_frame_).
    u64 find(u64 from, u64 to, bool used) const;
    PhysAddr alloc_one(u64 end_frame);

    PhysRange usable_[MemoryMap::kMaxRanges] = {};
    usize usable_count_ = 0;
    u64* bitmap_ = nullptr;
    u64 first_frame_ = 0;  // bit 0 of the bitmap
    u64 end_frame_ = 0;    // one past the last frame the bitmap covers
    u64 hint_ = 0;         // next-fit: single-frame searches start here
    u64 free_frames_ = 0;
    u64 total_frames_ = 0;
};
