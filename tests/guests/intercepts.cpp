// What Vireo intercepts for the host's sake must still look like the CPU to a guest:
// #DB (intercepted on AMD-V against the #DB loop, CVE-2015-8104) from single-stepping
// and from a data breakpoint, with DR6 telling why; INVD and WBINVD (intercepted: INVD
// runs as WBINVD) that lose nothing written; MONITOR and MWAIT, hidden by CPUID, raise
// #UD; RDPMC and RDTSCP, which would read host state, raise #GP and #UD; a LOCK-prefixed
// hypercall instruction raises #UD and ends nothing. And the trap flag AMD-V's backend
// sets to get past an STI shadow (svm/svm_vcpu.hpp) never shows: not in the frame of an
// exception delivered meanwhile, not as a #DB after that handler returns.
#include "tests/guests/lib/guest.hpp"

namespace {

constexpr uint32_t kTf = 1u << 8;
constexpr uint32_t kDr6Bs = 1u << 14, kDr6B0 = 1u << 0;

volatile uint32_t g_debug_traps = 0;
volatile uint32_t g_dr6 = 0;
volatile uint32_t g_steps_wanted = 0;
volatile uint32_t g_watched = 0;
volatile uint32_t g_trap_eips[8];
volatile uint32_t g_trap_dr6[8];

bool debug_hook(uint32_t vector, uint32_t& eip, uint32_t& eflags) {
    if (vector != 1) return false;
    uint32_t dr6;
    asm volatile("mov %%dr6, %0" : "=r"(dr6));
    g_dr6 = g_dr6 | dr6;
    if (g_debug_traps < 8) {
        g_trap_eips[g_debug_traps] = eip;
        g_trap_dr6[g_debug_traps] = dr6;
    }
    asm volatile("mov %0, %%dr6" ::"r"(0xffff0ff0u));  // DR6 is sticky: the handler clears it
    g_debug_traps = g_debug_traps + 1;
    if (g_debug_traps >= g_steps_wanted) eflags &= ~kTf;
    return true;
}

// The #GP of an RDMSR in an STI shadow while the timer's interrupt waits: the handler
// runs an instruction Vireo completes (CPUID), notes the EFLAGS it will return to and
// steps over the RDMSR.
volatile uint32_t g_gp_eflags = 0, g_gp_count = 0;
bool shadow_gp_hook(uint32_t vector, uint32_t& eip, uint32_t& eflags) {
    if (vector == 1) return debug_hook(vector, eip, eflags);
    if (vector != 13) return false;
    (void)cpuid(0);
    g_gp_eflags = eflags;
    g_gp_count = g_gp_count + 1;
    eip += 2;
    return true;
}

uint32_t read_cr4_bits() {
    uint32_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

void run_monitor() {
    static volatile uint32_t line;
    asm volatile("monitor" ::"a"(&line), "c"(0), "d"(0) : "memory");
}
void run_mwait() { asm volatile("mwait" ::"a"(0), "c"(0) : "memory"); }
void run_rdpmc() { asm volatile("rdpmc" ::"c"(0) : "eax", "edx", "memory"); }
volatile uint32_t g_tsc_aux = 0xffffffff;
void run_rdtscp() {
    uint32_t aux;
    asm volatile("rdtscp" : "=c"(aux)::"eax", "edx", "memory");
    g_tsc_aux = aux;
}
void run_locked_vmmcall() { asm volatile(".byte 0xf0, 0x0f, 0x01, 0xd9" ::"a"(0) : "memory"); }
void run_locked_vmcall() { asm volatile(".byte 0xf0, 0x0f, 0x01, 0xc1" ::"a"(0) : "memory"); }

// Code Vireo's exit instruction cache must never skip wrongly (kernel/vm/
// exit_instruction_cache.hpp): "xor eax, eax; cpuid; ret", plain or with an operand-size
// prefix on the CPUID (3 bytes instead of 2; the prefix changes nothing of CPUID). A
// length remembered from one form and used for the other lands RIP inside the
// instruction (on A2, a MOV to memory) and the call never returns as it should.
constexpr uint8_t kPlainCpuid[] = {0x31, 0xc0, 0x0f, 0xa2, 0xc3};
constexpr uint8_t kPrefixedCpuid[] = {0x31, 0xc0, 0x66, 0x0f, 0xa2, 0xc3};
alignas(4096) uint8_t g_code[2][4096];
alignas(4096) uint32_t g_page_directory[1024];
alignas(4096) uint32_t g_page_table[1024];
constexpr uint32_t kRemapped = 0x40000000;  // a linear page mapped onto one code page or the other

void place(uint8_t* to, const uint8_t* code, uint32_t bytes) {
    for (uint32_t i = 0; i < bytes; ++i) to[i] = code[i];
}

// Calls the code at `at`; EBX of its CPUID (leaf 0: the vendor's first four letters).
uint32_t call_code(uint32_t at) {
    uint32_t ebx;
    asm volatile("call *%1" : "=b"(ebx) : "r"(at) : "eax", "ecx", "edx", "memory", "cc");
    return ebx;
}

// The same linear address through the page table, onto code page `which` (4 KiB PTE),
// then INVLPG, as a guest that remaps a page must (SDM vol. 3A 4.10.4.1).
void map_remapped(uint32_t which) {
    g_page_table[0] = uint32_t(reinterpret_cast<uintptr_t>(g_code[which])) | 0x3;  // P, R/W
    asm volatile("invlpg (%0)" ::"r"(kRemapped) : "memory");
}

}  // namespace

int guest_main(uint32_t magic, uint32_t) {
    CHECK(magic == 0x2badb002, "entered with the multiboot magic in EAX (%#x)", magic);
    g_exception_hook = debug_hook;

    // Single-stepping: POPF sets TF, and each instruction after it traps, five of them.
    g_debug_traps = 0;
    g_dr6 = 0;
    g_steps_wanted = 5;
    asm volatile(
        "pushfl\n orl %0, (%%esp)\n popfl\n"
        "nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n" ::"i"(kTf)
        : "memory", "cc");
    CHECK(g_debug_traps == 5, "single-stepping: %u #DB traps for 5 steps", g_debug_traps);
    CHECK(g_dr6 & kDr6Bs, "and DR6.BS tells it was a single step (DR6 %#x)", g_dr6);

    // Single-stepping over instructions Vireo completes for the guest (CPUID, a MOV it
    // does not see, RDMSR, IN, an MMIO read of the test device): each #DB comes right
    // after its instruction, at the next one's address, as on the CPU.
    uint32_t expected[6];
    g_debug_traps = 0;
    g_dr6 = 0;
    g_steps_wanted = 6;
    asm volatile(
        "movl $1f, 0(%[e])\n movl $2f, 4(%[e])\n movl $3f, 8(%[e])\n"
        "movl $4f, 12(%[e])\n movl $5f, 16(%[e])\n movl $6f, 20(%[e])\n"
        "xorl %%eax, %%eax\n xorl %%ecx, %%ecx\n"
        "pushfl\n orl %[tf], (%%esp)\n popfl\n"
        "cpuid\n"
        "1: movl $0x1a0, %%ecx\n"  // IA32_MISC_ENABLE
        "2: rdmsr\n"
        "3: inb $0x80, %%al\n"
        "4: movl 0xfe000808, %%eax\n"  // the test MMIO device's access counter
        "5: nop\n"
        "6: nop\n"
        :
        : [e] "r"(expected), [tf] "i"(kTf)
        : "eax", "ebx", "ecx", "edx", "memory", "cc");
    CHECK(g_debug_traps == 6, "single-stepping over emulated instructions: %u #DB traps for 6 steps", g_debug_traps);
    const char* const names[6] = {"CPUID", "MOV", "RDMSR", "IN", "an MMIO read", "NOP"};
    for (int i = 0; i < 6; ++i) {
        CHECK(g_trap_eips[i] == expected[i], "the #DB after %s comes right after it (eip %#x, expected %#x)", names[i],
              g_trap_eips[i], expected[i]);
        // Each one says it was a single step: a #DB without DR6.BS is no step to Linux.
        CHECK(g_trap_dr6[i] & kDr6Bs, "and the one after %s has DR6.BS (DR6 %#x)", names[i], g_trap_dr6[i]);
    }

    // A data breakpoint: DR0 on g_watched, writes of 4 bytes (DR7 L0, R/W0 = 01, LEN0 = 11).
    g_debug_traps = 0;
    g_dr6 = 0;
    g_steps_wanted = 1000;
    asm volatile("mov %0, %%dr0" ::"r"(&g_watched));
    asm volatile("mov %0, %%dr7" ::"r"(1u | (1u << 16) | (3u << 18)));
    g_watched = 42;
    const uint32_t after_write = g_debug_traps;
    (void)g_watched;  // a read does not trigger a write breakpoint
    asm volatile("mov %0, %%dr7" ::"r"(0u));
    CHECK(after_write == 1 && g_debug_traps == 1, "a data breakpoint: one #DB for the write (%u)", g_debug_traps);
    CHECK(g_dr6 & kDr6B0, "and DR6.B0 tells which breakpoint (DR6 %#x)", g_dr6);

    // An interrupt waits (IF clear) when STI's shadow covers a faulting RDMSR: the #GP
    // comes first, and its frame holds the guest's own EFLAGS (IF set, TF clear); after
    // its IRET the interrupt arrives and no #DB does. AMD-V under QEMU's TCG has Vireo
    // single-step the shadow's instruction; a #GP handler's intercepted instruction once
    // ended that step while the frame still held its TF, a #DB after the IRET.
    g_debug_traps = 0;
    g_dr6 = 0;
    g_steps_wanted = 0;
    g_exception_hook = shadow_gp_hook;
    uint32_t shadow_rounds = 0, tf_seen = 0, if_missing = 0, interrupts_lost = 0;
    for (uint32_t round = 0; round < 20; ++round) {
        disable_interrupts();
        const uint32_t before = interrupt_count[0];
        const uint32_t gp_before = g_gp_count;
        call_hypervisor(hypercall::kSetTimer, 1, 64);
        // Exits while the timer runs out: its interrupt is then requested, held by IF.
        for (int i = 0; i < 2000; ++i) (void)cpuid(0);
        asm volatile("sti\n rdmsr\n nop\n nop\n cli" ::"c"(0xdeadbeefu) : "eax", "edx", "memory", "cc");
        if (g_gp_count != gp_before + 1) continue;
        ++shadow_rounds;
        if (g_gp_eflags & kTf) ++tf_seen;
        if (!(g_gp_eflags & (1u << 9))) ++if_missing;
        for (int i = 0; i < 100 && interrupt_count[0] == before; ++i) {
            enable_interrupts();
            (void)cpuid(0);
            disable_interrupts();
        }
        if (interrupt_count[0] == before) ++interrupts_lost;
    }
    g_exception_hook = nullptr;
    CHECK(shadow_rounds == 20, "an RDMSR of no MSR in STI's shadow raised #GP in %u of 20 rounds", shadow_rounds);
    CHECK(tf_seen == 0 && if_missing == 0, "its frame held the guest's EFLAGS: TF set in %u, IF clear in %u", tf_seen,
          if_missing);
    CHECK(g_debug_traps == 0, "no #DB the guest did not ask for (%u, DR6 %#x)", g_debug_traps, g_dr6);
    CHECK(interrupts_lost == 0, "and the waiting interrupt arrived each time (%u lost)", interrupts_lost);

    // CPUID whose bytes change under it at the same address (an exit there was seen
    // before): each form runs as itself.
    const uint32_t vendor = cpuid(0).ebx;
    const uint32_t code = uint32_t(reinterpret_cast<uintptr_t>(g_code[0]));
    uint32_t right = 0;
    for (uint32_t round = 0; round < 6; ++round) {
        if (round == 0) place(g_code[0], kPlainCpuid, sizeof(kPlainCpuid));
        if (round == 3) place(g_code[0], kPrefixedCpuid, sizeof(kPrefixedCpuid));
        right += call_code(code) == vendor;
    }
    CHECK(right == 6, "CPUID rewritten in place, plain and prefixed in turn: %u of 6 calls right", right);

    // The same linear address remapped onto another page holding the other form: the
    // translation changed, not the bytes of the page seen before.
    place(g_code[0], kPlainCpuid, sizeof(kPlainCpuid));
    place(g_code[1], kPrefixedCpuid, sizeof(kPrefixedCpuid));
    for (uint32_t i = 0; i < 4; ++i) g_page_directory[i] = (i << 22) | 0x83;  // 4 MiB, identity: P, R/W, PS
    g_page_directory[kRemapped >> 22] = uint32_t(reinterpret_cast<uintptr_t>(g_page_table)) | 0x3;
    map_remapped(0);
    const uint32_t cr4 = read_cr4_bits();
    asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1u << 4)) : "memory");  // PSE
    asm volatile("mov %0, %%cr3" ::"r"(g_page_directory) : "memory");
    asm volatile("mov %%cr0, %%eax\n orl $0x80000000, %%eax\n mov %%eax, %%cr0" ::: "eax", "memory");
    right = 0;
    for (uint32_t round = 0; round < 9; ++round) {
        if (round % 3 == 0) map_remapped(round / 3 % 2);
        right += call_code(kRemapped) == vendor;
    }
    asm volatile("mov %%cr0, %%eax\n andl $0x7fffffff, %%eax\n mov %%eax, %%cr0" ::: "eax", "memory");
    asm volatile("mov %0, %%cr4" ::"r"(cr4) : "memory");
    CHECK(right == 9, "CPUID at an address remapped between a plain and a prefixed form: %u of 9 calls right", right);

    // Cache flushes: nothing written before them is lost.
    volatile uint32_t value = 0x5eed1234;
    asm volatile("invd" ::: "memory");
    CHECK(value == 0x5eed1234, "INVD loses nothing written before it (%#x)", value);
    value = 0x600dcafe;
    asm volatile("wbinvd" ::: "memory");
    CHECK(value == 0x600dcafe, "WBINVD runs (%#x)", value);

    // MONITOR/MWAIT: hidden (CPUID.1:ECX bit 3), so #UD, as on a CPU without them.
    CHECK(!(cpuid(1).ecx & (1u << 3)), "CPUID hides MONITOR/MWAIT");
    int vector = try_instruction(run_monitor, 3);
    CHECK(vector == 6, "MONITOR raises #UD (vector %d)", vector);
    vector = try_instruction(run_mwait, 3);
    CHECK(vector == 6, "MWAIT raises #UD (vector %d)", vector);

    // RDPMC and RDTSCP would read the host's performance counters and TSC_AUX (its CPU
    // number): a guest has no counters (#GP for every ECX) and no RDTSCP (#UD).
    vector = try_instruction(run_rdpmc, 2);
    CHECK(vector == 13, "RDPMC of counter 0 raises #GP (vector %d)", vector);
    CHECK(!(cpuid(0x80000001).edx & (1u << 27)), "CPUID hides RDTSCP");
    // Intercepted on both (#UD), but QEMU's TCG reports RDTSCP as RDTSC, which Vireo lets
    // run: there it must at least read nothing of the host's (TSC_AUX 0).
    vector = try_instruction(run_rdtscp, 3);
    CHECK(vector == 6 || (!g_intel && vector < 0 && g_tsc_aux == 0),
          "RDTSCP raises #UD, or under QEMU's TCG reads TSC_AUX 0 (vector %d, TSC_AUX %#x)", vector, g_tsc_aux);

    // LOCK on the hypercall instruction: #UD (SDM vol. 2A 2.1.1), the domain goes on.
    vector = try_instruction(g_intel ? run_locked_vmcall : run_locked_vmmcall, 4);
    CHECK(vector == 6, "a LOCK-prefixed %s raises #UD (vector %d)", g_intel ? "VMCALL" : "VMMCALL", vector);
    CHECK(call_hypervisor(0) > 0, "and the hypercall without LOCK still works");
    return finish("intercepts");
}
