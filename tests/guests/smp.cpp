// Two vCPUs of one domain: the second is started by the vcpu_start hypercall, and the
// two hand a token back and forth, which only works when the scheduler preempts a
// spinning vCPU (both may share one physical CPU).
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

extern "C" char second_stack_top[];
volatile uint32_t g_token = 0;
volatile uint32_t g_second_vcpu_index = 99;
constexpr uint32_t kRounds = 20;

extern "C" [[noreturn]] void second_vcpu_main() {
    DomainInfo di;
    call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di)));
    g_second_vcpu_index = di.vcpu_index;
    for (uint32_t round = 0; round < kRounds; ++round) {
        while (g_token % 2 == 0) {
        }
        g_token = g_token + 1;
    }
    for (;;) asm volatile("cli; hlt");
}

int guest_main(uint32_t, uint32_t) {
    const uint32_t entry = uint32_t(reinterpret_cast<uintptr_t>(&second_vcpu_main));
    CHECK(call_hypervisor(kVcpuStart, 1, entry, uint32_t(reinterpret_cast<uintptr_t>(second_stack_top))) == 0,
          "vCPU 1 started");
    CHECK(call_hypervisor(kVcpuStart, 1, entry, uint32_t(reinterpret_cast<uintptr_t>(second_stack_top))) == kErrorBusy,
          "vCPU 1 cannot be started twice");
    for (uint32_t round = 0; round < kRounds; ++round) {
        while (g_token % 2 == 1) {
        }
        g_token = g_token + 1;
    }
    while (g_token != 2 * kRounds) {
    }
    CHECK(g_token == 2 * kRounds, "the token went round %u times", g_token / 2);
    CHECK(g_second_vcpu_index == 1, "the second vCPU is vCPU %u", g_second_vcpu_index);
    return finish("smp");
}
