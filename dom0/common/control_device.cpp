#include "dom0/common/control_device.hpp"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dom0/include/vireo_control.h"
#include "kernel/vm/hypercall_abi.hpp"

namespace dom0 {

ControlDevice::~ControlDevice() {
    if (fd_ >= 0) close(fd_);
}

int ControlDevice::open() {
    fd_ = ::open("/dev/vireo", O_RDWR | O_CLOEXEC);
    return fd_ >= 0 ? 0 : errno;
}

int64_t ControlDevice::hypercall(const Call& call, int* ioctl_error) {
    vireo_hypercall request{};
    request.number = call.number;
    for (int i = 0; i < 5; ++i) request.arguments[i] = call.arguments[i];
    request.buffer_argument = call.buffer_argument;
    request.buffer_length = call.buffer_length;
    request.buffer = uint64_t(reinterpret_cast<uintptr_t>(call.buffer));
    const bool failed = ioctl(fd_, VIREO_IOCTL_HYPERCALL, &request) != 0;
    if (ioctl_error) *ioctl_error = failed ? errno : 0;
    return failed ? hypercall::kErrorFault : request.result;
}

std::string ControlDevice::error_text(int error) { return std::string("/dev/vireo: ") + strerror(error); }

}  // namespace dom0
