#include "kernel/vm/mmio_bus.hpp"

bool MmioBus::claim(u64 base, u64 size, MmioDevice* device) {
    if (size == 0 || base + size < base || range_count_ == kMaxRanges || device == nullptr) return false;
    for (usize i = 0; i < range_count_; ++i) {
        const Range& r = ranges_[i];
        if (base < r.base + r.size && r.base < base + size) return false;
    }
    ranges_[range_count_++] = {base, size, device};
    return true;
}

const MmioBus::Range* MmioBus::claimed_range_at(u64 gpa) const {
    for (usize i = 0; i < range_count_; ++i)
        if (gpa >= ranges_[i].base && gpa - ranges_[i].base < ranges_[i].size) return &ranges_[i];
    return nullptr;
}

const MmioBus::Range* MmioBus::range_at(u64 gpa) const {
    const Range* r = claimed_range_at(gpa);
    if (r) return r;
    return fallback_.device ? &fallback_ : nullptr;
}

bool MmioBus::overlaps(u64 base, u64 size) const {
    for (usize i = 0; i < range_count_; ++i) {
        const Range& r = ranges_[i];
        if (base < r.base + r.size && r.base < base + size) return true;
    }
    return false;
}
