// A split virtqueue (virtio 1.1, 2.6) seen from the device: the descriptor table, the
// available ring (the "driver area") and the used ring (the "device area") at the
// guest-physical addresses the driver wrote into the transport. Everything in them is
// written by the driver, so every value read is checked before it is used: an index
// outside the queue, a chain longer than the queue (a loop), a bad or nested indirect
// table, a readable buffer after a writable one, more than kMaxChainBytes in one chain,
// a ring or buffer that is not guest RAM. Each is an error with a sentence saying what
// the driver did; the transport then sets DEVICE_NEEDS_RESET (2.1.2). No walk can run
// longer than the queue size (plus one indirect table of at most
// kMaxIndirectDescriptors), so a hostile driver cannot make the device model loop.
//
// Not offered, so not implemented: VIRTIO_F_EVENT_IDX (2.6.7, 2.6.10), packed rings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dom0/devmodel/guest_memory.hpp"

namespace devmodel {

// One buffer of a chain: guest-physical address, length, and whether the device writes
// it (VIRTQ_DESC_F_WRITE) or reads it.
struct BufferSegment {
    uint64_t gpa = 0;
    uint32_t len = 0;
    bool device_writable = false;
};

// A descriptor chain as popped from the available ring: its head (what push_used gives
// back), its buffers in order (the readable ones first, 2.6.4.2), and the byte totals.
struct DescriptorChain {
    uint16_t head = 0;
    std::vector<BufferSegment> segments;
    uint64_t readable_bytes = 0;
    uint64_t writable_bytes = 0;
};

class Virtqueue {
public:
    // 2.6: "the maximum Queue Size value is 32768".
    static constexpr uint32_t kMaxQueueSize = 32768;
    // The largest indirect table taken (2.6.5.3 sets no limit; a table this long already
    // exceeds any segment count a device here offers: virtio-blk's seg_max is 510).
    static constexpr uint32_t kMaxIndirectDescriptors = 1024;
    // The most bytes one chain may describe: far above any request Linux builds (its
    // block layer splits at max_sectors, 1280 KiB by default), and small enough that a
    // device may stage a whole request.
    static constexpr uint64_t kMaxChainBytes = 64ull << 20;

    // 2.6.5 descriptor flags and 2.6.6 available ring flags.
    static constexpr uint16_t kDescFNext = 1;
    static constexpr uint16_t kDescFWrite = 2;
    static constexpr uint16_t kDescFIndirect = 4;
    static constexpr uint16_t kAvailFNoInterrupt = 1;
    static constexpr uint32_t kDescriptorBytes = 16;

    // What the driver wrote into the transport for this queue.
    struct Layout {
        uint16_t size = 0;
        uint64_t desc = 0;              // descriptor table
        uint64_t driver = 0;            // available ring
        uint64_t device = 0;            // used ring
        bool indirect_allowed = false;  // VIRTIO_F_INDIRECT_DESC negotiated (2.6.5.3.1)
    };

    enum class Pop { Chain, Empty, Error };

    // Starts using the rings (the driver wrote queue_enable = 1). False with the reason
    // when the layout breaks 2.6's rules: size 0, not a power of two or above max_size;
    // an area misaligned (descriptor table 16, available ring 2, used ring 4 bytes).
    bool start(const Layout& layout, uint32_t max_size, std::string& error);
    // Back to the reset state: not running, indices 0.
    void stop();
    bool running() const { return running_; }
    uint16_t size() const { return layout_.size; }

    // The next chain the driver made available, checked (see above). Empty when there is
    // none. On Error, `error` says why and the queue must not be used until reset.
    Pop pop(GuestMemory& memory, DescriptorChain& chain, std::string& error);

    // True when the available ring holds a chain not yet popped, or its index cannot be
    // read (pop then reports why).
    bool has_available(GuestMemory& memory);

    // Returns chain `head` to the driver with `written` bytes written into it (2.6.8:
    // the used element first, then the used index). False when the used ring is not RAM.
    bool push_used(GuestMemory& memory, uint16_t head, uint32_t written, std::string& error);

    // 2.6.7.2 without VIRTIO_F_EVENT_IDX: no notification while the driver keeps
    // VIRTQ_AVAIL_F_NO_INTERRUPT set. An unreadable flags word reads as "wants one".
    bool driver_wants_interrupt(GuestMemory& memory);

    // A restored queue continues at these positions (after start): the driver's ring
    // indices are in guest memory already, the device's are its own (2.6).
    void resume_at(uint16_t last_avail, uint16_t used) {
        last_avail_ = last_avail;
        used_ = used;
    }

    uint16_t last_avail_index() const { return last_avail_; }
    uint16_t used_index() const { return used_; }

private:
    struct Descriptor {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
    };

    bool walk(GuestMemory& memory, uint16_t head, DescriptorChain& chain, std::string& error) const;
    bool walk_indirect(GuestMemory& memory, const Descriptor& table, DescriptorChain& chain, std::string& error) const;
    bool add_segment(const Descriptor& d, DescriptorChain& chain, std::string& error) const;

    Layout layout_;
    bool running_ = false;
    uint16_t last_avail_ = 0;  // the driver's next available ring entry the device reads
    uint16_t used_ = 0;        // the device's used index
};

}  // namespace devmodel
