#include "dom0/xm/save_file.hpp"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dom0/xm/xm_common.hpp"

namespace xm {

bool FdSink::write(const void* data, size_t length) {
    if (buffer_.size() + length > kBufferBytes && !flush()) return false;
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (length >= kBufferBytes) {  // large enough to go straight through
        if (!write_all(fd_, bytes, length)) {
            error_ = strerror(errno);
            return false;
        }
    } else {
        buffer_.insert(buffer_.end(), bytes, bytes + length);
    }
    bytes_ += length;
    return true;
}

bool FdSink::flush() {
    if (buffer_.empty()) return true;
    if (!write_all(fd_, buffer_.data(), buffer_.size())) {
        error_ = strerror(errno);
        return false;
    }
    buffer_.clear();
    return true;
}

bool FdSource::read(void* data, size_t length) {
    auto* out = static_cast<uint8_t*>(data);
    while (length > 0) {
        if (start_ == end_) {
            ssize_t n;
            do n = ::read(fd_, buffer_.data(), buffer_.size());
            while (n < 0 && errno == EINTR);
            if (n < 0) error_ = strerror(errno);
            if (n <= 0) return false;
            start_ = 0;
            end_ = size_t(n);
        }
        const size_t take = end_ - start_ < length ? end_ - start_ : length;
        memcpy(out, buffer_.data() + start_, take);
        start_ += take;
        out += take;
        length -= take;
        bytes_ += take;
    }
    return true;
}

HeldSignals::HeldSignals() {
    signal(SIGPIPE, SIG_IGN);
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGHUP);
    sigprocmask(SIG_BLOCK, &held, &before_);
}

HeldSignals::~HeldSignals() { sigprocmask(SIG_SETMASK, &before_, nullptr); }

}  // namespace xm
