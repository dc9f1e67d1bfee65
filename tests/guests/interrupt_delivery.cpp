// Interrupt delivery through the virtual local APIC as a CPU delivers it (domain option
// platform=pc; Intel SDM vol. 3A 11.8.3-11.8.6): the highest-priority vector first even
// when a lower one was already on its way to the CPU, the task priority (the TPR register
// and CR8) holding back the classes at or below it, and the TPR and CR8 showing one value.
#include "tests/guests/lib/guest.hpp"

namespace {

constexpr uint32_t kLapic = 0xfee00000;
// Local APIC registers (SDM vol. 3A, table 11-1).
constexpr uint32_t kTpr = 0x80, kEoi = 0xb0, kSvr = 0xf0, kIrr = 0x200, kIcrLow = 0x300;
constexpr uint32_t kSelf = 1u << 18;  // destination shorthand "self", fixed delivery

volatile uint32_t& lapic(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(kLapic + offset); }

bool in_irr(uint32_t vector) { return lapic(kIrr + 0x10 * (vector / 32)) & (1u << (vector % 32)); }

// One instruction after STI, interrupts are recognized (SDM vol. 2B, STI): a pending one
// that the APIC delivers comes at the NOP.
void window() { asm volatile("sti; nop; nop; cli" ::: "memory"); }

// AMD's alternative encoding of MOV to and from CR8 in 32-bit code (LOCK MOV CR0, APM
// vol. 3 "MOV CRn"): the CPU has it, though CPUID does not offer it to guests.
void write_cr8(uint32_t value) { asm volatile(".byte 0xf0, 0x0f, 0x22, 0xc0" ::"a"(value) : "memory"); }
uint32_t read_cr8() {
    uint32_t value;
    asm volatile(".byte 0xf0, 0x0f, 0x20, 0xc0" : "=a"(value)::"memory");
    return value;
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    disable_interrupts();
    lapic(kSvr) = 0x1ff;  // software-enabled, spurious vector 0xff
    lapic(kTpr) = 0;

    // 1. Priority: vector 64 is sent and handed towards the CPU while interrupts are off;
    // then 65 comes. 65 must be taken first (the highest IRR vector, SDM 11.8.3.1), and
    // 64 after 65's EOI (same class: held back while 65 is in service).
    const uint32_t before64 = interrupt_count[0], before65 = interrupt_count[1];
    lapic(kIcrLow) = kSelf | 64;
    lapic(kIcrLow) = kSelf | 65;
    window();
    const bool took65_first = interrupt_count[1] == before65 + 1 && interrupt_count[0] == before64;
    CHECK(took65_first, "vector 65 taken before 64, which came first (64: %u, 65: %u)", interrupt_count[0] - before64,
          interrupt_count[1] - before65);
    lapic(kEoi) = 0;
    window();
    CHECK(interrupt_count[0] == before64 + 1 && interrupt_count[1] == before65 + 1,
          "then 64, each exactly once (64: %u, 65: %u)", interrupt_count[0] - before64, interrupt_count[1] - before65);
    lapic(kEoi) = 0;

    // 2. TPR 0x50 holds back class 4 (vectors 64-79); TPR 0 lets it through.
    lapic(kTpr) = 0x50;
    uint32_t count = interrupt_count[0];
    lapic(kIcrLow) = kSelf | 64;
    window();
    CHECK(interrupt_count[0] == count && in_irr(64), "TPR 0x50 holds vector 64 back: pending in IRR (%u taken)",
          interrupt_count[0] - count);
    lapic(kTpr) = 0;
    window();
    CHECK(interrupt_count[0] == count + 1 && !in_irr(64), "TPR 0: vector 64 taken (%u)", interrupt_count[0] - count);
    lapic(kEoi) = 0;

    // 3. CR8 is TPR[7:4] (SDM 11.8.6.5): a CR8 write masks like a TPR write, and each
    // shows the other's value. AMD's encoding works in 32-bit code, Intel has none.
    if (!g_intel) {
        write_cr8(5);
        CHECK(lapic(kTpr) == 0x50, "CR8 5 reads as TPR 0x50 (%#x)", lapic(kTpr));
        count = interrupt_count[0];
        lapic(kIcrLow) = kSelf | 64;
        window();
        CHECK(interrupt_count[0] == count, "CR8 5 holds vector 64 back (%u taken)", interrupt_count[0] - count);
        write_cr8(0);
        window();
        CHECK(interrupt_count[0] == count + 1, "CR8 0: vector 64 taken (%u)", interrupt_count[0] - count);
        lapic(kEoi) = 0;
        lapic(kTpr) = 0x30;
        CHECK(read_cr8() == 3, "TPR 0x30 reads as CR8 3 (%u)", read_cr8());
        lapic(kTpr) = 0;
    }
    return finish("interrupt_delivery");
}
