#include "dom0/devmodel/virtio_net.hpp"

#include <algorithm>

#include "dom0/devmodel/chain_io.hpp"
#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

// Offsets in struct virtio_net_config (5.1.4).
constexpr uint32_t kConfigMac = 0;
constexpr uint32_t kConfigStatus = 6;
constexpr uint32_t kConfigMaxVirtqueuePairs = 8;
constexpr uint32_t kConfigMtu = 10;

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<MacAddress> parse_mac(const std::string& text) {
    MacAddress mac{};
    if (text.size() != 3 * mac.size() - 1) return std::nullopt;
    for (size_t i = 0; i < mac.size(); ++i) {
        const int high = hex_digit(text[3 * i]);
        const int low = hex_digit(text[3 * i + 1]);
        if (high < 0 || low < 0 || (i + 1 < mac.size() && text[3 * i + 2] != ':')) return std::nullopt;
        mac[i] = static_cast<uint8_t>(high << 4 | low);
    }
    return mac;
}

std::string format_mac(const MacAddress& mac) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (const uint8_t byte : mac) {
        if (!out.empty()) out += ':';
        out += digits[byte >> 4];
        out += digits[byte & 0xf];
    }
    return out;
}

VirtioNet::VirtioNet(PacketPort& port, const MacAddress& mac, uint16_t mtu)
    : port_(port), mac_(mac), mtu_(std::clamp(mtu, kMinMtu, kMaxMtu)), staging_(kMaxFrameBytes) {}

void VirtioNet::set_link_up(bool up) {
    const uint16_t status = up ? kStatusLinkUp : 0;
    if (status == status_) return;
    status_ = status;
    if (attached()) transport().config_changed();
}

void VirtioNet::read_config(uint32_t offset, uint8_t* dst, uint32_t len) {
    uint8_t config[kConfigSize] = {};
    std::copy(mac_.begin(), mac_.end(), config + kConfigMac);
    store_le16(config + kConfigStatus, status_);
    // Meaningful only with VIRTIO_NET_F_MQ, not offered; one pair is what there is.
    store_le16(config + kConfigMaxVirtqueuePairs, 1);
    store_le16(config + kConfigMtu, mtu_);
    for (uint32_t i = 0; i < len; ++i) dst[i] = offset + i < kConfigSize ? config[offset + i] : 0;
}

void VirtioNet::process_queue(uint16_t q) {
    if (q == kReceiveQueue) receive();
    if (q == kTransmitQueue) transmit();
}

void VirtioNet::frames_ready() { receive(); }

bool VirtioNet::wants_frames() {
    Virtqueue* vq = transport().running_queue(kReceiveQueue);
    return vq != nullptr && (rx_chain_.has_value() || vq->has_available(transport().guest_memory()));
}

bool VirtioNet::fits(size_t len) {
    // len beyond the staging buffer: the port could not store the frame whole.
    if (len > staging_.size() || kHeaderBytes + uint64_t{len} > rx_chain_->writable_bytes) return false;
    // 5.1.4.1: with VIRTIO_NET_F_MTU negotiated, no received packet exceeds mtu plus the
    // Ethernet header (counted with a VLAN tag, which Linux's receive buffers leave room
    // for too).
    return (transport().negotiated_features() & kFMtu) == 0 || len <= size_t{mtu_} + kTaggedEthernetHeaderBytes;
}

void VirtioNet::receive() {
    Virtqueue* vq = transport().running_queue(kReceiveQueue);
    if (vq == nullptr) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    // At most a queue's worth of frames read per call, dropped ones included: a flood
    // of frames that fit no buffer cannot hold the process either.
    for (uint32_t n = 0; n < vq->size(); ++n) {
        std::string error;
        if (!rx_chain_) {
            DescriptorChain chain;
            const Virtqueue::Pop result = vq->pop(memory, chain, error);
            if (result == Virtqueue::Pop::Empty) break;
            if (result == Virtqueue::Pop::Chain && chain.writable_bytes < kHeaderBytes)
                error = "receive buffer " + std::to_string(chain.head) + " has " +
                        std::to_string(chain.writable_bytes) + " device-writable bytes, less than the " +
                        std::to_string(kHeaderBytes) + "-byte header";
            if (result == Virtqueue::Pop::Error || !error.empty()) {
                transport().driver_error(error);
                return;
            }
            rx_chain_ = std::move(chain);
        }
        const size_t len = port_.receive(staging_.data(), staging_.size());
        if (len == 0) break;
        if (!fits(len)) {
            ++counters_.rx_dropped;
            continue;
        }
        if (!deliver(memory, *vq, len, error)) {
            transport().driver_error(error);
            return;
        }
        used = true;
    }
    if (used) transport().queue_used(kReceiveQueue);
}

