// /dev/vireo as Domain-0's programs use it (xm's ControlClient and DeviceStream, vireo-dm's
// IoreqChannel): the file opened by this process and closed with it, and the one ioctl
// every hypercall goes through (VIREO_IOCTL_HYPERCALL, dom0/include/vireo_control.h:
// the module makes the call, copying at most one buffer through kernel memory so the
// hypervisor never walks a process's page tables). What a failure means to a user is
// the caller's to say; errno values come back as they are.
#pragma once

#include <stdint.h>

#include <string>

namespace dom0 {

class ControlDevice {
public:
    ControlDevice() = default;
    ~ControlDevice();
    ControlDevice(const ControlDevice&) = delete;
    ControlDevice& operator=(const ControlDevice&) = delete;

    // Opens /dev/vireo read-write and close-on-exec (device models and monitors start
    // other programs, which must not inherit it): 0, or the errno of the failure.
    int open();
    bool is_open() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    // One hypercall: `number` with up to five arguments, and `buffer_length` bytes at
    // `buffer` standing for argument `buffer_argument` (-1: none).
    struct Call {
        uint64_t number = 0;
        uint64_t arguments[5] = {};
        int32_t buffer_argument = -1;
        void* buffer = nullptr;
        uint32_t buffer_length = 0;
    };
    // The call's result (>= 0, or the hypervisor's negative error); hypercall::kErrorFault
    // when the ioctl itself failed, and then `ioctl_error` (when given) holds its errno,
    // otherwise 0.
    int64_t hypercall(const Call& call, int* ioctl_error = nullptr);

    // "/dev/vireo: " and strerror(error): how an open or ioctl failure reads in a log.
    static std::string error_text(int error);

private:
    int fd_ = -1;
};

}  // namespace dom0
