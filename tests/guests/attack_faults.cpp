// Every fault class (attack=faults), each provoked on purpose and seen with the vector
// (and error code) the SDM gives it (vol. 3A 6.15): #DE, #DB, #BP, #OF, #BR, #UD, #NM,
// #DF, #NP, #SS, #GP, #MF, #AC, #XM; #PF is attack=paging's. Then CPL 3 (vol. 3A 5.5,
// through a TSS): #AC with CR0.AM and EFLAGS.AC, #GP for IN, HLT, RDMSR and CLI, #TS
// for a stack switch to a bad SS in the TSS, and a hypercall from CPL 3, which gets -1
// (docs/hypercalls.md).
#include "tests/guests/attack.hpp"

namespace {

constexpr uint32_t kEflagsAc = 1u << 18;

// CPL 3: run_user() IRETs to `g_user_entry` with its own stack; the user code ends with
// g_user_done = 1 and a UD2. An exception from CPL 3 lands on the TSS's stack, where the
// hook notes it and jumps back to run_user's caller (a longjmp out of the handler).
extern "C" {
volatile uint32_t g_user_saved_esp, g_user_entry, g_user_eflags, g_user_active, g_user_done;
volatile int g_user_vector;
volatile uint32_t g_user_error;
volatile int32_t g_user_result;
uint8_t g_user_stack[4096] __attribute__((aligned(16)));
uint32_t g_unaligned[2];
void user_return();
}

asm(R"(
    .text
    .globl run_user_asm
run_user_asm:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, g_user_saved_esp
    pushl $0x2b
    pushl $g_user_stack + 4096
    pushl g_user_eflags
    pushl $0x23
    pushl g_user_entry
    movw $0x2b, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    iret
    .globl user_return
user_return:
    movl g_user_saved_esp, %esp
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
)");
extern "C" void run_user_asm();

bool user_hook(uint32_t vector, uint32_t& eip, uint32_t& eflags) {
    if (!g_user_active) return probe_hook(vector, eip, eflags);
    g_user_active = 0;
    g_user_vector = g_user_done ? -1 : int(vector);
    g_user_error = g_exception_error_code;
    asm volatile("jmp user_return");
    __builtin_unreachable();
}

int run_user(void (*entry)(), uint32_t extra_eflags) {
    g_user_entry = uint32_t(reinterpret_cast<uintptr_t>(entry));
    g_user_eflags = 0x2 | extra_eflags;
    g_user_done = 0;
    g_user_vector = -2;
    g_user_active = 1;
    run_user_asm();
    return g_user_vector;
}

#define USER_CODE(name, body) \
    void name() { asm volatile(body "\n\tmovl $1, g_user_done\n\tud2" ::: "eax", "ecx", "edx", "memory"); }

USER_CODE(user_unaligned, "movl g_unaligned + 1, %%eax")
USER_CODE(user_in, "inb $0x80, %%al")
USER_CODE(user_hlt, "hlt")
USER_CODE(user_rdmsr, "movl $0x10, %%ecx\n\trdmsr")
USER_CODE(user_cli, "cli")
USER_CODE(user_nothing, "nop")

void user_hypercall() {
    int32_t result;
    if (g_intel)
        asm volatile("vmcall" : "=a"(result) : "a"(hypercall::kVersion) : "memory");
    else
        asm volatile("vmmcall" : "=a"(result) : "a"(hypercall::kVersion) : "memory");
    g_user_result = result;
    asm volatile("movl $1, g_user_done\n\tud2" ::: "memory");
}

// #TS (vol. 3A 6.15, interrupt 10): INT 0x81 from CPL 3 through a DPL 3 gate into CPL 0
// code switches to the stack the TSS names, and its SS0 is a code segment. The #TS gate
// leads to conforming code, which runs at CPL 3 on the same stack (vol. 3A 6.12.1): it
// notes the error code, puts SS0 back, and ends with UD2, whose #UD reaches CPL 0 as
// usual (user_hook).
extern "C" {
volatile uint32_t g_ts_count, g_ts_error;
uint32_t g_ts_ss0;  // the address of the TSS's SS0 (attack_tss_ss0)
void ts_at_cpl3();
}
asm(R"(
    .text
    .globl ts_at_cpl3
ts_at_cpl3:
    popl g_ts_error
    incl g_ts_count
    movl g_ts_ss0, %eax
    movl $0x10, (%eax)
    ud2
)");
constexpr uint8_t kRing0Vector = 0x81;
USER_CODE(user_int_to_ring0, "int $0x81")

void check_fault(const char* what, int vector, int expected) {
    CHECK(vector == expected, "%s raises vector %d (%d)", what, expected, vector);
}

// A fault that QEMU's TCG does not model (see attack_faults below).
void check_cpu_fault(const char* what, int vector, int expected) {
    CHECK(vector == expected || (vector == -1 && !g_intel), "%s raises vector %d%s (%d)", what, expected,
          vector == -1 ? ": not raised by this CPU model" : "", vector);
}

void check_fault_error(const char* what, int vector, int expected, uint32_t error) {
    CHECK(vector == expected && g_probe_error == error, "%s raises vector %d with error code %#x (%d, %#x)", what,
          expected, error, vector, g_probe_error);
}

}  // namespace

