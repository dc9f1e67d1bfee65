// vCPUs move between physical CPUs, and their state goes with them. Four vCPUs on two
// CPUs: placement is round-robin, so vCPUs 0 and 2 share one CPU and 1 and 3 the other.
// 1 and 3 sleep (virtual timer, HLT) while 0 and 2 spin, so one CPU idles while the
// other has two runnable vCPUs, and the scheduler must move one of them over. Every vCPU
// keeps its own values in XMM0-XMM6 and a count in XMM7 that it steps and checks against
// memory all along: a move that restored a stale FPU state, or lost it, shows. Likewise
// each keeps its own values in DR0-DR3, DR6 (B0-B3) and DR7 (breakpoints disabled) and
// reads them back all along: vCPUs 0 and 2 (and 1 and 3) share a CPU, so a CPU that did
// not switch them between its vCPUs, or a move that lost them, shows. vcpu_get_info (a
// control call, so this domain runs with role=control) tells how many moves there were.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

extern "C" void runtime_init();

namespace {

constexpr uint32_t kVcpus = 4;
constexpr uint64_t kMaxPolls = 100000000;  // only a scheduler that never balances gets near this

alignas(16) uint8_t g_stacks[kVcpus][8192];
volatile uint32_t g_phase = 0;
volatile uint32_t g_reported[kVcpus];
volatile uint32_t g_xmm_ok[kVcpus];
volatile uint32_t g_checks[kVcpus];
volatile uint32_t g_dr_ok[kVcpus];
volatile uint32_t g_dr_bad[kVcpus];  // the first debug register found wrong, + 1

uint32_t pattern(uint32_t vcpu, uint32_t reg) { return 0x10000000u * (vcpu + 1) + 0x01010101u * reg; }

void set_xmm(uint32_t vcpu) {
#define SET_XMM(n) asm volatile("movd %0, %%xmm" #n "; pshufd $0, %%xmm" #n ", %%xmm" #n ::"r"(pattern(vcpu, n)))
    SET_XMM(0);
    SET_XMM(1);
    SET_XMM(2);
    SET_XMM(3);
    SET_XMM(4);
    SET_XMM(5);
    SET_XMM(6);
#undef SET_XMM
    asm volatile("pxor %%xmm7, %%xmm7" ::: "memory");
    g_checks[vcpu] = 0;
}

// Every lane of XMM0-6 still holds the vCPU's pattern and XMM7 the count of checks so
// far; then the count steps, in XMM7 and in memory.
bool xmm_intact(uint32_t vcpu) {
    bool ok = true;
    uint32_t count;
    asm volatile("movd %%xmm7, %0" : "=r"(count));
    ok = count == g_checks[vcpu];
    g_checks[vcpu] = g_checks[vcpu] + 1;
    asm volatile("movd %0, %%xmm7; pshufd $0, %%xmm7, %%xmm7" ::"r"(count + 1));
#define CHECK_XMM(n)                                                                                \
    do {                                                                                            \
        for (int lane = 0; lane < 4; ++lane) {                                                      \
            uint32_t v;                                                                             \
            asm volatile("pshufd $0x39, %%xmm" #n ", %%xmm" #n "; movd %%xmm" #n ", %0" : "=r"(v)); \
            ok = ok && v == pattern(vcpu, n);                                                       \
        }                                                                                           \
    } while (0)
    CHECK_XMM(0);
    CHECK_XMM(1);
    CHECK_XMM(2);
    CHECK_XMM(3);
    CHECK_XMM(4);
    CHECK_XMM(5);
    CHECK_XMM(6);
#undef CHECK_XMM
    return ok;
}

uint32_t dr_pattern(uint32_t vcpu, uint32_t reg) { return ((vcpu + 1) << 24) | ((reg + 1) << 12) | 0xab0u; }
uint32_t dr6_pattern(uint32_t vcpu) { return 0xffff0ff0u | (vcpu + 1); }  // B0-B3: 1, 2, 3, 4
// R/W and LEN of one breakpoint per vCPU, none enabled (SDM vol. 3A 18.2.4).
uint32_t dr7_pattern(uint32_t vcpu) { return 0x400u | (0xdu << (16 + 4 * vcpu)); }

void set_debug_registers(uint32_t vcpu) {
    asm volatile("mov %0, %%dr0" ::"r"(dr_pattern(vcpu, 0)));
    asm volatile("mov %0, %%dr1" ::"r"(dr_pattern(vcpu, 1)));
    asm volatile("mov %0, %%dr2" ::"r"(dr_pattern(vcpu, 2)));
    asm volatile("mov %0, %%dr3" ::"r"(dr_pattern(vcpu, 3)));
    asm volatile("mov %0, %%dr6" ::"r"(dr6_pattern(vcpu)));
    asm volatile("mov %0, %%dr7" ::"r"(dr7_pattern(vcpu)));
}

// DR0-DR3, DR6's B0-B3 and DR7 as the vCPU set them; the first wrong one is noted.
bool debug_registers_intact(uint32_t vcpu) {
    uint32_t dr[6];
    asm volatile("mov %%dr0, %0" : "=r"(dr[0]));
    asm volatile("mov %%dr1, %0" : "=r"(dr[1]));
    asm volatile("mov %%dr2, %0" : "=r"(dr[2]));
    asm volatile("mov %%dr3, %0" : "=r"(dr[3]));
    asm volatile("mov %%dr6, %0" : "=r"(dr[4]));
    asm volatile("mov %%dr7, %0" : "=r"(dr[5]));
    const uint32_t want[6] = {dr_pattern(vcpu, 0), dr_pattern(vcpu, 1),     dr_pattern(vcpu, 2),
                              dr_pattern(vcpu, 3), dr6_pattern(vcpu) & 0xf, dr7_pattern(vcpu)};
    dr[4] &= 0xf;
    for (uint32_t i = 0; i < 6; ++i) {
        if (dr[i] == want[i]) continue;
        if (!g_dr_bad[vcpu]) {
            g_dr_bad[vcpu] = i + 1;
            print("vCPU %u: DR%u reads %x, not %x\n", vcpu, i < 4 ? i : i + 2, dr[i], want[i]);
        }
        return false;
    }
    return true;
}

void sleep_a_little() {
    call_hypervisor(kSetTimer, 1000, 64);
    asm volatile("sti; hlt; cli" ::: "memory");
}

uint64_t total_migrations() {
    uint64_t total = 0;
    DomainInfo di;
    call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di)));
    for (uint32_t i = 0; i < kVcpus; ++i) {
        VcpuInfo info{};
        if (call_hypervisor(kVcpuGetInfo, di.domain_id, i, uint32_t(reinterpret_cast<uintptr_t>(&info))) == 0)
            total += info.migrations;
    }
    return total;
}

