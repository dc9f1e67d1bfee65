#include "kernel/vm/io_bus.hpp"

#include "kernel/hot_path.hpp"

bool IoBus::claim(u16 first, u16 last, IoDevice* device) {
    if (first > last || range_count_ == kMaxRanges) return false;
    for (usize i = 0; i < range_count_; ++i)
        if (first <= ranges_[i].last && ranges_[i].first <= last) return false;
    ranges_[range_count_++] = {first, last, device};
    return true;
}

VIREO_HOT_PATH IoDevice* IoBus::claimed_device_at(u16 port) const {
    const usize hint = __atomic_load_n(&last_hit_, __ATOMIC_RELAXED);
    if (hint < range_count_ && port >= ranges_[hint].first && port <= ranges_[hint].last) return ranges_[hint].device;
    for (usize i = 0; i < range_count_; ++i) {
        if (port >= ranges_[i].first && port <= ranges_[i].last) {
            __atomic_store_n(&last_hit_, i, __ATOMIC_RELAXED);
            return ranges_[i].device;
        }
    }
    return nullptr;
}

VIREO_HOT_PATH IoDevice* IoBus::device_at(u16 port) const {
    IoDevice* device = claimed_device_at(port);
    return device ? device : fallback_;
}

IoBus::PortNote IoBus::note_unclaimed_access(u16 port) {
    const u64 bit = 1ull << (port % 64);
    if (logged_[port / 64] & bit) return PortNote::Silent;
    if (logged_count_ < kMaxLoggedPorts) {
        logged_[port / 64] |= bit;
        ++logged_count_;
        return PortNote::Log;
    }
    if (silenced_) return PortNote::Silent;
    silenced_ = true;
    return PortNote::LogLast;
}
