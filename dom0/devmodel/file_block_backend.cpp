#include "dom0/devmodel/file_block_backend.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace devmodel {

std::unique_ptr<FileBlockBackend> FileBlockBackend::open(const std::string& path, bool read_only, std::string& error) {
    const int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": " + strerror(errno);
        return nullptr;
    }
    struct stat st = {};
    uint64_t size = 0;
    if (fstat(fd, &st) != 0) {
        error = path + ": " + strerror(errno);
        ::close(fd);
        return nullptr;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
            error = path + ": BLKGETSIZE64: " + strerror(errno);
            ::close(fd);
            return nullptr;
        }
    } else if (S_ISREG(st.st_mode)) {
        size = static_cast<uint64_t>(st.st_size);
    } else {
        error = path + ": not a regular file or a block device";
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<FileBlockBackend>(new FileBlockBackend(fd, size, read_only));
}

FileBlockBackend::~FileBlockBackend() { ::close(fd_); }

bool FileBlockBackend::read(uint64_t offset, void* dst, size_t len) {
    if (offset > size_ || len > size_ - offset) return false;
    auto* out = static_cast<uint8_t*>(dst);
    while (len != 0) {
        const ssize_t n = pread(fd_, out, len, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // an error, or the file shrank under us
        out += n;
        offset += static_cast<uint64_t>(n);
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool FileBlockBackend::write(uint64_t offset, const void* src, size_t len) {
    if (read_only_ || offset > size_ || len > size_ - offset) return false;
    const auto* in = static_cast<const uint8_t*>(src);
    while (len != 0) {
        const ssize_t n = pwrite(fd_, in, len, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        in += n;
        offset += static_cast<uint64_t>(n);
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool FileBlockBackend::read_vector(uint64_t offset, const struct iovec* buffers, size_t count) {
    return transfer_vector(false, offset, buffers, count);
}

bool FileBlockBackend::write_vector(uint64_t offset, const struct iovec* buffers, size_t count) {
    return !read_only_ && transfer_vector(true, offset, buffers, count);
}

bool FileBlockBackend::transfer_vector(bool write, uint64_t offset, const struct iovec* buffers, size_t count) {
    uint64_t total = 0;
    for (size_t i = 0; i < count; ++i) total += buffers[i].iov_len;
    if (offset > size_ || total > size_ - offset) return false;
    // What is left of the buffers, advanced past what each call moved.
    std::vector<struct iovec> left(buffers, buffers + count);
    size_t first = 0;
    for (;;) {
        while (first < left.size() && left[first].iov_len == 0) ++first;
        if (first == left.size()) return true;
        const int n_buffers = static_cast<int>(std::min<size_t>(left.size() - first, IOV_MAX));
        const ssize_t n = write ? pwritev(fd_, &left[first], n_buffers, static_cast<off_t>(offset))
                                : preadv(fd_, &left[first], n_buffers, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // an error, or the file shrank under us
        offset += static_cast<uint64_t>(n);
        for (size_t moved = static_cast<size_t>(n); moved != 0 && first < left.size();) {
            const size_t step = std::min(moved, left[first].iov_len);
            left[first].iov_base = static_cast<uint8_t*>(left[first].iov_base) + step;
            left[first].iov_len -= step;
            moved -= step;
            if (left[first].iov_len == 0) ++first;
        }
    }
}

bool FileBlockBackend::flush() {
    if (read_only_) return true;
    while (fdatasync(fd_) != 0)
        if (errno != EINTR) return false;
    return true;
}

}  // namespace devmodel
