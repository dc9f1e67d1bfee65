#include "dom0/devmodel/virtqueue.hpp"

#include <atomic>

#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

// Offsets in the rings (2.6.6, 2.6.8): flags, idx, then the ring entries.
constexpr uint64_t kRingIdxOffset = 2;
constexpr uint64_t kRingEntriesOffset = 4;
constexpr uint64_t kUsedElemBytes = 8;  // le32 id, le32 len

bool read16(GuestMemory& memory, uint64_t gpa, uint16_t& out) {
    uint8_t b[2];
    if (!memory.read(gpa, b, sizeof(b))) return false;
    out = load_le16(b);
    return true;
}

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// [gpa, gpa + len) without wrapping past 2^64.
bool wraps(uint64_t gpa, uint64_t len) { return len != 0 && gpa + len - 1 < gpa; }

std::string describe(uint64_t gpa, uint64_t len) { return hex(gpa) + " (" + std::to_string(len) + " bytes)"; }

}  // namespace

bool Virtqueue::start(const Layout& layout, uint32_t max_size, std::string& error) {
    stop();
    if (layout.size == 0 || layout.size > max_size || !is_power_of_two(layout.size)) {
        error = "queue size " + std::to_string(layout.size) + " is not a power of two from 1 to " +
                std::to_string(max_size);
        return false;
    }
    // 2.6, "Alignment": descriptor table 16, available ring 2, used ring 4 bytes.
    if (layout.desc % 16 != 0 || layout.driver % 2 != 0 || layout.device % 4 != 0) {
        error = "misaligned rings (descriptor table " + hex(layout.desc) + ", available ring " + hex(layout.driver) +
                ", used ring " + hex(layout.device) + ")";
        return false;
    }
    const uint64_t desc_bytes = uint64_t{kDescriptorBytes} * layout.size;
    const uint64_t avail_bytes = kRingEntriesOffset + 2ull * layout.size + 2;
    const uint64_t used_bytes = kRingEntriesOffset + kUsedElemBytes * layout.size + 2;
    if (wraps(layout.desc, desc_bytes) || wraps(layout.driver, avail_bytes) || wraps(layout.device, used_bytes)) {
        error = "a ring wraps around the top of the address space";
        return false;
    }
    layout_ = layout;
    running_ = true;
    return true;
}

void Virtqueue::stop() {
    layout_ = Layout{};
    running_ = false;
    last_avail_ = 0;
    used_ = 0;
}

bool Virtqueue::has_available(GuestMemory& memory) {
    if (!running_) return false;
    uint16_t avail_idx = 0;
    if (!read16(memory, layout_.driver + kRingIdxOffset, avail_idx)) return true;
    return avail_idx != last_avail_;
}

Virtqueue::Pop Virtqueue::pop(GuestMemory& memory, DescriptorChain& chain, std::string& error) {
    if (!running_) {
        error = "the queue is not enabled";
        return Pop::Error;
    }
    uint16_t avail_idx = 0;
    if (!read16(memory, layout_.driver + kRingIdxOffset, avail_idx)) {
        error = "the available ring at " + hex(layout_.driver) + " is not guest RAM";
        return Pop::Error;
    }
    const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
    if (pending == 0) return Pop::Empty;
    if (pending > layout_.size) {
        // 2.6.6: the driver cannot have more chains outstanding than the queue holds.
        error = "the available index moved " + std::to_string(pending) + " entries ahead, more than the queue size " +
                std::to_string(layout_.size);
        return Pop::Error;
    }
    // The ring entry and the descriptors were written before the index (2.6.13): read
    // them after it.
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint64_t entry = layout_.driver + kRingEntriesOffset + 2ull * (last_avail_ % layout_.size);
    uint16_t head = 0;
    if (!read16(memory, entry, head)) {
        error = "the available ring entry at " + hex(entry) + " is not guest RAM";
        return Pop::Error;
    }
    if (!walk(memory, head, chain, error)) return Pop::Error;
    ++last_avail_;
    return Pop::Chain;
}

bool Virtqueue::walk(GuestMemory& memory, uint16_t head, DescriptorChain& chain, std::string& error) const {
    chain = DescriptorChain{};
    chain.head = head;
    const uint16_t size = layout_.size;
    if (head >= size) {
        error = "head descriptor " + std::to_string(head) + " is outside the queue of size " + std::to_string(size);
        return false;
    }
    uint16_t index = head;
    for (uint32_t count = 1;; ++count) {
        // 2.6.5.2: a chain is never longer than the queue; a longer one loops.
        if (count > size) {
            error = "the chain from descriptor " + std::to_string(head) + " is longer than the queue size " +
                    std::to_string(size) + " (a loop)";
            return false;
        }
        const uint64_t at = layout_.desc + uint64_t{kDescriptorBytes} * index;
        uint8_t raw[kDescriptorBytes];
        if (!memory.read(at, raw, sizeof(raw))) {
            error = "the descriptor table at " + hex(layout_.desc) + " is not guest RAM";
            return false;
        }
        const Descriptor d{load_le64(raw), load_le32(raw + 8), load_le16(raw + 12), load_le16(raw + 14)};
        if ((d.flags & kDescFIndirect) != 0) {
            // 2.6.5.3.1: one indirect table, last in the chain (never with NEXT).
            if (!layout_.indirect_allowed) {
                error = "descriptor " + std::to_string(index) +
                        " is indirect, but VIRTIO_F_INDIRECT_DESC was not negotiated";
                return false;
            }
            if ((d.flags & kDescFNext) != 0) {
                error = "descriptor " + std::to_string(index) + " has both INDIRECT and NEXT";
                return false;
            }
            return walk_indirect(memory, d, chain, error);
        }
        if (!add_segment(d, chain, error)) return false;
        if ((d.flags & kDescFNext) == 0) return true;
        if (d.next >= size) {
            error = "descriptor " + std::to_string(index) + " chains to " + std::to_string(d.next) +
                    ", outside the queue of size " + std::to_string(size);
            return false;
        }
        index = d.next;
    }
}

