#include "dom0/devmodel/virtio_blk.hpp"

#include <algorithm>

#include "dom0/devmodel/block_transfer.hpp"
#include "dom0/devmodel/chain_io.hpp"
#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

// Offsets in struct virtio_blk_config (5.2.4).
constexpr uint32_t kConfigCapacity = 0;
constexpr uint32_t kConfigSizeMax = 8;
constexpr uint32_t kConfigSegMax = 12;
constexpr uint32_t kConfigBlkSize = 20;

// A transfer's outcome as the request's status; a ring error also breaks the ring.
uint8_t status_of(BlockTransferResult result, bool& ring_ok) {
    if (result == BlockTransferResult::RingError) ring_ok = false;
    return result == BlockTransferResult::Ok ? VirtioBlk::kStatusOk : VirtioBlk::kStatusIoErr;
}

}  // namespace

VirtioBlk::VirtioBlk(std::unique_ptr<BlockBackend> backend, std::string serial)
    : backend_(std::move(backend)),
      serial_(std::move(serial)),
      capacity_sectors_(backend_->size_bytes() / kSectorSize) {}

uint64_t VirtioBlk::device_features() const {
    return kFSizeMax | kFSegMax | kFBlkSize | kFFlush | (backend_->read_only() ? kFRo : 0);
}

void VirtioBlk::read_config(uint32_t offset, uint8_t* dst, uint32_t len) {
    uint8_t config[kConfigSize] = {};
    store_le64(config + kConfigCapacity, capacity_sectors_);
    store_le32(config + kConfigSizeMax, kSizeMax);
    store_le32(config + kConfigSegMax, kSegMax);
    store_le32(config + kConfigBlkSize, kSectorSize);
    for (uint32_t i = 0; i < len; ++i) dst[i] = offset + i < kConfigSize ? config[offset + i] : 0;
}

void VirtioBlk::process_queue(uint16_t q) {
    Virtqueue* vq = transport().running_queue(q);
    if (vq == nullptr) return;
    GuestMemory& memory = transport().guest_memory();
    bool used = false;
    // At most a queue's worth per call: chains made available meanwhile come with
    // another notification, so a driver that keeps refilling cannot hold the process.
    for (uint32_t n = 0; n < vq->size(); ++n) {
        DescriptorChain chain;
        std::string error;
        const Virtqueue::Pop result = vq->pop(memory, chain, error);
        if (result == Virtqueue::Pop::Empty) break;
        uint32_t written = 0;
        if (result == Virtqueue::Pop::Error || !execute(memory, chain, written, error) ||
            !vq->push_used(memory, chain.head, written, error)) {
            transport().driver_error(error);
            return;
        }
        used = true;
    }
    if (used) transport().queue_used(q);
}

bool VirtioBlk::execute(GuestMemory& memory, const DescriptorChain& chain, uint32_t& written, std::string& error) {
    if (chain.readable_bytes < kHeaderBytes) {
        error = "request " + std::to_string(chain.head) + " has a header of " + std::to_string(chain.readable_bytes) +
                " bytes, not 16";
        return false;
    }
    if (chain.writable_bytes == 0) {
        error = "request " + std::to_string(chain.head) + " has no device-writable status byte";
        return false;
    }
    uint8_t header[kHeaderBytes];
    if (!read_from_chain(memory, chain, 0, header, sizeof(header), error)) return false;
    const uint32_t type = load_le32(header);
    const uint64_t sector = load_le64(header + 8);
    const uint64_t status_at = chain.writable_bytes - 1;

    uint8_t status = kStatusUnsupp;
    bool ring_ok = true;
    written = 1;
    switch (type) {
        case kTypeIn:
            status = transfer_in(memory, chain, sector, status_at, ring_ok, error);
            if (status == kStatusOk) written = static_cast<uint32_t>(status_at + 1);
            break;
        case kTypeOut:
            status = transfer_out(memory, chain, sector, chain.readable_bytes - kHeaderBytes, ring_ok, error);
            break;
        case kTypeFlush: status = backend_->flush() ? kStatusOk : kStatusIoErr; break;
        case kTypeGetId: {
            // 5.2.6: up to 20 bytes, NUL-padded when the string is shorter.
            uint8_t id[kIdBytes] = {};
            std::copy_n(serial_.begin(), std::min<size_t>(serial_.size(), kIdBytes), id);
            const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(status_at, kIdBytes));
            ring_ok = write_to_chain(memory, chain, 0, id, n, error);
            status = kStatusOk;
            written = n + 1;
            break;
        }
        default: break;  // VIRTIO_BLK_S_UNSUPP
    }
    if (!ring_ok) return false;
    return write_to_chain(memory, chain, status_at, &status, 1, error);
}

bool VirtioBlk::in_range(uint64_t sector, uint64_t len) const {
    return len % kSectorSize == 0 && sector <= capacity_sectors_ && len / kSectorSize <= capacity_sectors_ - sector;
}

uint8_t VirtioBlk::transfer_in(GuestMemory& memory, const DescriptorChain& chain, uint64_t sector, uint64_t len,
                               bool& ring_ok, std::string& error) {
    if (!in_range(sector, len)) return kStatusIoErr;
    return status_of(block_transfer(*backend_, memory, chain, true, 0, sector * kSectorSize, len, error), ring_ok);
}

uint8_t VirtioBlk::transfer_out(GuestMemory& memory, const DescriptorChain& chain, uint64_t sector, uint64_t len,
                                bool& ring_ok, std::string& error) {
    // 5.2.6.2: a read-only device fails every write and writes nothing.
    if (backend_->read_only() || !in_range(sector, len)) return kStatusIoErr;
    return status_of(block_transfer(*backend_, memory, chain, false, kHeaderBytes, sector * kSectorSize, len, error),
                     ring_ok);
}

}  // namespace devmodel
