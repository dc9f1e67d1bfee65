// The domU's RAM as the device model process reaches it: foreign mappings of /dev/vireo
// (dom0/include/vireo_control.h), 2 MiB at a time, kept in a small cache and the least
// recently used one replaced, as QEMU's map cache does for Xen guests. Rings and buffers
// stay mapped across requests, so a busy queue costs no mapping calls; Domain-0 gives up
// at most kBuckets * 2 MiB of its own pages for them. A block request's data is read and
// written in place (direct), its buckets held until the request's system call is done. Only the virtual PC's RAM
// (kernel/vm/firmware/guest_pc_layout.hpp) is asked for: an address outside it is no
// RAM (false), whatever a driver wrote.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/log_sink.hpp"

namespace devmodel {

class ForeignMapcache final : public GuestMemory {
public:
    static constexpr uint64_t kBucketBytes = 2ull << 20;
    static constexpr size_t kBuckets = 16;

    // `log` hears how many buckets were mapped, once that is 64, then 128, 256, ...: a
    // cache too small for what the domU's requests reach maps a bucket on most requests
    // (tools/bench-pvio prints the last such line).
    ForeignMapcache(int device_fd, uint32_t domain, uint64_t ram_bytes, LogSink log = {})
        : fd_(device_fd), domain_(domain), ram_bytes_(ram_bytes), log_(std::move(log)) {}
    ~ForeignMapcache();
    ForeignMapcache(const ForeignMapcache&) = delete;
    ForeignMapcache& operator=(const ForeignMapcache&) = delete;

    bool read(uint64_t gpa, void* dst, size_t len) override;
    bool write(uint64_t gpa, const void* src, size_t len) override;
    // In place, from the bucket that holds gpa: held (never replaced) until
    // release_direct, so null once every bucket is held, or for RAM a bucket cannot map
    // whole (ballooned pages), which read and write reach page by page.
    uint8_t* direct(uint64_t gpa, size_t len, size_t& contiguous) override;
    void release_direct() override;

    // Why the last mapping failed (empty when none did).
    const std::string& failure() const { return failure_; }
    // Drops the mapping that holds `gpa` (before the page goes back to the host: the
    // hypervisor refuses to release a page someone maps).
    void forget(uint64_t gpa);

private:
    struct Bucket {
        uint8_t* mapped = nullptr;
        uint64_t gpa = 0;
        uint64_t last_use = 0;
        bool held = false;  // by direct(), until release_direct()
    };
    bool is_ram(uint64_t gpa) const;
    // The mapping of the bucket that holds gpa, or null (also when every bucket is held
    // and none holds gpa). `hold`: it stays until release_direct.
    uint8_t* bucket_for(uint64_t gpa, bool hold = false);
    template <typename Copy>
    bool access(uint64_t gpa, size_t len, Copy copy);
    // A bucket that cannot be mapped whole (the domU gave some of its pages back): the
    // pages the access needs, mapped for the access alone.
    template <typename Copy>
    bool access_pages(uint64_t gpa, size_t len, Copy copy);

    int fd_;
    uint32_t domain_;
    uint64_t ram_bytes_;
    Bucket buckets_[kBuckets];
    uint64_t clock_ = 0;
    std::string failure_;
    LogSink log_;
    uint64_t mappings_ = 0;      // buckets mapped so far
    uint64_t next_report_ = 64;  // when log_ hears of them next
};

}  // namespace devmodel
