#include "kernel/vm/mmio_bus.hpp"

namespace {
MmioDevice* device_of(const MmioBus::Range& r) { return __atomic_load_n(&r.device, __ATOMIC_ACQUIRE); }
}  // namespace

bool MmioBus::claim(u64 base, u64 size, MmioDevice* device) {
    if (size == 0 || base + size < base || device == nullptr || overlaps(base, size)) return false;
    for (usize i = 0; i < kMaxRanges; ++i) {
        Range& r = ranges_[i];
        if (device_of(r)) continue;
        r.base = base;
        r.size = size;
        __atomic_store_n(&r.device, device, __ATOMIC_RELEASE);
        if (i >= range_count_) __atomic_store_n(&range_count_, i + 1, __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

bool MmioBus::release(u64 base, u64 size, MmioDevice* device) {
    for (usize i = 0; i < range_count_; ++i) {
        Range& r = ranges_[i];
        if (device_of(r) != device || r.base != base || r.size != size) continue;
        __atomic_store_n(&r.device, static_cast<MmioDevice*>(nullptr), __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

const MmioBus::Range* MmioBus::claimed_range_at(u64 gpa) const {
    const usize count = __atomic_load_n(&range_count_, __ATOMIC_ACQUIRE);
    for (usize i = 0; i < count; ++i)
        if (device_of(ranges_[i]) && gpa >= ranges_[i].base && gpa - ranges_[i].base < ranges_[i].size)
            return &ranges_[i];
    return nullptr;
}

const MmioBus::Range* MmioBus::range_at(u64 gpa) const {
    const Range* r = claimed_range_at(gpa);
    if (r) return r;
    return fallback_.device ? &fallback_ : nullptr;
}

bool MmioBus::overlaps(u64 base, u64 size) const {
    const usize count = __atomic_load_n(&range_count_, __ATOMIC_ACQUIRE);
    for (usize i = 0; i < count; ++i) {
        const Range& r = ranges_[i];
        if (device_of(r) && base < r.base + r.size && r.base < base + size) return true;
    }
    return false;
}
