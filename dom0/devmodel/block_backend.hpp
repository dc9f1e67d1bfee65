// Where a virtio-blk device's sectors live: a file or block device in Domain-0
// (file_block_backend.hpp), or memory in the unit tests. Offsets and lengths are in
// bytes; the device keeps every access inside size_bytes().
#pragma once

#include <cstddef>
#include <cstdint>

namespace devmodel {

class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    virtual uint64_t size_bytes() const = 0;
    virtual bool read_only() const = 0;
    // False on an I/O error (the request then completes with VIRTIO_BLK_S_IOERR).
    virtual bool read(uint64_t offset, void* dst, size_t len) = 0;
    virtual bool write(uint64_t offset, const void* src, size_t len) = 0;
    // Makes every completed write durable (VIRTIO_BLK_T_FLUSH).
    virtual bool flush() = 0;
};

}  // namespace devmodel
