#include "dom0/devmodel/ioreq_channel.hpp"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "dom0/include/vireo_control.h"

namespace devmodel {

IoreqChannel::~IoreqChannel() {
    if (page_) munmap(page_, 4096);
    // device_ closes /dev/vireo next, which detaches: the domain's waiting vCPUs get all ones.
}

bool IoreqChannel::attach(uint32_t domain, std::string& error) {
    if (const int failure = device_.open()) {
        error = dom0::ControlDevice::error_text(failure);
        return false;
    }
    if (ioctl(device_.fd(), VIREO_IOCTL_IOREQ_ATTACH, (unsigned long)domain) != 0) {
        error = errno == EEXIST  ? "the domain has a device model already"
                : errno == ESRCH ? "no such domain"
                : errno == EBUSY ? "the domain is ending"
                                 : std::string("attaching to the domain failed: ") + strerror(errno);
        return false;
    }
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, device_.fd(), 0);
    if (page == MAP_FAILED) {
        error = std::string("mapping the request page failed: ") + strerror(errno);
        return false;
    }
    page_ = static_cast<hypercall::IoreqPage*>(page);
    domain_ = domain;
    return true;
}

int64_t IoreqChannel::call(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
    return device_.hypercall({number, {a0, a1, a2, a3, a4}});
}

int64_t IoreqChannel::call_with_buffer(uint64_t number, int index, void* buffer, uint32_t length, uint64_t a0,
                                       uint64_t a1, uint64_t a2, uint64_t a3) {
    return device_.hypercall({number, {a0, a1, a2, a3, 0}, index, buffer, length});
}

int64_t IoreqChannel::status(uint32_t domain, hypercall::DomainStatus& out) {
    return call_with_buffer(hypercall::kDomainGetStatus, 1, &out, sizeof(out), domain);
}

void IoreqChannel::wait(int timeout_ms) {
    pollfd p{device_.fd(), POLLIN, 0};
    poll(&p, 1, timeout_ms);
}

uint64_t IoreqChannel::take_doorbells() { return __atomic_exchange_n(&page_->doorbells, 0, __ATOMIC_ACQ_REL); }

unsigned IoreqChannel::serve(const std::function<void(hypercall::IoreqSlot&)>& serve) {
    unsigned served = 0;
    const uint32_t vcpus = page_->vcpus < hypercall::kIoreqSlots ? page_->vcpus : hypercall::kIoreqSlots;
    for (uint32_t i = 0; i < vcpus; ++i) {
        hypercall::IoreqSlot& slot = page_->slots[i];
        if (__atomic_load_n(&slot.state, __ATOMIC_ACQUIRE) != hypercall::kIoreqReady) continue;
        serve(slot);
        __atomic_store_n(&slot.state, uint32_t(hypercall::kIoreqAnswered), __ATOMIC_RELEASE);
        call(hypercall::kIoreqComplete, domain_, i);
        ++served;
    }
    return served;
}

}  // namespace devmodel
