// A save image's bytes to and from a file descriptor (a file for xm save and restore, a
// TCP connection for xm migrate), buffered: the image is written in sections of a few
// bytes to 2 MiB, and one write(2) per section header would cost more than the copy.
#pragma once

#include <signal.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/xm/save_image.hpp"

namespace xm {

class FdSink final : public save_image::ByteSink {
public:
    explicit FdSink(int fd) : fd_(fd) { buffer_.reserve(kBufferBytes); }
    bool write(const void* data, size_t length) override;
    // Writes what is buffered; false (with error()) when the descriptor refused it.
    bool flush();
    const std::string& error() const { return error_; }
    uint64_t bytes() const { return bytes_; }

private:
    static constexpr size_t kBufferBytes = size_t(1) << 20;
    int fd_;
    std::vector<uint8_t> buffer_;
    std::string error_;
    uint64_t bytes_ = 0;
};

class FdSource final : public save_image::ByteSource {
public:
    explicit FdSource(int fd) : fd_(fd), buffer_(kBufferBytes) {}
    bool read(void* data, size_t length) override;
    // Why the last read failed: empty at the end of the data, else the system's reason.
    const std::string& error() const { return error_; }
    uint64_t bytes() const { return bytes_; }

private:
    static constexpr size_t kBufferBytes = size_t(1) << 20;
    int fd_;
    std::vector<uint8_t> buffer_;
    size_t start_ = 0, end_ = 0;
    std::string error_;
    uint64_t bytes_ = 0;
};

// While it lives, SIGINT, SIGTERM and SIGHUP wait (delivered when it ends), and SIGPIPE is
// ignored (a write to a pipe whose reader left fails instead): a save or restore gets to
// undo what it did (unpause, destroy a half-made domain) before a signal ends xm.
class HeldSignals {
public:
    HeldSignals();
    ~HeldSignals();
    HeldSignals(const HeldSignals&) = delete;
    HeldSignals& operator=(const HeldSignals&) = delete;

private:
    sigset_t before_{};
};

}  // namespace xm