bool Virtqueue::walk_indirect(GuestMemory& memory, const Descriptor& table, DescriptorChain& chain,
                              std::string& error) const {
    // 2.6.5.3: a table of len / 16 descriptors chained from its entry 0; the WRITE flag
    // of the descriptor that points at it is ignored (2.6.5.3.2).
    if (table.len == 0 || table.len % kDescriptorBytes != 0 || table.len / kDescriptorBytes > kMaxIndirectDescriptors) {
        error = "indirect table at " + describe(table.addr, table.len) + " is not 1 to " +
                std::to_string(kMaxIndirectDescriptors) + " whole descriptors";
        return false;
    }
    const uint32_t entries = table.len / kDescriptorBytes;
    std::vector<uint8_t> raw(table.len);
    if (wraps(table.addr, table.len) || !memory.read(table.addr, raw.data(), raw.size())) {
        error = "indirect table at " + describe(table.addr, table.len) + " is not guest RAM";
        return false;
    }
    uint32_t index = 0;
    for (uint32_t count = 1;; ++count) {
        if (count > entries) {
            error = "the indirect table at " + hex(table.addr) + " chains more than its " + std::to_string(entries) +
                    " descriptors (a loop)";
            return false;
        }
        const uint8_t* p = raw.data() + uint64_t{kDescriptorBytes} * index;
        const Descriptor d{load_le64(p), load_le32(p + 8), load_le16(p + 12), load_le16(p + 14)};
        if ((d.flags & kDescFIndirect) != 0) {
            error = "indirect table at " + hex(table.addr) + " holds another indirect descriptor";
            return false;
        }
        if (!add_segment(d, chain, error)) return false;
        if ((d.flags & kDescFNext) == 0) return true;
        if (d.next >= entries) {
            error = "indirect descriptor " + std::to_string(index) + " chains to " + std::to_string(d.next) +
                    ", outside its table of " + std::to_string(entries);
            return false;
        }
        index = d.next;
    }
}

bool Virtqueue::add_segment(const Descriptor& d, DescriptorChain& chain, std::string& error) const {
    if (wraps(d.addr, d.len)) {
        error = "buffer at " + describe(d.addr, d.len) + " wraps around the top of the address space";
        return false;
    }
    const bool writable = (d.flags & kDescFWrite) != 0;
    // 2.6.4.2: the device-readable buffers come first.
    if (!writable && chain.writable_bytes != 0) {
        error = "a device-readable buffer at " + hex(d.addr) + " follows a device-writable one";
        return false;
    }
    if (chain.readable_bytes + chain.writable_bytes + d.len > kMaxChainBytes) {
        error = "the chain from descriptor " + std::to_string(chain.head) + " holds more than " +
                std::to_string(kMaxChainBytes >> 20) + " MiB";
        return false;
    }
    (writable ? chain.writable_bytes : chain.readable_bytes) += d.len;
    chain.segments.push_back(BufferSegment{d.addr, d.len, writable});
    return true;
}

bool Virtqueue::push_used(GuestMemory& memory, uint16_t head, uint32_t written, std::string& error) {
    if (!running_ || head >= layout_.size) {
        error = "used buffer " + std::to_string(head) + " was not popped from this queue";
        return false;
    }
    uint8_t elem[kUsedElemBytes];
    store_le32(elem, head);
    store_le32(elem + 4, written);
    const uint64_t entry = layout_.device + kRingEntriesOffset + kUsedElemBytes * (used_ % layout_.size);
    if (!memory.write(entry, elem, sizeof(elem))) {
        error = "the used ring at " + hex(layout_.device) + " is not guest RAM";
        return false;
    }
    // 2.6.8.2: the element is visible before the index that publishes it.
    std::atomic_thread_fence(std::memory_order_release);
    uint8_t idx[2];
    store_le16(idx, static_cast<uint16_t>(used_ + 1));
    if (!memory.write(layout_.device + kRingIdxOffset, idx, sizeof(idx))) {
        error = "the used ring at " + hex(layout_.device) + " is not guest RAM";
        return false;
    }
    ++used_;
    return true;
}

bool Virtqueue::driver_wants_interrupt(GuestMemory& memory) {
    // The used index store must be ordered before the flags load (2.6.14), or a driver
    // that just cleared NO_INTERRUPT and found no new used buffer would miss ours.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint16_t flags = 0;
    if (!running_ || !read16(memory, layout_.driver, flags)) return true;
    return (flags & kAvailFNoInterrupt) == 0;
}

}  // namespace devmodel