bool VirtioNet::deliver(GuestMemory& memory, Virtqueue& vq, size_t len, std::string& error) {
    uint8_t header[kHeaderBytes] = {};  // flags 0, gso_type VIRTIO_NET_HDR_GSO_NONE
    store_le16(header + kNumBuffersOffset, 1);
    const DescriptorChain chain = std::move(*rx_chain_);
    rx_chain_.reset();
    if (!write_to_chain(memory, chain, 0, header, sizeof(header), error) ||
        !write_to_chain(memory, chain, kHeaderBytes, staging_.data(), len, error) ||
        !vq.push_used(memory, chain.head, static_cast<uint32_t>(kHeaderBytes + len), error))
        return false;
    ++counters_.rx_frames;
    return true;
}

void VirtioNet::transmit() {
    Virtqueue* vq = transport().running_queue(kTransmitQueue);
    if (vq == nullptr) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    // At most a queue's worth per call, as virtio-blk.
    for (uint32_t n = 0; n < vq->size(); ++n) {
        DescriptorChain chain;
        std::string error;
        const Virtqueue::Pop result = vq->pop(memory, chain, error);
        if (result == Virtqueue::Pop::Empty) break;
        // 5.1.6.2: nothing is written into a transmit buffer; the used length is 0.
        if (result == Virtqueue::Pop::Error || !transmit_one(memory, chain, error) ||
            !vq->push_used(memory, chain.head, 0, error)) {
            transport().driver_error(error);
            return;
        }
        used = true;
    }
    if (used) transport().queue_used(kTransmitQueue);
}

bool VirtioNet::transmit_one(GuestMemory& memory, const DescriptorChain& chain, std::string& error) {
    if (chain.readable_bytes < kHeaderBytes) {
        error = "transmit buffer " + std::to_string(chain.head) + " has " + std::to_string(chain.readable_bytes) +
                " readable bytes, less than the " + std::to_string(kHeaderBytes) + "-byte header";
        return false;
    }
    const uint64_t len = chain.readable_bytes - kHeaderBytes;
    if (len > kMaxFrameBytes) {
        error = "transmit buffer " + std::to_string(chain.head) + " holds a frame of " + std::to_string(len) +
                " bytes, more than " + std::to_string(kMaxFrameBytes);
        return false;
    }
    // The header's contents mean nothing without offloads (see the header file), but it
    // must be guest RAM like the rest of the chain.
    uint8_t header[kHeaderBytes];
    if (!read_from_chain(memory, chain, 0, header, sizeof(header), error) ||
        !read_from_chain(memory, chain, kHeaderBytes, staging_.data(), static_cast<size_t>(len), error))
        return false;
    if (len >= kEthernetHeaderBytes && port_.send(staging_.data(), static_cast<size_t>(len)))
        ++counters_.tx_frames;
    else
        ++counters_.tx_dropped;
    return true;
}

}  // namespace devmodel

namespace devmodel {

void VirtioNet::save_state(StateOut& out) const {
    out.u16(kStateVersion);
    out.bytes(mac_.data(), mac_.size());
    out.u16(mtu_);
    out.u16(status_);
}

bool VirtioNet::check_state(StateIn& in) const {
    const uint16_t version = in.u16("the virtio-net state");
    const std::vector<uint8_t> mac = in.bytes(6, "the virtio-net state");
    const uint16_t mtu = in.u16("the virtio-net state");
    const uint16_t status = in.u16("the virtio-net state");
    if (!in.at_end("the virtio-net state")) return false;
    if (version != kStateVersion) in.fail("version " + std::to_string(version));
    // 5.1.4: the driver read mac and mtu once; a device with others is another NIC.
    else if (!std::equal(mac.begin(), mac.end(), mac_.begin()))
        in.fail("saved with MAC " + format_mac({mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]}) +
                ", this device has " + format_mac(mac_));
    else if (mtu != mtu_)
        in.fail("saved with MTU " + std::to_string(mtu) + ", this device has " + std::to_string(mtu_));
    else if ((status & ~kStatusLinkUp) != 0)
        in.fail("status " + hex(status) + " has bits other than VIRTIO_NET_S_LINK_UP");
    return in.ok();
}

void VirtioNet::apply_state(StateIn& in) {
    in.u16("version");
    in.bytes(6, "mac");
    in.u16("mtu");
    status_ = in.u16("status");
    rx_chain_.reset();  // given back at save: the ring holds it again
}

}  // namespace devmodel
