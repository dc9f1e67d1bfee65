// The host's side of a domU's virtio-balloon (dom0/devmodel/virtio_balloon.hpp): pages
// the driver puts into the balloon go back to the hypervisor's free pool and come back
// on the way out (the domain_balloon call), and the target `xm mem-set` set (the
// domain_memory_target call) becomes the balloon's size. The hypervisor checks every
// frame number; this remembers which pages it released, so that a driver reset gives
// every one back.
#pragma once

#include <cstdint>
#include <vector>

#include "dom0/devmodel/foreign_mapcache.hpp"
#include "dom0/devmodel/ioreq_channel.hpp"
#include "dom0/devmodel/log_sink.hpp"
#include "dom0/devmodel/virtio_balloon.hpp"

namespace devmodel {

class BalloonBackend final : public BalloonListener {
public:
    BalloonBackend(IoreqChannel& channel, uint32_t domain, ForeignMapcache& memory, uint64_t ram_bytes, LogSink log)
        : channel_(channel), domain_(domain), memory_(memory), ram_bytes_(ram_bytes), log_(std::move(log)) {}
    void set_device(VirtioBalloon* device) { device_ = device; }

    // Reads the domain's memory target and sets the balloon's size from it.
    void follow_target();

    void pages_inflated(const uint32_t* pfns, size_t count) override;
    void pages_deflated(const uint32_t* pfns, size_t count) override;
    void balloon_reset() override;

private:
    // The domain_balloon call on `pfns`; the pages done are marked in released_.
    void call(uint32_t op, const std::vector<uint64_t>& pfns);

    IoreqChannel& channel_;
    uint32_t domain_;
    ForeignMapcache& memory_;
    uint64_t ram_bytes_;  // at creation: the most it may have
    LogSink log_;
    VirtioBalloon* device_ = nullptr;
    std::vector<bool> released_;  // by guest frame number
    uint64_t target_ = 0;
    bool reported_ = false;
};

}  // namespace devmodel
