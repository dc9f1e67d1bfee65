#include "dom0/xm/device_model_control.hpp"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dom0/devmodel/control_protocol.hpp"
#include "dom0/xm/save_image.hpp"

namespace xm {

namespace {

using devmodel::control::Reply;
using devmodel::control::ReplyReader;

// Whatever vireo-dm sends fits the save image's devices section.
static_assert(devmodel::control::kMaxState == save_image::kDevicesStateMax);

constexpr const char* kNoAnswer = "its device model did not answer";

int64_t now_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// A connected socket, or -1 with `error`.
int connect_to(const std::string& path, std::string& error) {
    sockaddr_un address{};
    if (path.size() >= sizeof(address.sun_path)) {
        error = std::string(kNoAnswer) + ": " + path + ": name too long";
        return -1;
    }
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path.data(), path.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string(kNoAnswer) + ": socket: " + strerror(errno);
        return -1;
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        // ENOENT: none is running; ECONNREFUSED: one was killed and left its socket.
        error = std::string(kNoAnswer) + " (" + path + ": " + strerror(errno) + ")";
        close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& bytes, std::string& error) {
    for (size_t sent = 0; sent < bytes.size();) {
        // MSG_NOSIGNAL: a device model that went away is an error here, not SIGPIPE.
        const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = std::string(kNoAnswer) + ": " + strerror(errno);
            return false;
        }
        sent += size_t(n);
    }
    return true;
}

// Until the whole reply is there, the device model hangs up or the deadline passes.
bool receive_reply(int fd, ReplyReader& reader, int timeout_ms, std::string& error) {
    const int64_t deadline = now_ms() + timeout_ms;
    while (!reader.complete() && !reader.malformed()) {
        const int64_t left = deadline - now_ms();
        pollfd p{fd, POLLIN, 0};
        const int ready = left > 0 ? poll(&p, 1, int(left)) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            error = std::string(kNoAnswer) + " within " + std::to_string(timeout_ms / 1000) + " s";
            return false;
        }
        uint8_t buffer[65536];
        const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = std::string(kNoAnswer) + " (it closed the connection" +
                    (n < 0 ? std::string(": ") + strerror(errno) : std::string()) + ")";
            return false;
        }
        reader.feed(buffer, size_t(n));
    }
    if (reader.malformed()) {
        error = "its device model's reply is not one xm understands";
        return false;
    }
    return true;
}

}  // namespace

bool device_model_present(uint32_t id) {
    struct stat s {};
    return lstat(devmodel::control::socket_path(id).c_str(), &s) == 0 && S_ISSOCK(s.st_mode);
}

bool device_model_request(const std::string& path, const std::string& command, std::vector<uint8_t>* blob,
                          int timeout_ms, std::string& error) {
    const int fd = connect_to(path, error);
    if (fd < 0) return false;
    ReplyReader reader;
    const bool answered = send_all(fd, command + "\n", error) && receive_reply(fd, reader, timeout_ms, error);
    close(fd);
    if (!answered) return false;
    const Reply& reply = reader.reply();
    if (reply.kind == Reply::Kind::kError) {
        error = "its device model refused: " + reply.why;
        return false;
    }
    // A state where none is expected, or none where one is: not this protocol.
    if (reply.length.has_value() != (blob != nullptr)) {
        error = "its device model's reply is not one xm understands";
        return false;
    }
    if (blob) *blob = std::move(reader.blob());
    return true;
}

bool device_model_save(uint32_t id, std::vector<uint8_t>& blob, std::string& error) {
    return device_model_request(devmodel::control::socket_path(id), "save", &blob, kDeviceModelReplyTimeoutMs, error);
}

bool device_model_rename(uint32_t id, const std::string& name, std::string& error) {
    return device_model_request(devmodel::control::socket_path(id), "rename " + name, nullptr,
                                kDeviceModelReplyTimeoutMs, error);
}

bool device_model_continue(uint32_t id, std::string& error) {
    return device_model_request(devmodel::control::socket_path(id), "continue", nullptr, kDeviceModelReplyTimeoutMs,
                                error);
}

}  // namespace xm
