#include "dom0/devmodel/balloon_backend.hpp"

#include <stdio.h>

#include <string>

#include "kernel/vm/hypercall_abi.hpp"

namespace devmodel {

void BalloonBackend::follow_target() {
    // From the shared page: a call here would cost a hypercall on every wake-up of the
    // device model, that is on every request of the domain's disk and NIC.
    const uint64_t target = channel_.memory_target();
    if (target == 0 || target == target_ || !device_) return;
    const bool first = target_ == 0;
    target_ = uint64_t(target);
    const uint64_t pages = target_ < ram_bytes_ ? (ram_bytes_ - target_) / 4096 : 0;
    if (first && pages == 0) return;  // as it was made: nothing to say
    char line[96];
    snprintf(line, sizeof(line), "memory target %llu MiB: the balloon is to hold %llu MiB",
             (unsigned long long)(target_ >> 20), (unsigned long long)(pages >> 8));
    log_(line);
    device_->set_target_pages(uint32_t(pages));
}

void BalloonBackend::call(uint32_t op, const std::vector<uint64_t>& pfns) {
    size_t done = 0;
    while (done < pfns.size()) {
        const size_t n = std::min<size_t>(pfns.size() - done, hypercall::kBalloonMaxPages);
        if (op == hypercall::kBalloonRelease)
            for (size_t i = 0; i < n; ++i) memory_.forget(pfns[done + i] * 4096);
        const int64_t result =
            channel_.call_with_buffer(hypercall::kDomainBalloon, 2, const_cast<uint64_t*>(pfns.data() + done),
                                      uint32_t(n * sizeof(uint64_t)), domain_, op, 0, n);
        const size_t ok = result > 0 ? size_t(result) : 0;
        for (size_t i = 0; i < ok; ++i) {
            const uint64_t pfn = pfns[done + i];
            if (pfn >= released_.size()) released_.resize(pfn + 1);
            released_[pfn] = op == hypercall::kBalloonRelease;
        }
        if (ok < n) {
            // A frame that is not the domU's RAM, or one in use: the driver's page stays
            // the domU's; said once.
            if (!reported_) {
                char line[128];
                snprintf(line, sizeof(line), "the balloon's page %#llx was refused (error %lld); it stays the domain's",
                         (unsigned long long)pfns[done + ok], (long long)(result < 0 ? result : 0));
                log_(line);
            }
            reported_ = true;
            done += ok + 1;
            continue;
        }
        done += n;
    }
}

void BalloonBackend::pages_inflated(const uint32_t* pfns, size_t count) {
    call(hypercall::kBalloonRelease, std::vector<uint64_t>(pfns, pfns + count));
}

void BalloonBackend::pages_deflated(const uint32_t* pfns, size_t count) {
    std::vector<uint64_t> back;
    for (size_t i = 0; i < count; ++i)
        if (pfns[i] < released_.size() && released_[pfns[i]]) back.push_back(pfns[i]);
    call(hypercall::kBalloonPopulate, back);
}

void BalloonBackend::balloon_reset() {
    std::vector<uint64_t> back;
    for (uint64_t pfn = 0; pfn < released_.size(); ++pfn)
        if (released_[pfn]) back.push_back(pfn);
    call(hypercall::kBalloonPopulate, back);
}

}  // namespace devmodel
