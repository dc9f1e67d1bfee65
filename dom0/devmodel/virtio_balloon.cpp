#include "dom0/devmodel/virtio_balloon.hpp"

#include <algorithm>
#include <string>

#include "dom0/devmodel/chain_io.hpp"
#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

void VirtioBalloon::set_target_pages(uint32_t pages) {
    num_pages_ = pages;
    if (attached()) transport().config_changed();
}

void VirtioBalloon::read_config(uint32_t offset, uint8_t* dst, uint32_t len) {
    uint8_t config[kConfigSize];
    store_le32(config, num_pages_);
    store_le32(config + 4, actual_);
    for (uint32_t i = 0; i < len; ++i) dst[i] = offset + i < kConfigSize ? config[offset + i] : 0;
}

void VirtioBalloon::write_config(uint32_t offset, const uint8_t* src, uint32_t len) {
    // Only `actual` is the driver's (5.5.4); num_pages is read-only.
    uint8_t config[kConfigSize];
    store_le32(config + 4, actual_);
    bool touched = false;
    for (uint32_t i = 0; i < len; ++i) {
        if (offset + i < 4 || offset + i >= kConfigSize) continue;
        config[offset + i] = src[i];
        touched = true;
    }
    if (!touched) return;
    actual_ = load_le32(config + 4);
    listener_.actual_changed(actual_);
}

void VirtioBalloon::reset() {
    actual_ = 0;
    listener_.balloon_reset();
}

void VirtioBalloon::process_queue(uint16_t q) {
    Virtqueue* vq = transport().running_queue(q);
    if (vq == nullptr || (q != kInflateQueue && q != kDeflateQueue)) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    for (uint32_t n = 0; n < vq->size(); ++n) {
        DescriptorChain chain;
        std::string error;
        const Virtqueue::Pop result = vq->pop(memory, chain, error);
        if (result == Virtqueue::Pop::Empty) break;
        bool ok = result == Virtqueue::Pop::Chain;
        // 5.5.6: the buffer is an array of le32 page frame numbers.
        if (ok && chain.readable_bytes % 4 != 0) {
            error = "balloon buffer " + std::to_string(chain.head) + " holds " + std::to_string(chain.readable_bytes) +
                    " bytes, not whole 32-bit page frame numbers";
            ok = false;
        }
        const uint64_t count = chain.readable_bytes / 4;
        for (uint64_t done = 0; ok && done < count;) {
            uint8_t raw[kPfnBatch * 4];
            uint32_t pfns[kPfnBatch];
            const size_t batch = static_cast<size_t>(std::min<uint64_t>(count - done, kPfnBatch));
            ok = read_from_chain(memory, chain, done * 4, raw, batch * 4, error);
            if (!ok) break;
            for (size_t i = 0; i < batch; ++i) pfns[i] = load_le32(raw + 4 * i);
            if (q == kInflateQueue)
                listener_.pages_inflated(pfns, batch);
            else
                listener_.pages_deflated(pfns, batch);
            done += batch;
        }
        if (!ok || !vq->push_used(memory, chain.head, 0, error)) {
            transport().driver_error(error);
            return;
        }
        used = true;
    }
    if (used) transport().queue_used(q);
}

}  // namespace devmodel

namespace devmodel {

void VirtioBalloon::save_state(StateOut& out) const {
    out.u16(kStateVersion);
    out.u32(num_pages_);
    out.u32(actual_);
}

bool VirtioBalloon::check_state(StateIn& in) const {
    const uint16_t version = in.u16("the virtio-balloon state");
    in.u32("num_pages");
    in.u32("actual");
    if (in.ok() && version != kStateVersion) in.fail("version " + std::to_string(version));
    return in.at_end("the virtio-balloon state");
}

void VirtioBalloon::apply_state(StateIn& in) {
    in.u16("version");
    num_pages_ = in.u32("num_pages");
    actual_ = in.u32("actual");
    // The new process learns the driver's count as if the driver had just written it.
    listener_.actual_changed(actual_);
}

}  // namespace devmodel
