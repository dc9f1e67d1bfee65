#include "dom0/devmodel/block_backend.hpp"

namespace devmodel {

bool BlockBackend::read_vector(uint64_t offset, const struct iovec* buffers, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (!read(offset, buffers[i].iov_base, buffers[i].iov_len)) return false;
        offset += buffers[i].iov_len;
    }
    return true;
}

bool BlockBackend::write_vector(uint64_t offset, const struct iovec* buffers, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (!write(offset, buffers[i].iov_base, buffers[i].iov_len)) return false;
        offset += buffers[i].iov_len;
    }
    return true;
}

}  // namespace devmodel
