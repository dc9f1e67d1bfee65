// A block request's data moved between its backend and the descriptor chain's buffers
// (virtio 1.1, 5.2.6): in place where the guest memory lets the device model reach the
// buffers directly (GuestMemory::direct: Domain-0's foreign mappings), so that a read
// from a file lands in the domU's pages in one system call with no copy in between, as
// dom0's own reads do; through a bounce buffer where it does not (the unit tests' memory,
// a page the domU ballooned out). Either way the bytes and the errors are the same.
#pragma once

#include <cstdint>
#include <string>

#include "dom0/devmodel/block_backend.hpp"
#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

enum class BlockTransferResult : uint8_t {
    Ok,
    BackendError,  // the backend failed: the request's status is IOERR
    RingError,     // a buffer is not guest RAM (`error` says which): a driver error
};

// Reads `len` bytes of the disk at `disk_offset` into the chain's writable stream from its
// start (`to_guest`, an IN request), or writes `len` bytes of its readable stream from
// `stream_offset` to the disk (an OUT request, whose stream starts with the header). The
// caller keeps the range inside the stream and the disk.
BlockTransferResult block_transfer(BlockBackend& backend, GuestMemory& memory, const DescriptorChain& chain,
                                   bool to_guest, uint64_t stream_offset, uint64_t disk_offset, uint64_t len,
                                   std::string& error);

}  // namespace devmodel
