// The device model's end of the forwarding (kernel/ioreq/ioreq_server.hpp): a file of
// /dev/vireo attached to one domain, whose page of I/O requests is mapped here
// (hypercall::IoreqPage), and the calls that serve them: the ranges and doorbells to
// forward, each answer, and the domain's MSIs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dom0/common/control_device.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace devmodel {

class IoreqChannel {
public:
    IoreqChannel() = default;
    ~IoreqChannel();
    IoreqChannel(const IoreqChannel&) = delete;
    IoreqChannel& operator=(const IoreqChannel&) = delete;

    // Becomes `domain`'s device model; false with `error` in a user's words.
    bool attach(uint32_t domain, std::string& error);
    int fd() const { return device_.fd(); }

    // The hypervisor calls (0 or a result; a negative hypercall error).
    int64_t call(uint64_t number, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0);
    // The same with `length` bytes at `buffer` standing for argument `index` (the module
    // copies them through kernel memory).
    int64_t call_with_buffer(uint64_t number, int index, void* buffer, uint32_t length, uint64_t a0 = 0,
                             uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0);
    int64_t map(uint32_t kind, uint64_t base, uint64_t size, uint64_t stride = 0) {
        return call(hypercall::kIoreqMap, domain_, kind, base, size, stride);
    }
    // domain_get_status of `domain` (any domain; 0 or a negative hypercall error).
    int64_t status(uint32_t domain, hypercall::DomainStatus& out);
    int64_t inject_msi(uint64_t address, uint32_t data) { return call(hypercall::kInjectMsi, domain_, address, data); }

    // Waits until a request or a doorbell is there, or `timeout_ms` passed.
    void wait(int timeout_ms);
    // The doorbells rung since the last call (bit n: doorbell n).
    uint64_t take_doorbells();
    // The domain's memory target as the hypervisor last wrote it into the page.
    uint64_t memory_target() const { return __atomic_load_n(&page_->memory_target, __ATOMIC_ACQUIRE); }
    // Serves every request waiting in a slot: `serve` gets the slot and answers in its
    // `data` (reads); then the answer goes back and the vCPU runs on. How many it served.
    unsigned serve(const std::function<void(hypercall::IoreqSlot&)>& serve);

private:
    dom0::ControlDevice device_;  // closed after the page is unmapped: that detaches
    uint32_t domain_ = 0;
    hypercall::IoreqPage* page_ = nullptr;
};

}  // namespace devmodel