int attack_faults() {
    uint32_t eax = 1, edx = 0, ecx = 0;
    check_fault("DIV by zero (#DE)", PROBE("divl %2", : "+a"(eax), "+d"(edx) : "r"(ecx) : "memory"), 0);
    eax = 0x80000000u, edx = 0xffffffffu, ecx = 0xffffffffu;
    check_fault("IDIV of INT_MIN by -1 (#DE)", PROBE("idivl %2", : "+a"(eax), "+d"(edx) : "r"(ecx) : "memory"), 0);
    check_fault("a single step (#DB)", PROBE("pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\tnop", : : : "memory", "cc"), 1);
    const int icebp = PROBE(".byte 0xf1", : : : "memory");
    CHECK(icebp == 1 || (icebp == 6 && !g_intel), "ICEBP (INT1) raises #DB%s (%d)",
          icebp == 6 ? ": #UD on this CPU model" : "", icebp);
    check_fault("INT3 (#BP)", PROBE("int3", : : : "memory"), 3);
    check_fault("INTO after an overflow (#OF)",
                PROBE("movl $0x7fffffff, %%eax\n\taddl $1, %%eax\n\tinto",
                      :
                      :
                      : "eax", "memory", "cc"),
                4);
    static const int32_t bounds[2] = {10, 20};
    eax = 5;
    check_fault("BOUND out of range (#BR)", PROBE("bound %0, (%1)", : : "r"(eax), "r"(bounds) : "memory"), 5);
    eax = 15;
    check_fault("BOUND in range (no fault)", PROBE("bound %0, (%1)", : : "r"(eax), "r"(bounds) : "memory"), -1);
    check_fault("UD2 (#UD)", PROBE("ud2", : : : "memory"), 6);
    check_fault("LOCK NOP (#UD)", PROBE(".byte 0xf0, 0x90", : : : "memory"), 6);

    enable_sse();                 // CR0.NE, OSFXSR, OSXMMEXCPT
    write_cr0(read_cr0() | 0x8);  // CR0.TS
    check_fault("FNOP with CR0.TS (#NM)", PROBE("fnop", : : : "memory"), 7);
    asm volatile("clts");

    load_attack_gdt();
    check_fault_error("MOV DS of a segment not present (#NP)",
                      PROBE("movw %w0, %%ds",
                            :
                            : "r"(kAttackNotPresent)
                            : "memory"),
                      11, kAttackNotPresent);
    check_fault_error("MOV SS of a segment not present (#SS)",
                      PROBE("movw %w0, %%ss",
                            :
                            : "r"(kAttackNotPresent)
                            : "memory"),
                      12, kAttackNotPresent);
    check_fault_error("MOV DS beyond the GDT limit (#GP)",
                      PROBE("movw %w0, %%ds",
                            :
                            : "r"(0xfff8)
                            : "memory"),
                      13, 0xfff8);
    check_fault_error("MOV SS of a code segment (#GP)", PROBE("movw %w0, %%ss", : : "r"(0x08) : "memory"), 13, 0x08);
    check_fault_error("MOV SS of the null selector (#GP)", PROBE("movw %w0, %%ss", : : "r"(0) : "memory"), 13, 0);
    check_fault_error("WRMSR of an MSR that does not exist (#GP)",
                      PROBE("wrmsr",
                            :
                            : "c"(0x12345678), "a"(0), "d"(0)
                            : "memory"),
                      13, 0);
    // A #GP whose gate is not present: its delivery raises #NP, and two contributory
    // exceptions make a double fault (vol. 3A 6.15, interrupt 8, table 6-5), error code 0.
    const uint64_t gp_gate = idt()[13];
    idt()[13] = gp_gate & ~(1ull << 47);  // P = 0
    const int double_fault = PROBE("movw %w0, %%ds", : : "r"(0xfff8) : "memory");
    idt()[13] = gp_gate;
    check_fault_error("a #GP through a gate not present (#DF)", double_fault, 8, 0);

    // x87 (#MF, with CR0.NE: vol. 3A 6.15 interrupt 16): 1/0 with the zero-divide
    // exception unmasked, reported at the next waiting x87 instruction.
    static const uint16_t control_word = 0x037b;
    check_fault("an unmasked x87 zero divide (#MF)",
                PROBE("fninit\n\tfldcw %0\n\tfld1\n\tfldz\n\tfdivrp\n\tfwait",
                      :
                      : "m"(control_word)
                      : "memory"),
                16);
    asm volatile("fnclex\n\tfninit");
    // SSE (#XM, with CR4.OSXMMEXCPT: interrupt 19): DIVSS by zero, zero-divide unmasked.
    static const uint32_t mxcsr = 0x1d80, one = 0x3f800000, zero = 0;
    // The AMD-V tests run on QEMU's TCG, which (as seen running this kernel on QEMU without
    // Vireo) raises neither #XM nor #AC and makes ICEBP #UD: on AMD only, that is taken as
    // the CPU model's; Bochs (VT-x) gives the SDM's vectors.
    check_cpu_fault("an unmasked SSE zero divide (#XM)",
                    PROBE("ldmxcsr %0\n\tmovss %1, %%xmm0\n\tdivss %2, %%xmm0",
                          :
                          : "m"(mxcsr), "m"(one), "m"(zero)
                          : "memory"),
                    19);
    static const uint32_t mxcsr_default = 0x1f80;
    asm volatile("ldmxcsr %0" ::"m"(mxcsr_default));

    // CPL 3.
    g_exception_hook = user_hook;
    CHECK(run_user(user_nothing, 0) == -1, "CPL 3 runs and comes back");
    write_cr0(read_cr0() | (1u << 18));  // CR0.AM
    int vector = run_user(user_unaligned, kEflagsAc);
    CHECK((vector == 17 && g_user_error == 0) || (vector == -1 && !g_intel),
          "an unaligned load at CPL 3 with CR0.AM and EFLAGS.AC raises #AC(0)%s (%d, %#x)",
          vector == -1 ? ": not raised by this CPU model" : "", vector, g_user_error);
    vector = run_user(user_unaligned, 0);
    CHECK(vector == -1, "without EFLAGS.AC it does not (%d)", vector);
    write_cr0(read_cr0() & ~(1u << 18));
    vector = run_user(user_unaligned, kEflagsAc);
    CHECK(vector == -1, "nor without CR0.AM (%d)", vector);
    vector = run_user(user_in, 0);
    CHECK(vector == 13 && g_user_error == 0, "IN at CPL 3 with IOPL 0 and no I/O bitmap raises #GP(0) (%d)", vector);
    vector = run_user(user_hlt, 0);
    CHECK(vector == 13 && g_user_error == 0, "HLT at CPL 3 raises #GP(0) (%d)", vector);
    vector = run_user(user_rdmsr, 0);
    CHECK(vector == 13 && g_user_error == 0, "RDMSR at CPL 3 raises #GP(0) (%d)", vector);
    vector = run_user(user_cli, 0);
    CHECK(vector == 13 && g_user_error == 0, "CLI at CPL 3 with IOPL 0 raises #GP(0) (%d)", vector);
    const uint64_t ts_gate = idt()[10], ring0_gate = idt()[kRing0Vector];
    set_idt_gate(kRing0Vector, user_nothing);  // never reached
    idt()[kRing0Vector] |= 3ull << 45;         // DPL 3: INT from CPL 3 may use it
    set_idt_gate(10, ts_at_cpl3);
    idt()[10] = (idt()[10] & ~(0xffffull << 16)) | (uint64_t(kAttackConformingCode) << 16);
    g_ts_count = 0;
    g_ts_ss0 = uint32_t(reinterpret_cast<uintptr_t>(attack_tss_ss0()));
    *attack_tss_ss0() = 0x08;
    vector = run_user(user_int_to_ring0, 0);
    *attack_tss_ss0() = 0x10;
    idt()[10] = ts_gate;
    idt()[kRing0Vector] = ring0_gate;
    CHECK(g_ts_count == 1 && g_ts_error == 0x08 && vector == 6,
          "INT from CPL 3 with a code segment as the TSS's SS0 raises #TS(0x8) (%u #TS, error %#x, then vector %d)",
          g_ts_count, g_ts_error, vector);
    g_user_result = 12345;
    vector = run_user(user_hypercall, 0);
    CHECK(vector == -1 && g_user_result == hypercall::kErrorPermission,
          "a hypercall from CPL 3 returns -1 (permission) and nothing else (%d, result %d)", vector, g_user_result);
    install_probe_hook();
    CHECK(call_hypervisor(hypercall::kVersion) == int32_t(hypercall::kVersionValue), "CPL 0 still calls");
    return finish("attack-faults");
}
