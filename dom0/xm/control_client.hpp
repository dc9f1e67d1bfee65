// xm's side of /dev/vireo (dom0/module): one hypercall per ioctl, with at most one buffer.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/common/control_device.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

class ControlClient {
public:
    // Opens /dev/vireo; on failure, error() says why in a user's words.
    ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    bool ok() const { return device_.is_open(); }
    const std::string& error() const { return error_; }
    // /dev/vireo itself, for mmap (ForeignGuestMemory).
    int device_fd() const { return device_.fd(); }

    // The call's result (>= 0) or its negative error; a failed ioctl sets error() and
    // returns kErrorFault.
    int64_t call(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0);
    // The same with `length` bytes at `buffer` standing for argument `index`.
    int64_t call_with_buffer(uint64_t number, int index, void* buffer, uint32_t length, uint64_t a0 = 0,
                             uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0);

    // Every domain's status, in id order; false (with error()) when the hypervisor says no.
    bool domains(std::vector<hypercall::DomainStatus>& out);
    bool status(uint32_t id, hypercall::DomainStatus& out, int64_t& result);

private:
    dom0::ControlDevice device_;
    std::string error_;
};

// A stream of /dev/vireo (dom0/include/vireo_control.h) on a file of its own: a domain's
// console (read its output, write its input) or the domains' state events (each read
// returns once some domain's state changed).
class DeviceStream {
public:
    DeviceStream() = default;
    DeviceStream(const DeviceStream&) = delete;
    DeviceStream& operator=(const DeviceStream&) = delete;

    // From `position` (0: all the hypervisor keeps; kFromEnd: what comes next).
    static constexpr uint64_t kFromEnd = ~0ull;
    bool attach_console(uint32_t id, uint64_t position, std::string& error);
    bool attach_events(std::string& error);
    int fd() const { return device_.fd(); }
    // Console bytes the hypervisor overwrote before this stream read them.
    uint64_t lost() const;
    // Waits until a domain's state changed after the last call (the first returns at
    // once), or `timeout_ms` passed (-1: no limit): false on timeout or error.
    bool wait_event(int timeout_ms);

private:
    bool open_device(std::string& error);
    dom0::ControlDevice device_;
};

}  // namespace xm
