#include "dom0/devmodel/chain_io.hpp"

#include <algorithm>

#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

// Visits the pieces of [offset, offset + len) of one stream (readable or writable):
// fn(gpa, bytes, position in the caller's buffer). False at the first failing piece.
template <typename Fn>
bool for_each_piece(const DescriptorChain& chain, bool writable, uint64_t offset, size_t len, Fn fn) {
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

}  // namespace

bool read_from_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, void* dst, size_t len,
                     std::string& error) {
    auto* out = static_cast<uint8_t*>(dst);
    uint64_t bad = 0;
    size_t bad_len = 0;
    const bool ok = for_each_piece(chain, false, offset, len, [&](uint64_t gpa, size_t n, size_t at) {
        if (memory.read(gpa, out + at, n)) return true;
        bad = gpa;
        bad_len = n;
        return false;
    });
    if (ok) return true;
    error = bad_len != 0 ? "buffer at " + hex(bad) + " (" + std::to_string(bad_len) + " bytes) is not guest RAM"
                         : "read past the end of the chain's readable buffers";
    return false;
}

bool write_to_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, const void* src, size_t len,
                    std::string& error) {
    const auto* in = static_cast<const uint8_t*>(src);
    uint64_t bad = 0;
    size_t bad_len = 0;
    const bool ok = for_each_piece(chain, true, offset, len, [&](uint64_t gpa, size_t n, size_t at) {
        if (memory.write(gpa, in + at, n)) return true;
        bad = gpa;
        bad_len = n;
        return false;
    });
    if (ok) return true;
    error = bad_len != 0 ? "buffer at " + hex(bad) + " (" + std::to_string(bad_len) + " bytes) is not guest RAM"
                         : "write past the end of the chain's writable buffers";
    return false;
}

}  // namespace devmodel
