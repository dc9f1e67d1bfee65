// The virtio block device (virtio 1.1, 5.2) over a BlockBackend: one request queue of
// kQueueSize entries; requests IN (read), OUT (write), FLUSH and GET_ID (the serial
// string), any other type answered VIRTIO_BLK_S_UNSUPP (5.2.6.1). Offered features:
// SEG_MAX, SIZE_MAX, BLK_SIZE (512), FLUSH, and RO when the backend is read-only; the
// transport adds VERSION_1 and INDIRECT_DESC. SEG_MAX and SIZE_MAX together keep every
// request Linux can build (it honours both, whatever its max_sectors_kb) under the
// virtqueue's kMaxChainBytes, so that limit only ever stops a broken driver.
//
// A request (5.2.6) is a 16-byte header (le32 type, le32 reserved, le64 sector) in the
// device-readable bytes, the data (readable for OUT, writable for IN), and a status
// byte, the last device-writable byte. The descriptor boundaries do not matter (2.6.4).
// What the disk cannot do is the request's status: IOERR for a write to a read-only
// disk (5.2.6.2, nothing written), for sectors past the end or a data length that is
// not whole sectors, and for the backend's own errors. What breaks the request format
// (a header shorter than 16 bytes, no device-writable status byte) and anything a
// Virtqueue refuses is a driver error: the device needs a reset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dom0/devmodel/block_backend.hpp"
#include "dom0/devmodel/virtio_device.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

class VirtioBlk final : public VirtioDevice {
public:
    // Feature bits (5.2.3).
    static constexpr uint64_t kFSizeMax = 1ull << 1;
    static constexpr uint64_t kFSegMax = 1ull << 2;
    static constexpr uint64_t kFRo = 1ull << 5;
    static constexpr uint64_t kFBlkSize = 1ull << 6;
    static constexpr uint64_t kFFlush = 1ull << 9;

    // Request types and status values (5.2.6).
    static constexpr uint32_t kTypeIn = 0;
    static constexpr uint32_t kTypeOut = 1;
    static constexpr uint32_t kTypeFlush = 4;
    static constexpr uint32_t kTypeGetId = 8;
    static constexpr uint8_t kStatusOk = 0;
    static constexpr uint8_t kStatusIoErr = 1;
    static constexpr uint8_t kStatusUnsupp = 2;

    static constexpr uint32_t kSectorSize = 512;  // the unit of `sector` and capacity, always
    static constexpr uint32_t kHeaderBytes = 16;
    static constexpr uint32_t kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
    static constexpr uint16_t kQueueSize = 512;
    // Data buffers per request: a request also needs a header and a status descriptor,
    // so a direct chain still fits the queue. Above 256, so that a 1 MiB transfer of
    // scattered pages (an O_DIRECT read into a user buffer) is one request, not two: with
    // 254, Linux split each such MiB into 254 pages and 2 (its block layer honours
    // seg_max), and the second, tiny request cost a whole round trip through the device
    // model. Linux's own limit (max_sectors, 1280 KiB) then decides.
    static constexpr uint32_t kSegMax = kQueueSize - 2;
    // The largest data buffer (size_max).
    static constexpr uint32_t kSizeMax = 128 * 1024;
    static_assert(uint64_t{kSegMax} * kSizeMax + kHeaderBytes + 1 <= Virtqueue::kMaxChainBytes,
                  "the largest request a driver may build fits a chain");
    // struct virtio_blk_config (5.2.4) up to and including write_zeroes_may_unmap and
    // its padding: every field Linux may read is inside.
    static constexpr uint32_t kConfigSize = 60;

    // `serial` is what GET_ID returns (at most kIdBytes bytes are used).
    VirtioBlk(std::unique_ptr<BlockBackend> backend, std::string serial);

    BlockBackend& backend() { return *backend_; }

    const char* name() const override { return "virtio-blk"; }
    uint16_t device_id() const override { return kVirtioIdBlock; }
    uint32_t pci_class_code() const override { return 0x010000; }  // mass storage, SCSI (as QEMU's)
    uint64_t device_features() const override;
    uint16_t num_queues() const override { return 1; }
    uint16_t max_queue_size(uint16_t) const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* dst, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {}  // read-only without CONFIG_WCE
    void reset() override {}
    void process_queue(uint16_t q) override;

private:
    // Executes one request and writes its status byte; `written` is what the used ring
    // reports. False (with `error`) for a driver error.
    bool execute(GuestMemory& memory, const DescriptorChain& chain, uint32_t& written, std::string& error);
    // The data of an IN or OUT request: a status, and ring_ok false (with `error`) when
    // a buffer is not guest RAM.
    uint8_t transfer_in(GuestMemory& memory, const DescriptorChain& chain, uint64_t sector, uint64_t len, bool& ring_ok,
                        std::string& error);
    uint8_t transfer_out(GuestMemory& memory, const DescriptorChain& chain, uint64_t sector, uint64_t len,
                         bool& ring_ok, std::string& error);
    bool in_range(uint64_t sector, uint64_t len) const;

    std::unique_ptr<BlockBackend> backend_;
    std::string serial_;
    uint64_t capacity_sectors_;
};

}  // namespace devmodel
