#include "kernel/passthrough/host_physical_policy.hpp"

bool HostPhysicalPolicy::add(PhysAddr start, PhysAddr end, const char* what) {
    if (end <= start) return true;
    if (count_ == kMaxRanges) {
        overflowed_ = true;
        return false;
    }
    ranges_[count_++] = {align_down(start, kPageSize), align_up(end, kPageSize), what};
    return true;
}

bool HostPhysicalPolicy::add_ram(PhysAddr start, PhysAddr end) { return add(start, end, nullptr); }

bool HostPhysicalPolicy::deny(PhysAddr start, PhysAddr end, const char* what) {
    return add(start, end, what ? what : "a hypervisor device");
}

bool HostPhysicalPolicy::allowed(PhysAddr start, PhysAddr end) const {
    if (overflowed_ || end <= start || end > limit_) return false;
    start = align_down(start, kPageSize);
    end = align_up(end, kPageSize);
    for (usize i = 0; i < count_; ++i)
        if (start < ranges_[i].end && ranges_[i].start < end) return false;
    return true;
}

const char* HostPhysicalPolicy::denied_what(PhysAddr address) const {
    for (usize i = 0; i < count_; ++i)
        if (address >= ranges_[i].start && address < ranges_[i].end) return ranges_[i].what ? ranges_[i].what : "RAM";
    return nullptr;
}
