#include "kernel/domain/id_allocator.hpp"

IdAllocator::IdAllocator(u32 first, u32 last)
    : first_(first), count_(last >= first && last - first < kMaxIds ? last - first + 1 : 0), free_(count_) {}

void IdAllocator::set(u32 index, bool used) {
    if (used)
        bits_[index / 64] |= 1ull << (index % 64);
    else
        bits_[index / 64] &= ~(1ull << (index % 64));
}

u32 IdAllocator::allocate() {
    if (free_ == 0) return kNone;
    for (u32 tried = 0; tried < count_; ++tried) {
        const u32 index = (next_ + tried) % count_;
        if (test(index)) continue;
        set(index, true);
        --free_;
        next_ = (index + 1) % count_;
        return first_ + index;
    }
    return kNone;
}

bool IdAllocator::release(u32 id) {
    if (id < first_ || id - first_ >= count_ || !test(id - first_)) return false;
    set(id - first_, false);
    ++free_;
    return true;
}

bool IdAllocator::reserve(u32 id) {
    if (id < first_ || id - first_ >= count_ || test(id - first_)) return false;
    set(id - first_, true);
    --free_;
    return true;
}

bool IdAllocator::in_use(u32 id) const { return id >= first_ && id - first_ < count_ && test(id - first_); }
