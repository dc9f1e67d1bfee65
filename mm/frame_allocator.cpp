#include "mm/frame_allocator.hpp"

#include <string.h>

#include "kernel/assert.hpp"

namespace {

constexpr u64 kBitsPerWord = 64;

constexpr bool is_power_of_two(u64 v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

u64 FrameAllocator::bitmap_bytes_for(const MemoryMap& usable) {
    if (usable.range_count() == 0) return 0;
    const u64 frames = (usable.highest_address() - usable.range(0).start) / kPageSize;
    return (frames + kBitsPerWord - 1) / kBitsPerWord * sizeof(u64);
}

PhysRange FrameAllocator::choose_bitmap_location(const MemoryMap& usable, u64 bytes, PhysAddr limit) {
    if (bytes == 0 || bytes > MemoryMap::kMaxPhysAddr) return {0, 0};
    const u64 need = align_up(bytes, kPageSize);
    for (usize i = 0; i < usable.range_count(); ++i) {
        const PhysRange r = usable.range(i);
        const PhysAddr end = r.end < limit ? r.end : limit;
        if (r.start < end && need <= end - r.start) return {r.start, r.start + need};
    }
    return {0, 0};
}

bool FrameAllocator::init(const MemoryMap& usable, u64* bitmap, u64 bitmap_bytes) {
    if (bitmap_ || total_frames_) return false;
    const u64 needed = bitmap_bytes_for(usable);
    if (needed == 0) return true;  // nothing usable: every allocation fails
    if (!bitmap || !is_aligned(reinterpret_cast<uintptr_t>(bitmap), alignof(u64)) || bitmap_bytes < needed)
        return false;
    bitmap_ = bitmap;
    usable_count_ = usable.range_count();
    for (usize i = 0; i < usable_count_; ++i) usable_[i] = usable.range(i);
    first_frame_ = usable_[0].start / kPageSize;
    end_frame_ = usable.highest_address() / kPageSize;
    hint_ = first_frame_;
    // Everything starts in use, including the padding bits after end_frame_ in the last
    // word, so searches never need to special-case them; then the RAM is freed.
    memset(bitmap_, 0xff, needed);
    for (usize i = 0; i < usable_count_; ++i) {
        const u64 first = usable_[i].start / kPageSize;
        const u64 count = usable_[i].size() / kPageSize;
        set_run(first, count, false);
        total_frames_ += count;
    }
    free_frames_ = total_frames_;
    return true;
}

bool FrameAllocator::test(u64 frame) const {
    if (frame < first_frame_ || frame >= end_frame_) return true;
    const u64 i = frame - first_frame_;
    return (bitmap_[i / kBitsPerWord] >> (i % kBitsPerWord)) & 1;
}

void FrameAllocator::set_run(u64 frame, u64 count, bool used) {
    VIREO_ASSERT(frame >= first_frame_ && frame <= end_frame_ && count <= end_frame_ - frame);
    u64 i = frame - first_frame_;
    const u64 end = i + count;
    while (i < end) {
        const u64 bit = i % kBitsPerWord;
        const u64 n = (end - i < kBitsPerWord - bit) ? end - i : kBitsPerWord - bit;
        const u64 mask = (n == kBitsPerWord ? ~0ull : ((1ull << n) - 1)) << bit;
        if (used)
            bitmap_[i / kBitsPerWord] |= mask;
        else
            bitmap_[i / kBitsPerWord] &= ~mask;
        i += n;
    }
}

// Word at a time: a word with no matching bit is skipped with one comparison.
u64 FrameAllocator::find(u64 from, u64 to, bool used) const {
    if (to > end_frame_) to = end_frame_;
    if (from < first_frame_) from = first_frame_;
    if (from >= to) return to;
    u64 i = from - first_frame_;
    const u64 end = to - first_frame_;
    while (i < end) {
        u64 word = bitmap_[i / kBitsPerWord];
        if (!used) word = ~word;
        word &= ~0ull << (i % kBitsPerWord);
        if (word) {
            const u64 found = align_down(i, kBitsPerWord) + u64(__builtin_ctzll(word));
            return found < end ? found + first_frame_ : to;
        }
        i = align_down(i, kBitsPerWord) + kBitsPerWord;
    }
    return to;
}

bool FrameAllocator::usable_run(u64 frame, u64 count) const {
    // The ranges are sorted and never touch, so a run of RAM lies inside a single range.
    usize lo = 0, hi = usable_count_;
    while (lo < hi) {
        const usize mid = lo + (hi - lo) / 2;
        if (usable_[mid].end / kPageSize <= frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == usable_count_) return false;
    const u64 first = usable_[lo].start / kPageSize;
    const u64 end = usable_[lo].end / kPageSize;
    return frame >= first && count <= end - frame;
}

PhysAddr FrameAllocator::alloc_one(u64 end_frame) {
    // Next-fit: start where the last allocation stopped, so the common single-frame case
    // does not rescan the allocated prefix every time; wrap around once.
    const u64 start = (hint_ >= first_frame_ && hint_ < end_frame) ? hint_ : first_frame_;
    u64 frame = find(start, end_frame, false);
    if (frame == end_frame) {
        frame = find(first_frame_, start, false);
        if (frame == start) return kNoFrame;
    }
    set_run(frame, 1, true);
    --free_frames_;
    // A limited request (below 4 GiB, say) must not drag later unlimited ones down into
    // the scarce low memory, so only unlimited requests move the hint.
    if (end_frame == end_frame_) hint_ = frame + 1;
    return frame * kPageSize;
}

PhysAddr FrameAllocator::alloc(u64 pages, u64 align_pages, PhysAddr limit) {
    if (pages == 0 || !is_power_of_two(align_pages) || free_frames_ < pages) return kNoFrame;
    const u64 limit_frame = limit / kPageSize;  // frames ending at or below `limit`
    const u64 end = limit_frame < end_frame_ ? limit_frame : end_frame_;
    if (pages == 1 && align_pages == 1) return end > first_frame_ ? alloc_one(end) : kNoFrame;
    // First fit from the bottom: contiguous runs are rarer than single frames, and
    // packing them low leaves large runs intact higher up. first_frame_ < 2^40 and
    // align_pages <= 2^63, so align_up cannot wrap.
    u64 frame = align_up(first_frame_, align_pages);
    while (frame < end && pages <= end - frame) {
        const u64 used = find(frame, frame + pages, true);
        if (used == frame + pages) {
            set_run(frame, pages, true);
            free_frames_ -= pages;
            return frame * kPageSize;
        }
        const u64 next_free = find(used + 1, end, false);
        if (next_free >= end) break;
        frame = align_up(next_free, align_pages);
    }
    return kNoFrame;
}

bool FrameAllocator::free(PhysAddr start, u64 pages) {
    if (pages == 0 || !is_aligned(start, kPageSize)) return false;
    const u64 frame = start / kPageSize;
    if (!usable_run(frame, pages)) return false;
    if (find(frame, frame + pages, false) != frame + pages) return false;  // some frame already free
    set_run(frame, pages, false);
    free_frames_ += pages;
    return true;
}

bool FrameAllocator::reserve(PhysAddr start, u64 pages) {
    if (pages == 0 || !is_aligned(start, kPageSize)) return false;
    const u64 frame = start / kPageSize;
    if (!usable_run(frame, pages)) return false;
    if (find(frame, frame + pages, true) != frame + pages) return false;  // some frame already taken
    set_run(frame, pages, true);
    free_frames_ -= pages;
    return true;
}

bool FrameAllocator::is_free(PhysAddr address) const { return bitmap_ && !test(address / kPageSize); }
