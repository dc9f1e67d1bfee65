#include "dom0/xm/control_client.hpp"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "dom0/include/vireo_control.h"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;

ControlClient::ControlClient() {
    const int failure = device_.open();
    if (failure == 0) return;
    if (failure == ENOENT)
        error_ = "/dev/vireo is missing: is the vireo module loaded (modprobe vireo)?";
    else if (failure == EACCES || failure == EPERM)
        error_ = "permission denied: /dev/vireo is root's";
    else
        error_ = std::string("cannot open /dev/vireo: ") + strerror(failure);
}

int64_t ControlClient::call_with_buffer(uint64_t number, int index, void* buffer, uint32_t length, uint64_t a0,
                                        uint64_t a1, uint64_t a2, uint64_t a3) {
    int failure = 0;
    const int64_t result = device_.hypercall({number, {a0, a1, a2, a3, 0}, index, buffer, length}, &failure);
    if (failure) error_ = dom0::ControlDevice::error_text(failure);
    return result;
}

int64_t ControlClient::call(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
    return call_with_buffer(number, -1, nullptr, 0, a0, a1, a2, a3);
}

bool ControlClient::status(uint32_t id, DomainStatus& out, int64_t& result) {
    out = {};
    result = call_with_buffer(kDomainGetStatus, 1, &out, sizeof(out), id);
    return result == 0;
}

bool ControlClient::domains(std::vector<DomainStatus>& out) {
    out.clear();
    std::vector<uint32_t> ids(64);
    for (;;) {
        const int64_t n =
            call_with_buffer(kDomainList, 0, ids.data(), uint32_t(ids.size() * sizeof(uint32_t)), 0, ids.size());
        if (n < 0) {
            if (error_.empty()) error_ = "cannot list domains: " + error_text(n);
            return false;
        }
        if (size_t(n) <= ids.size()) {
            ids.resize(size_t(n));
            break;
        }
        ids.resize(size_t(n));  // more came meanwhile: ask again with room for them
    }
    std::sort(ids.begin(), ids.end());
    for (const uint32_t id : ids) {
        DomainStatus s;
        int64_t result;
        if (status(id, s, result)) out.push_back(s);  // one destroyed meanwhile is simply gone
    }
    return true;
}

bool DeviceStream::open_device(std::string& error) {
    const int failure = device_.open();
    if (failure == 0) return true;
    error = std::string("cannot open /dev/vireo: ") + strerror(failure);
    return false;
}

bool DeviceStream::attach_console(uint32_t id, uint64_t position, std::string& error) {
    if (!open_device(error)) return false;
    vireo_console_attach attach{};
    attach.domain = id;
    attach.position = position;
    if (ioctl(device_.fd(), VIREO_IOCTL_CONSOLE_ATTACH, &attach) == 0) return true;
    error = errno == ENOENT ? "domain " + std::to_string(id) + " is gone"
                            : std::string("cannot attach to the console: ") + strerror(errno);
    return false;
}

bool DeviceStream::attach_events(std::string& error) {
    if (!open_device(error)) return false;
    if (ioctl(device_.fd(), VIREO_IOCTL_EVENTS_ATTACH) == 0) return true;
    error = std::string("cannot watch the domains' events: ") + strerror(errno);
    return false;
}

uint64_t DeviceStream::lost() const {
    __u64 lost = 0;
    if (ioctl(device_.fd(), VIREO_IOCTL_CONSOLE_LOST, &lost) != 0) return 0;
    return lost;
}

bool DeviceStream::wait_event(int timeout_ms) {
    pollfd p{device_.fd(), POLLIN, 0};
    for (;;) {
        const int ready = poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return false;
        vireo_events events;
        return read(device_.fd(), &events, sizeof(events)) == ssize_t(sizeof(events));
    }
}

}  // namespace xm
