// xm's side of /dev/vireo (dom0/module): one hypercall per ioctl, with at most one buffer.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

class ControlClient {
public:
    // Opens /dev/vireo; on failure, error() says why in a user's words.
    ControlClient();
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    bool ok() const { return fd_ >= 0; }
    const std::string& error() const { return error_; }

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
    int fd_ = -1;
    std::string error_;
};

}  // namespace xm
