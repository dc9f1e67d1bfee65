#include "dom0/devmodel/pty_port.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

namespace devmodel {

std::unique_ptr<PtyPort> PtyPort::open(const std::string& name, LogSink log, std::string& error) {
    const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) {
        error = std::string("no pseudo-terminal for ") + name + ": posix_openpt: " + strerror(errno);
        return nullptr;
    }
    const char* path = nullptr;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || (path = ptsname(master)) == nullptr) {
        error = std::string("no pseudo-terminal for ") + name + ": " + strerror(errno);
        close(master);
        return nullptr;
    }
    const std::string slave_path = path;
    const int slave = ::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios raw{};
    if (slave < 0 || tcgetattr(slave, &raw) != 0) {
        error = slave_path + ": " + strerror(errno);
        if (slave >= 0) close(slave);
        close(master);
        return nullptr;
    }
    cfmakeraw(&raw);
    const int flags = fcntl(master, F_GETFL);
    if (tcsetattr(slave, TCSANOW, &raw) != 0 || flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) != 0) {
        error = slave_path + ": " + strerror(errno);
        close(slave);
        close(master);
        return nullptr;
    }
    return std::unique_ptr<PtyPort>(new PtyPort(master, slave, slave_path, name, std::move(log)));
}

PtyPort::~PtyPort() {
    close(slave_);
    close(master_);
}

size_t PtyPort::read_bytes(uint8_t* buf, size_t max) {
    for (;;) {
        const ssize_t n = read(master_, buf, max);
        if (n > 0) return size_t(n);
        if (n < 0 && errno == EINTR) continue;
        return 0;  // EAGAIN: nothing typed
    }
}

void PtyPort::write_bytes(const uint8_t* data, size_t len) {
    size_t done = 0;
    while (done < len) {
        const ssize_t n = write(master_, data + done, len - done);
        if (n > 0) {
            done += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;  // EAGAIN: the pty is full
    }
    if (done == len) {
        if (dropping_ && len > 0) {
            log_(name_ + ": " + std::to_string(dropped_ - dropped_said_) + " bytes of output were dropped while " +
                 slave_path_ + " was full");
            dropping_ = false;
        }
        return;
    }
    if (!dropping_) {
        log_(name_ + ": " + slave_path_ + " is full (nobody reads it, or too slowly): output is dropped");
        dropping_ = true;
        dropped_said_ = dropped_;
    }
    dropped_ += len - done;
}

}  // namespace devmodel
