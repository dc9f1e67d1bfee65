// The traditional memory balloon (virtio 1.1, 5.5): the host sets a target, num_pages,
// in 4 KiB pages (5.5.6: the balloon's page size is always 4096); the driver gives that
// many pages back through the inflate queue and takes pages back through the deflate
// queue, each buffer an array of le32 page frame numbers, and reports its balloon size
// in `actual`. The frame numbers go to a BalloonListener as the driver wrote them: the
// listener (the process, with the hypervisor) checks that they are the domU's RAM.
//
// Offered: VIRTIO_BALLOON_F_MUST_TELL_HOST, so a driver reports a deflate before it
// uses the pages again (5.5.6.1), which a host that unmaps inflated pages needs. No
// statistics queue, no free page hinting.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dom0/devmodel/virtio_device.hpp"

namespace devmodel {

class BalloonListener {
public:
    // The driver put these pages in the balloon: the domU does not use them any more.
    virtual void pages_inflated(const uint32_t* pfns, size_t count) = 0;
    // The driver takes these pages out of the balloon, to use them again.
    virtual void pages_deflated(const uint32_t* pfns, size_t count) = 0;
    // The driver reset the device (a reboot, say): every page in the balloon is the
    // domU's again, whatever it said before.
    virtual void balloon_reset() = 0;
    // The driver wrote `actual`, its count of pages in the balloon.
    virtual void actual_changed(uint32_t) {}

protected:
    ~BalloonListener() = default;
};

class VirtioBalloon final : public VirtioDevice {
public:
    static constexpr uint64_t kFMustTellHost = 1ull << 0;
    static constexpr uint16_t kInflateQueue = 0;
    static constexpr uint16_t kDeflateQueue = 1;
    static constexpr uint16_t kQueueSize = 128;
    static constexpr uint32_t kConfigSize = 8;  // le32 num_pages, le32 actual (5.5.4)
    // Frame numbers handed to the listener at a time (Linux sends at most 256 per buffer).
    static constexpr size_t kPfnBatch = 256;

    explicit VirtioBalloon(BalloonListener& listener) : listener_(listener) {}

    // The host's target: the balloon should hold `pages` 4 KiB pages. A configuration
    // change interrupt tells the driver.
    void set_target_pages(uint32_t pages);
    uint32_t target_pages() const { return num_pages_; }
    // What the driver last reported.
    uint32_t actual_pages() const { return actual_; }

    const char* name() const override { return "virtio-balloon"; }
    uint16_t device_id() const override { return kVirtioIdBalloon; }
    uint32_t pci_class_code() const override { return 0xff0000; }  // unclassified (as QEMU's)
    uint64_t device_features() const override { return kFMustTellHost; }
    uint16_t num_queues() const override { return 2; }
    uint16_t max_queue_size(uint16_t) const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* dst, uint32_t len) override;
    void write_config(uint32_t offset, const uint8_t* src, uint32_t len) override;
    void reset() override;
    void process_queue(uint16_t q) override;

    // Saved: num_pages (the host's target) and actual (the driver's count), 5.5.4. No
    // statistics queue is offered, so there is no statistics state.
    static constexpr uint16_t kStateVersion = 1;
    void save_state(StateOut& out) const override;
    bool check_state(StateIn& in) const override;
    void apply_state(StateIn& in) override;

private:
    BalloonListener& listener_;
    uint32_t num_pages_ = 0;
    uint32_t actual_ = 0;
};

}  // namespace devmodel
