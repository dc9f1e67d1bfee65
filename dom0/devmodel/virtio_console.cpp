#include "dom0/devmodel/virtio_console.hpp"

#include <algorithm>
#include <string>

#include "dom0/devmodel/chain_io.hpp"

namespace devmodel {

void VirtioConsole::read_config(uint32_t, uint8_t* dst, uint32_t len) { std::fill(dst, dst + len, 0); }

void VirtioConsole::process_queue(uint16_t q) {
    if (q == kReceiveQueue) receive();
    if (q == kTransmitQueue) transmit();
}

void VirtioConsole::input_ready() { receive(); }

bool VirtioConsole::wants_input() {
    Virtqueue* vq = transport().running_queue(kReceiveQueue);
    return vq != nullptr && pending_.empty() && vq->has_available(transport().guest_memory());
}

void VirtioConsole::receive() {
    Virtqueue* vq = transport().running_queue(kReceiveQueue);
    if (vq == nullptr) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    for (uint32_t n = 0; n < vq->size() && vq->has_available(memory); ++n) {
        if (pending_.empty()) {
            pending_.resize(kInputChunk);
            pending_.resize(input_.read_bytes(pending_.data(), kInputChunk));
            if (pending_.empty()) break;
        }
        DescriptorChain chain;
        std::string error;
        const Virtqueue::Pop result = vq->pop(memory, chain, error);
        if (result == Virtqueue::Pop::Empty) break;
        if (result == Virtqueue::Pop::Chain && chain.writable_bytes == 0)
            error = "receive buffer " + std::to_string(chain.head) + " has no device-writable bytes";
        const size_t len = static_cast<size_t>(std::min<uint64_t>(pending_.size(), chain.writable_bytes));
        if (result == Virtqueue::Pop::Error || len == 0 ||
            !write_to_chain(memory, chain, 0, pending_.data(), len, error) ||
            !vq->push_used(memory, chain.head, static_cast<uint32_t>(len), error)) {
            transport().driver_error(error);
            return;
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(len));
        used = true;
    }
    if (used) transport().queue_used(kReceiveQueue);
}

void VirtioConsole::transmit() {
    Virtqueue* vq = transport().running_queue(kTransmitQueue);
    if (vq == nullptr) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    uint8_t buf[kInputChunk];
    for (uint32_t n = 0; n < vq->size(); ++n) {
        DescriptorChain chain;
        std::string error;
        const Virtqueue::Pop result = vq->pop(memory, chain, error);
        if (result == Virtqueue::Pop::Empty) break;
        bool ok = result == Virtqueue::Pop::Chain;
        for (uint64_t done = 0; ok && done < chain.readable_bytes;) {
            const size_t len = static_cast<size_t>(std::min<uint64_t>(chain.readable_bytes - done, sizeof(buf)));
            ok = read_from_chain(memory, chain, done, buf, len, error);
            if (ok) output_.write_bytes(buf, len);
            done += len;
        }
        if (!ok || !vq->push_used(memory, chain.head, 0, error)) {
            transport().driver_error(error);
            return;
        }
        used = true;
    }
    if (used) transport().queue_used(kTransmitQueue);
}

}  // namespace devmodel

namespace devmodel {

void VirtioConsole::save_state(StateOut& out) const {
    out.u16(kStateVersion);
    out.u32(static_cast<uint32_t>(pending_.size()));
    out.bytes(pending_.data(), pending_.size());
}

bool VirtioConsole::check_state(StateIn& in) const {
    const uint16_t version = in.u16("the virtio-console state");
    const uint32_t pending = in.u32("the virtio-console state");
    if (in.ok() && version != kStateVersion) in.fail("version " + std::to_string(version));
    if (in.ok() && pending > kInputChunk)
        in.fail(std::to_string(pending) + " bytes of input waiting, more than " + std::to_string(kInputChunk));
    in.bytes(pending, "the waiting input");
    return in.at_end("the virtio-console state");
}

void VirtioConsole::apply_state(StateIn& in) {
    in.u16("version");
    pending_ = in.bytes(in.u32("pending"), "pending");
}

}  // namespace devmodel
