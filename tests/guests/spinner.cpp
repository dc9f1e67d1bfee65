// A CPU-bound domain for the scheduler tests (label sched, tests/guests/sched_judge.cpp):
// every vCPU it has spins until the domain is destroyed, leaving the guest only when an
// interrupt or its CPU's scheduler takes it out.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

namespace {

constexpr uint32_t kMaxVcpus = 8;
alignas(16) uint8_t g_stacks[kMaxVcpus][1024];

[[noreturn]] void spin() {
    for (volatile uint32_t i = 0;; i = i + 1) {
    }
}

extern "C" [[noreturn]] void other_vcpu_main() { spin(); }

}  // namespace

int guest_main(uint32_t, uint32_t) {
    DomainInfo di{};
    call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di)));
    const uint32_t entry = uint32_t(reinterpret_cast<uintptr_t>(&other_vcpu_main));
    for (uint32_t i = 1; i < di.vcpu_count && i < kMaxVcpus; ++i)
        call_hypervisor(kVcpuStart, i, entry, uint32_t(reinterpret_cast<uintptr_t>(g_stacks[i] + sizeof(g_stacks[i]))));
    print("spinning on %u vCPU(s)\n", di.vcpu_count);
    spin();
}
