// Byte access to a descriptor chain's buffers as the device sees them (virtio 1.1,
// 2.6.4 "Message Framing"): the device-readable buffers laid end to end form one byte
// stream, the device-writable ones another, whatever the descriptor boundaries, since a
// driver may split a request header or put data and status in one buffer. A buffer
// that is not guest RAM is an error with a sentence (the device's driver error).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

// Visits the pieces of [offset, offset + len) of one stream (readable or writable):
// fn(gpa, bytes, position in the caller's buffer). False at the first failing piece.
template <typename Fn>
bool for_each_chain_piece(const DescriptorChain& chain, bool writable, uint64_t offset, size_t len, Fn fn) {
    uint64_t stream_pos = 0;
    size_t done = 0;
    for (const BufferSegment& s : chain.segments) {
        if (s.device_writable != writable || done == len) continue;
        const uint64_t seg_end = stream_pos + s.len;
        if (offset + done < seg_end) {
            const uint64_t in_seg = offset + done - stream_pos;
            const size_t n = static_cast<size_t>(std::min<uint64_t>(s.len - in_seg, len - done));
            if (!fn(s.gpa + in_seg, n, done)) return false;
            done += n;
        }
        stream_pos = seg_end;
    }
    return done == len;
}

// Copies len bytes at `offset` of the chain's readable stream into dst. The caller
// keeps offset + len within chain.readable_bytes (false otherwise).
bool read_from_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, void* dst, size_t len,
                     std::string& error);

// Copies len bytes from src to `offset` of the chain's writable stream.
bool write_to_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, const void* src, size_t len,
                    std::string& error);

}  // namespace devmodel
