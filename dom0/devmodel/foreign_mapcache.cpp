#include "dom0/devmodel/foreign_mapcache.hpp"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "dom0/include/vireo_control.h"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace devmodel {

ForeignMapcache::~ForeignMapcache() {
    for (Bucket& b : buckets_)
        if (b.mapped) munmap(b.mapped, kBucketBytes);
}

bool ForeignMapcache::is_ram(uint64_t gpa) const {
    const uint64_t below = guest_ram_below_4g(ram_bytes_);
    const uint64_t above = guest_ram_above_4g(ram_bytes_);
    return gpa < below || (gpa >= kGuestHighMemoryStart && gpa - kGuestHighMemoryStart < above);
}

uint8_t* ForeignMapcache::bucket_for(uint64_t gpa, bool hold) {
    const uint64_t start = gpa & ~(kBucketBytes - 1);
    Bucket* victim = nullptr;
    for (Bucket& b : buckets_) {
        if (b.mapped && b.gpa == start) {
            b.last_use = ++clock_;
            b.held = b.held || hold;
            return b.mapped;
        }
        if (b.held) continue;
        if (!victim || !b.mapped || (victim->mapped && b.last_use < victim->last_use)) victim = &b;
    }
    if (!victim) return nullptr;  // every bucket is held
    // RAM comes in 2 MiB pieces (mm/guest_memory.hpp), so a bucket is all RAM or none.
    if (!is_ram(start) || !is_ram(start + kBucketBytes - 1)) return nullptr;
    if (victim->mapped) munmap(victim->mapped, kBucketBytes);
    victim->mapped = nullptr;
    void* at = mmap(nullptr, kBucketBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                    off_t(VIREO_FOREIGN_OFFSET(domain_, start / 4096)));
    if (at == MAP_FAILED) {
        failure_ = "mapping the domain's memory at " + std::to_string(start) + " failed: " + strerror(errno);
        return nullptr;
    }
    victim->mapped = static_cast<uint8_t*>(at);
    victim->gpa = start;
    victim->last_use = ++clock_;
    victim->held = hold;
    if (++mappings_ == next_report_) {
        next_report_ *= 2;
        if (log_)
            log_("foreign mappings: " + std::to_string(mappings_) + " buckets of 2 MiB mapped so far, " +
                 std::to_string(kBuckets) + " kept at a time");
    }
    return victim->mapped;
}

uint8_t* ForeignMapcache::direct(uint64_t gpa, size_t len, size_t& contiguous) {
    contiguous = 0;
    if (len == 0 || gpa + len < gpa) return nullptr;
    uint8_t* mapped = bucket_for(gpa, true);  // null for a bucket that is not RAM
    if (!mapped) return nullptr;
    const uint64_t offset = gpa & (kBucketBytes - 1);
    contiguous = size_t(kBucketBytes - offset < len ? kBucketBytes - offset : len);
    return mapped + offset;
}

void ForeignMapcache::release_direct() {
    for (Bucket& b : buckets_) b.held = false;
}

void ForeignMapcache::forget(uint64_t gpa) {
    const uint64_t start = gpa & ~(kBucketBytes - 1);
    for (Bucket& b : buckets_)
        if (b.mapped && b.gpa == start) {
            munmap(b.mapped, kBucketBytes);
            b.mapped = nullptr;
            b.held = false;
        }
}

template <typename Copy>
bool ForeignMapcache::access_pages(uint64_t gpa, size_t len, Copy copy) {
    constexpr uint64_t kPage = 4096;
    const uint64_t first = gpa & ~(kPage - 1);
    const uint64_t bytes = ((gpa + len + kPage - 1) & ~(kPage - 1)) - first;
    void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                    off_t(VIREO_FOREIGN_OFFSET(domain_, first / kPage)));
    if (at == MAP_FAILED) {
        failure_ = "mapping the domain's memory at " + std::to_string(first) + " failed: " + strerror(errno);
        return false;
    }
    copy(static_cast<uint8_t*>(at) + (gpa - first), 0, len);
    munmap(at, bytes);
    return true;
}

template <typename Copy>
bool ForeignMapcache::access(uint64_t gpa, size_t len, Copy copy) {
    if (gpa + len < gpa) return false;
    size_t done = 0;
    while (done < len) {
        const uint64_t at = gpa + done;
        const uint64_t offset = at & (kBucketBytes - 1);
        const size_t n = size_t(kBucketBytes - offset < len - done ? kBucketBytes - offset : len - done);
        if (uint8_t* mapped = bucket_for(at)) {
            copy(mapped + offset, done, n);
        } else if (!is_ram(at) || !access_pages(at, n, [&](uint8_t* p, size_t, size_t m) { copy(p, done, m); })) {
            return false;
        }
        done += n;
    }
    return true;
}

bool ForeignMapcache::read(uint64_t gpa, void* dst, size_t len) {
    auto* out = static_cast<uint8_t*>(dst);
    return access(gpa, len, [&](uint8_t* mapped, size_t done, size_t n) { memcpy(out + done, mapped, n); });
}

bool ForeignMapcache::write(uint64_t gpa, const void* src, size_t len) {
    const auto* in = static_cast<const uint8_t*>(src);
    return access(gpa, len, [&](uint8_t* mapped, size_t done, size_t n) { memcpy(mapped, in + done, n); });
}

}  // namespace devmodel
