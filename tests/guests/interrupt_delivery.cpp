// Interrupt delivery through the virtual local APIC as a CPU delivers it (domain option
// platform=pc; Intel SDM vol. 3A 6.7.1, 11.6, 11.8.3-11.8.6): the highest-priority vector
// first even when a lower one was already on its way to the CPU, the task priority (the
// TPR register and CR8) holding back the classes at or below it, the TPR and CR8 showing
// one value; NMIs whatever RFLAGS.IF says, one at a time (the next waits for the handler's
// IRET), and an NMI ending a HLT with interrupts off.
#include "tests/guests/lib/guest.hpp"

namespace {

constexpr uint32_t kLapic = 0xfee00000;
// Local APIC registers (SDM vol. 3A, table 11-1).
constexpr uint32_t kTpr = 0x80, kEoi = 0xb0, kSvr = 0xf0, kIrr = 0x200, kIcrLow = 0x300, kIcrHigh = 0x310;
constexpr uint32_t kIoapic = 0xfec00000;
constexpr uint32_t kMasked = 1u << 16;
constexpr uint32_t kSelf = 1u << 18;  // destination shorthand "self", fixed delivery

volatile uint32_t& lapic(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(kLapic + offset); }

bool in_irr(uint32_t vector) { return lapic(kIrr + 0x10 * (vector / 32)) & (1u << (vector % 32)); }

// One instruction after STI, interrupts are recognized (SDM vol. 2B, STI): a pending one
// that the APIC delivers comes at the NOP.
void window() { asm volatile("sti; nop; nop; cli" ::: "memory"); }

// AMD's alternative encoding of MOV to and from CR8 in 32-bit code (LOCK MOV CR0, APM
// vol. 3 "MOV CRn"): the CPU has it, though CPUID does not offer it to guests.
void write_cr8(uint32_t value) { asm volatile(".byte 0xf0, 0x0f, 0x22, 0xc0" ::"a"(value) : "memory"); }
// An NMI IPI to APIC ID 0, this vCPU (delivery mode 100b; the "self" shorthand is for
// fixed interrupts only, SDM 11.6.1).
void send_nmi() {
    lapic(kIcrHigh) = 0;
    lapic(kIcrLow) = 4u << 8;
}

void ioapic_redirect(uint32_t pin, uint32_t low) {
    *reinterpret_cast<volatile uint32_t*>(kIoapic) = 0x11 + 2 * pin;
    *reinterpret_cast<volatile uint32_t*>(kIoapic + 0x10) = 0;  // destination APIC 0
    *reinterpret_cast<volatile uint32_t*>(kIoapic) = 0x10 + 2 * pin;
    *reinterpret_cast<volatile uint32_t*>(kIoapic + 0x10) = low;
}

volatile uint32_t g_nmis = 0;
volatile uint32_t g_nmis_inside = 0;
volatile bool g_send_from_handler = false;

bool nmi_hook(uint32_t vector, uint32_t&, uint32_t&) {
    if (vector != 2) return false;
    g_nmis = g_nmis + 1;
    if (g_send_from_handler) {
        // The second NMI must wait for this handler's IRET, however long it runs (here,
        // long enough that it would have come: see wait_for_nmis).
        g_send_from_handler = false;
        send_nmi();
        for (int i = 0; i < 200000; ++i) asm volatile("pause");
        g_nmis_inside = g_nmis;
    }
    return true;
}

// An NMI IPI is delivered soon, not at a given instruction (under Vireo at the next entry,
// on an emulator when its APIC gets to it): waits, boundedly, until `count` came.
bool wait_for_nmis(uint32_t count) {
    for (int i = 0; i < 1000000 && g_nmis < count; ++i) asm volatile("pause");
    return g_nmis == count;
}

uint32_t read_cr8() {
    uint32_t value;
    asm volatile(".byte 0xf0, 0x0f, 0x20, 0xc0" : "=a"(value)::"memory");
    return value;
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    disable_interrupts();
    // The 8259s masked: on a machine with firmware (the reference run on plain QEMU) the
    // BIOS left the PIT's IRQ 0 on, at a vector this kernel has no handler for.
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
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
    // 4. NMIs (SDM vol. 3A 6.7.1): taken with interrupts off; one sent from an NMI
    // handler waits for its IRET; one ends a HLT with interrupts off.
    g_exception_hook = nmi_hook;
    send_nmi();
    CHECK(wait_for_nmis(1), "an NMI IPI is taken with interrupts off (%u)", g_nmis);
    const uint32_t base = g_nmis;
    g_send_from_handler = true;
    send_nmi();
    wait_for_nmis(base + 2);
    CHECK(g_nmis_inside - base == 1 && g_nmis - base == 2,
          "an NMI sent from the NMI handler waits for its IRET (%u taken inside the handler, %u after it)",
          g_nmis_inside - base, g_nmis - base);
    // The PIT's IRQ 0 (I/O APIC pin 2) as NMIs, every millisecond: HLT with IF clear ends.
    const uint32_t before = g_nmis;
    ioapic_redirect(2, 4u << 8);
    outb(0x43, 0x34);  // channel 0, lobyte/hibyte, mode 2 (rate generator)
    outb(0x40, 0xa9);  // 1193 ticks of 1.193182 MHz: 1 ms
    outb(0x40, 0x04);
    asm volatile("cli; hlt" ::: "memory");
    const uint32_t woken_by = g_nmis - before;
    ioapic_redirect(2, kMasked);
    outb(0x43, 0x30);  // mode 0 with no count: the counter stops
    CHECK(woken_by >= 1, "an NMI ends HLT with interrupts off (%u NMIs)", woken_by);
    g_exception_hook = nullptr;
    return finish("interrupt_delivery");
}
