// Where a virtio-blk device's sectors live: a file or block device in Domain-0
// (file_block_backend.hpp), or memory in the unit tests. Offsets and lengths are in
// bytes; the device keeps every access inside size_bytes().
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/uio.h>

namespace devmodel {

class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    virtual uint64_t size_bytes() const = 0;
    virtual bool read_only() const = 0;
    // False on an I/O error (the request then completes with VIRTIO_BLK_S_IOERR).
    virtual bool read(uint64_t offset, void* dst, size_t len) = 0;
    virtual bool write(uint64_t offset, const void* src, size_t len) = 0;
    // The same for `count` buffers laid end to end from `offset` (a request's buffers in
    // guest memory, reached in place: dom0/devmodel/block_transfer.hpp). By default one
    // read or write per buffer; a file does it in one system call (preadv, pwritev).
    virtual bool read_vector(uint64_t offset, const struct iovec* buffers, size_t count);
    virtual bool write_vector(uint64_t offset, const struct iovec* buffers, size_t count);
    // Makes every completed write durable (VIRTIO_BLK_T_FLUSH).
    virtual bool flush() = 0;
};

}  // namespace devmodel
