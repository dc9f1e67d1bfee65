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

bool avx_available() { return (cpuid(1).ecx & (1u << 28)) && (cpuid(1).ecx & (1u << 26)) && (cpuid(0xd, 0).eax & 4); }
// With AVX: XCR0 = x87|SSE|AVX and `value` in YMM3's upper half / read back.
void set_ymm3_upper(uint32_t value) {
    enable_osxsave();
    try_xsetbv(0, 7);
    asm volatile("movd %0, %%xmm1; pshufd $0, %%xmm1, %%xmm1; vinsertf128 $1, %%xmm1, %%ymm3, %%ymm3" ::"r"(value));
}
uint32_t get_ymm3_upper() {
    uint32_t v;
    asm volatile("vextractf128 $1, %%ymm3, %%xmm2; movd %%xmm2, %0" : "=r"(v));
    return v;
}
volatile uint32_t g_second_ymm_kept = 0;

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
    const bool avx = avx_available();
    if (avx) set_ymm3_upper(0x44444444);
    set_xmm0(0x22222222);
    for (uint32_t round = 0; round < kRounds; ++round) {
        while (g_token % 2 == 0) {
        }
        if (round + 1 == kRounds) {
            g_second_xmm_kept = get_xmm0() == 0x22222222 ? 1 : 2;
            g_second_ymm_kept = !avx || get_ymm3_upper() == 0x44444444 ? 1 : 2;
        }
        g_token = g_token + 1;
    }
    for (;;) asm volatile("cli; hlt");
}

int guest_main(uint32_t, uint32_t) {
    enable_sse();
    const bool avx = avx_available();
    if (avx) set_ymm3_upper(0x33333333);
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
    if (avx) {
        CHECK(get_ymm3_upper() == 0x33333333, "vCPU 0 kept its YMM3 upper half (%#x)", get_ymm3_upper());
        CHECK(g_second_ymm_kept == 1, "vCPU 1 kept its YMM3 upper half");
    } else {
        print("(no AVX on this CPU: the YMM checks are skipped)\n");
    }
    return finish("smp");
}
