#include "dom0/devmodel/chain_io.hpp"

#include <algorithm>

#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

bool read_from_chain(GuestMemory& memory, const DescriptorChain& chain, uint64_t offset, void* dst, size_t len,
                     std::string& error) {
    auto* out = static_cast<uint8_t*>(dst);
    uint64_t bad = 0;
    size_t bad_len = 0;
    const bool ok = for_each_chain_piece(chain, false, offset, len, [&](uint64_t gpa, size_t n, size_t at) {
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
    const bool ok = for_each_chain_piece(chain, true, offset, len, [&](uint64_t gpa, size_t n, size_t at) {
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