extern "C" [[noreturn]] void other_vcpu_main() {
    runtime_init();  // this vCPU's GDT and IDT (the sleepers take timer interrupts)
    DomainInfo di;
    call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di)));
    const uint32_t me = di.vcpu_index;
    enable_sse();
    set_xmm(me);
    set_debug_registers(me);
    bool ok = true, dr_ok = true;
    while (g_phase == 0) {
        if (me % 2 == 1) sleep_a_little();
        ok = xmm_intact(me) && ok;
        dr_ok = debug_registers_intact(me) && dr_ok;
    }
    g_xmm_ok[me] = xmm_intact(me) && ok ? 1 : 2;
    g_dr_ok[me] = debug_registers_intact(me) && dr_ok ? 1 : 2;
    g_reported[me] = 1;
    for (;;) asm volatile("cli; hlt");
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    enable_sse();
    set_xmm(0);
    set_debug_registers(0);
    const uint32_t entry = uint32_t(reinterpret_cast<uintptr_t>(&other_vcpu_main));
    for (uint32_t i = 1; i < kVcpus; ++i)
        CHECK(call_hypervisor(kVcpuStart, i, entry, uint32_t(reinterpret_cast<uintptr_t>(g_stacks[i] + 8192))) == 0,
              "vCPU %u started", i);
    bool ok = true, dr_ok = true;
    uint64_t moves = 0;
    for (uint64_t i = 0; i < kMaxPolls && moves == 0; ++i) {
        ok = xmm_intact(0) && ok;
        dr_ok = debug_registers_intact(0) && dr_ok;
        if (i % 64 == 0) moves = total_migrations();
    }
    // A little more running on the new placement, then everyone reports.
    for (int i = 0; i < 100000; ++i) {
        ok = xmm_intact(0) && ok;
        dr_ok = debug_registers_intact(0) && dr_ok;
    }
    moves = total_migrations();
    g_phase = 1;
    for (uint32_t i = 1; i < kVcpus; ++i)
        while (!g_reported[i]) {
        }
    CHECK(moves >= 1, "the scheduler moved vCPUs between CPUs (%u moves)", uint32_t(moves));
    CHECK(xmm_intact(0) && ok, "vCPU 0 kept XMM0-7 throughout (%u checks)", g_checks[0]);
    for (uint32_t i = 1; i < kVcpus; ++i)
        CHECK(g_xmm_ok[i] == 1, "vCPU %u kept XMM0-7 throughout (%u checks)", i, g_checks[i]);
    CHECK(debug_registers_intact(0) && dr_ok, "vCPU 0 kept DR0-3, DR6 and DR7 throughout");
    for (uint32_t i = 1; i < kVcpus; ++i)
        CHECK(g_dr_ok[i] == 1, "vCPU %u kept DR0-3, DR6 and DR7 throughout, next to another on its CPU", i);
    return finish("migration");
}
