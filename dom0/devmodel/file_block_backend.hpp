// A BlockBackend over a file or a block device in Domain-0 (the only Linux-specific
// code of the device model): pread/pwrite (preadv/pwritev) at the request's offset, fdatasync for a
// flush, the size from fstat or, for a block device, the BLKGETSIZE64 ioctl.
#pragma once

#include <memory>
#include <string>

#include "dom0/devmodel/block_backend.hpp"

namespace devmodel {

class FileBlockBackend final : public BlockBackend {
public:
    // Opens `path` read-write (or read-only). nullptr with a sentence in `error`.
    static std::unique_ptr<FileBlockBackend> open(const std::string& path, bool read_only, std::string& error);
    ~FileBlockBackend() override;
    FileBlockBackend(const FileBlockBackend&) = delete;
    FileBlockBackend& operator=(const FileBlockBackend&) = delete;

    uint64_t size_bytes() const override { return size_; }
    bool read_only() const override { return read_only_; }
    bool read(uint64_t offset, void* dst, size_t len) override;
    bool write(uint64_t offset, const void* src, size_t len) override;
    bool read_vector(uint64_t offset, const struct iovec* buffers, size_t count) override;
    bool write_vector(uint64_t offset, const struct iovec* buffers, size_t count) override;
    bool flush() override;

private:
    // preadv or pwritev until every buffer is done (a call may move fewer bytes).
    bool transfer_vector(bool write, uint64_t offset, const struct iovec* buffers, size_t count);
    FileBlockBackend(int fd, uint64_t size, bool read_only) : fd_(fd), size_(size), read_only_(read_only) {}

    int fd_;
    uint64_t size_;
    bool read_only_;
};

}  // namespace devmodel
