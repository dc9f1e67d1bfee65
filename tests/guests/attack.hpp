// Shared by the attack suite's hostile guest (tests/guests/attacker.cpp and the
// attack_*.cpp files it is built from): each attack is selected by the domain's command
// line (`-- attack=NAME`) and either survives (it catches every fault it provokes and
// CHECKs the vector, then passes) or must end its domain with Vireo's "crashed: ..." line.
#pragma once

#include "tests/guests/lib/guest.hpp"

// A probe runs one instruction that may fault. The exception hook (probe_hook) notes the
// vector and error code and resumes at the label after the instruction, whatever its
// length, with EFLAGS.TF cleared (a trap such as #DB or #BP resumes there too).
extern "C" volatile uint32_t g_probe_resume;  // where the hook resumes
extern "C" volatile uint32_t g_probe_active;  // 1 while a probe's instruction runs
extern volatile int g_probe_vector;           // -1: it did not fault
extern volatile uint32_t g_probe_error;       // the error code, 0 for vectors without one
extern volatile uint32_t g_probe_fault_eip;   // EIP the exception reported

bool probe_hook(uint32_t vector, uint32_t& eip, uint32_t& eflags);
void install_probe_hook();

// PROBE("insn", : outputs : inputs : clobbers): runs the instruction(s) and yields the
// vector it raised, or -1. The text must not use the local label 9.
#define PROBE(text, ...)                                                            \
    ({                                                                              \
        g_probe_vector = -1;                                                        \
        g_probe_error = 0;                                                          \
        asm volatile("movl $9f, g_probe_resume\n\tmovl $1, g_probe_active\n\t" text \
                     "\n9:\n\tmovl $0, g_probe_active" __VA_ARGS__);                \
        static_cast<int>(g_probe_vector);                                           \
    })

// Interrupt gates for vectors 32-255 (but 64 and 65, the runtime's counters) that count
// in g_other_interrupts: a random vector armed by set_timer then never finds a hole.
extern volatile uint32_t g_other_interrupts;
void install_interrupt_gates();
// The IDT in use (SIDT), 256 gates of 8 bytes.
uint64_t* idt();
// Points one IDT vector at `handler` (a 32-bit interrupt gate, DPL 0).
void set_idt_gate(uint8_t vector, void (*handler)());

// A fixed-seed linear congruential generator (Numerical Recipes' constants).
struct Lcg {
    uint32_t state;
    uint32_t next() {
        state = state * 1664525u + 1013904223u;
        return state;
    }
};

// The multiboot information's command line value of `key=` (mbi[4], Multiboot spec 3.3),
// or "" when absent; copied into `out`.
void command_line_value(uint32_t info, const char* key, char* out, uint32_t size);
bool string_equal(const char* a, const char* b);
// The multiboot information the kernel was entered with (attacker.cpp).
extern uint32_t g_multiboot_info;

uint32_t read_cr0();
void write_cr0(uint32_t value);
uint32_t read_cr4();
void write_cr4(uint32_t value);

// A GDT with segments the attacks use (tests/guests/attack_segments.cpp): 0x18 a data
// segment not present, 0x23/0x2b CPL 3 code and data, 0x30 the TSS in TR, 0x38 a second
// TSS, available, 0x40 conforming code.
constexpr uint16_t kAttackNotPresent = 0x18, kAttackTss = 0x30, kAttackSecondTss = 0x38, kAttackConformingCode = 0x40;
void load_attack_gdt();
// The TSS's SS0, the stack segment an interrupt from CPL 3 switches to (attack=faults
// breaks it for a #TS).
uint32_t* attack_tss_ss0();
// Fills the second TSS (0x38) with a task that starts at `entry` at CPL 0, flat segments.
void prepare_second_task(void (*entry)());

// The attacks (each returns the exit code of finish(), or ends the domain).
int attack_msrs();
int attack_virtualization();
int attack_faults();
int attack_ports();
int attack_paging();
int attack_storm();
int attack_ipi_storm();
int attack_fuzz();
int attack_mmio();
// Attacks that must end the domain; they return only if it survived (a failure).
int attack_end(const char* name);
