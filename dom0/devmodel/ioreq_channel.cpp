#include "dom0/devmodel/ioreq_channel.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dom0/include/vireo_control.h"

namespace devmodel {

IoreqChannel::~IoreqChannel() {
    if (page_) munmap(page_, 4096);
    if (fd_ >= 0) close(fd_);  // detaches: the domain's waiting vCPUs get all ones
}

bool IoreqChannel::attach(uint32_t domain, std::string& error) {
    fd_ = open("/dev/vireo", O_RDWR | O_CLOEXEC);
    if (fd_ < 0) {
        error = std::string("/dev/vireo: ") + strerror(errno);
        return false;
    }
    if (ioctl(fd_, VIREO_IOCTL_IOREQ_ATTACH, (unsigned long)domain) != 0) {
        error = errno == EEXIST  ? "the domain has a device model already"
                : errno == ESRCH ? "no such domain"
                : errno == EBUSY ? "the domain is ending"
                                 : std::string("attaching to the domain failed: ") + strerror(errno);
        return false;
    }
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (page == MAP_FAILED) {
        error = std::string("mapping the request page failed: ") + strerror(errno);
        return false;
    }
    page_ = static_cast<hypercall::IoreqPage*>(page);
    domain_ = domain;
    return true;
}

int64_t IoreqChannel::call(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
    vireo_hypercall c{};
    c.number = number;
    c.arguments[0] = a0;
    c.arguments[1] = a1;
    c.arguments[2] = a2;
    c.arguments[3] = a3;
    c.arguments[4] = a4;
    c.buffer_argument = -1;
    if (ioctl(fd_, VIREO_IOCTL_HYPERCALL, &c) != 0) return hypercall::kErrorFault;
    return c.result;
}

int64_t IoreqChannel::call_with_buffer(uint64_t number, int index, void* buffer, uint32_t length, uint64_t a0,
                                       uint64_t a1, uint64_t a2, uint64_t a3) {
    vireo_hypercall c{};
    c.number = number;
    c.arguments[0] = a0;
    c.arguments[1] = a1;
    c.arguments[2] = a2;
    c.arguments[3] = a3;
    c.buffer_argument = index;
    c.buffer_length = length;
    c.buffer = reinterpret_cast<uint64_t>(buffer);
    if (ioctl(fd_, VIREO_IOCTL_HYPERCALL, &c) != 0) return hypercall::kErrorFault;
    return c.result;
}

int64_t IoreqChannel::status(uint32_t domain, hypercall::DomainStatus& out) {
    vireo_hypercall c{};
    c.number = hypercall::kDomainGetStatus;
    c.arguments[0] = domain;
    c.buffer_argument = 1;
    c.buffer_length = sizeof(out);
    c.buffer = reinterpret_cast<uint64_t>(&out);
    if (ioctl(fd_, VIREO_IOCTL_HYPERCALL, &c) != 0) return hypercall::kErrorFault;
    return c.result;
}

void IoreqChannel::wait(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
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
