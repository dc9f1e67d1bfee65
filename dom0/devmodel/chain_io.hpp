// Byte access to a descriptor chain's buffers as the device sees them (virtio 1.1,
// 2.6.4 "Message Framing"): the device-readable buffers laid end to end form one byte
// stream, the device-writable ones another, whatever the descriptor boundaries, since a
// driver may split a request header or put data and status in one buffer. A buffer
// that is not guest RAM is an error with a sentence (the device's driver error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

// Copies len bytes at `offset` of the chain's readable stream into dst. The caller
// keeps offset + len within chain.readable_bytes (false otherwise).
bool read_from_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, void* dst, size_t len,
                     std::string& error);

// Copies len bytes from src to `offset` of the chain's writable stream.
bool write_to_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, const void* src, size_t len,
                    std::string& error);

}  // namespace devmodel
