// Two vCPUs of one domain: the second is started by the vcpu_start hypercall, and the
// two hand a token back and forth, which only works when the scheduler preempts a
// spinning vCPU (both may share one physical CPU). Each keeps its own value in XMM0
// throughout: when they share a CPU, the hypervisor must switch their SSE state.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

extern "C" char second_stack_top[];
volatile uint32_t g_token = 0;
volatile uint32_t g_second_vcpu_index = 99;
volatile uint32_t g_second_xmm_kept = 0;

// Puts `value` in all four lanes of XMM0 / reads lane 0 back.
inline void set_xmm0(uint32_t value) { asm volatile("movd %0, %%xmm0; pshufd $0, %%xmm0, %%xmm0" ::"r"(value)); }
inline uint32_t get_xmm0() {
    uint32_t v;
    asm volatile("movd %%xmm0, %0" : "=r"(v));
    return v;
}
constexpr uint32_t kRounds = 20;

extern "C" [[noreturn]] void second_vcpu_main() {
    DomainInfo di;
    call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di)));
    g_second_vcpu_index = di.vcpu_index;
    enable_sse();
    set_xmm0(0x22222222);
    for (uint32_t round = 0; round < kRounds; ++round) {
        while (g_token % 2 == 0) {
        }
        if (round + 1 == kRounds) g_second_xmm_kept = get_xmm0() == 0x22222222 ? 1 : 2;
        g_token = g_token + 1;
    }
    for (;;) asm volatile("cli; hlt");
}

int guest_main(uint32_t, uint32_t) {
    enable_sse();
    set_xmm0(0x11111111);
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
    CHECK(get_xmm0() == 0x11111111, "vCPU 0 kept its XMM0 (%#x)", get_xmm0());
    CHECK(g_second_xmm_kept == 1, "vCPU 1 kept its XMM0");
    return finish("smp");
}
