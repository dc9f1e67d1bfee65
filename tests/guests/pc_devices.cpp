// The virtual PC's devices programmed wrongly, as a buggy or hostile guest would (domain
// option platform=pc): an illegal vector in an IPI, in an IOAPIC redirection entry and in
// the LAPIC timer, a reserved delivery mode, a PIT count of 0, and garbage written all over
// the legacy devices. Each gets what the hardware gives (ESR bits, nothing delivered, a
// 65536 count), and the domain and Vireo carry on. And one thing done right: the
// TSC-deadline timer must never fire early.
#include "tests/guests/lib/guest.hpp"

namespace {

constexpr uint32_t kLapic = 0xfee00000;
constexpr uint32_t kIoapic = 0xfec00000;
// Local APIC registers (SDM vol. 3A, table 11-1).
constexpr uint32_t kId = 0x20, kVersion = 0x30, kEoi = 0xb0, kSvr = 0xf0, kEsr = 0x280, kIcrLow = 0x300;
constexpr uint32_t kIrr = 0x200;
constexpr uint32_t kLvtTimer = 0x320, kTimerInitial = 0x380, kTimerCurrent = 0x390, kTimerDivide = 0x3e0;
// ESR bits (SDM vol. 3A, 11.5.3).
constexpr uint32_t kEsrSendIllegal = 1u << 5, kEsrReceiveIllegal = 1u << 6;

volatile uint32_t& lapic(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(kLapic + offset); }

void ioapic_write(uint32_t reg, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(kIoapic) = reg;
    *reinterpret_cast<volatile uint32_t*>(kIoapic + 0x10) = value;
}

uint32_t ioapic_read(uint32_t reg) {
    *reinterpret_cast<volatile uint32_t*>(kIoapic) = reg;
    return *reinterpret_cast<volatile uint32_t*>(kIoapic + 0x10);
}

// The ESR latches on a write (SDM 11.5.3: write, then read).
uint32_t read_esr() {
    lapic(kEsr) = 0;
    return lapic(kEsr);
}

void redirect(uint32_t pin, uint32_t low) {
    ioapic_write(0x11 + 2 * pin, 0);  // destination APIC 0
    ioapic_write(0x10 + 2 * pin, low);
}

constexpr uint32_t kMasked = 1u << 16;

// Waits for `count` interrupts on vector 64 (or gives up after many halts).
bool wait_for_interrupts(uint32_t count) {
    for (int halts = 0; halts < 200 && interrupt_count[0] < count; ++halts) asm volatile("sti; hlt; cli" ::: "memory");
    return interrupt_count[0] >= count;
}

uint16_t pit_channel0_count() {
    outb(0x43, 0x00);  // latch channel 0
    const uint8_t low = inb(0x40);
    return uint16_t(low | inb(0x40) << 8);
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    lapic(kSvr) = 0x1ff;  // software-enabled, spurious vector 0xff
    CHECK((lapic(kVersion) & 0xff) == 0x14, "the local APIC is there (version %#x)", lapic(kVersion));
    CHECK(lapic(kId) >> 24 == 0, "vCPU 0 has APIC ID 0");
    read_esr();

    // 0. The TSC-deadline timer (SDM 11.5.4.1) never fires early: with interrupts off,
    // its vector (65) must not be pending in IRR while RDTSC, read after IRR, is still
    // below the deadline. Ten deadlines 100,000 ticks ahead.
    constexpr uint32_t kTscDeadlineMsr = 0x6e0, kIrrOf65 = kIrr + 0x10 * (65 / 32), kBitOf65 = 1u << (65 % 32);
    lapic(kLvtTimer) = (2u << 17) | 65;  // TSC-deadline mode, vector 65
    uint32_t early = 0, fired = 0, taken = interrupt_count[1];
    for (uint32_t round = 0; round < 10; ++round) {
        const uint64_t deadline = rdtsc() + 100000;
        try_wrmsr(kTscDeadlineMsr, deadline);
        for (;;) {
            const bool pending = lapic(kIrrOf65) & kBitOf65;
            const uint64_t now = rdtsc();
            if (pending) {
                ++fired;
                if (now < deadline) ++early;
                break;
            }
            if (now > deadline + (1ull << 36)) break;  // tens of seconds: it never fired
        }
        // Taken (and ended) before the next round, whose IRR check it would confuse.
        enable_interrupts();
        for (uint32_t spins = 0; spins < 100000000 && interrupt_count[1] == taken; ++spins) asm volatile("pause");
        disable_interrupts();
        taken = interrupt_count[1];
        lapic(kEoi) = 0;
    }
    CHECK(fired == 10 && early == 0 && taken == 10,
          "the TSC-deadline timer fires at its deadline, never before (%u of 10 fired, %u early, %u taken)", fired,
          early, taken);
    lapic(kLvtTimer) = kMasked;

    // 1. A self-IPI with vector 2: send-illegal-vector, nothing delivered (SDM 11.5.3).
    lapic(kIcrLow) = (1u << 18) | 2;  // shorthand self, fixed delivery
    CHECK(read_esr() & kEsrSendIllegal, "an IPI with vector 2 sets ESR 'send illegal vector'");

    // 2. The IOAPIC routes COM1's IRQ 4 with vector 3: the local APIC refuses it.
    redirect(4, 3);
    outb(0x3f8 + 4, 0x08);  // MCR.OUT2: the UART's interrupt reaches the bus
    outb(0x3f8 + 1, 0x02);  // IER: transmitter empty, which it is: IRQ 4 rises
    CHECK(read_esr() & kEsrReceiveIllegal, "an IOAPIC entry with vector 3 sets ESR 'receive illegal vector'");
    outb(0x3f8 + 1, 0x00);
    redirect(4, kMasked);

    // 3. A reserved delivery mode (011b) with a good vector: nothing arrives.
    redirect(4, (3u << 8) | 64);
    outb(0x3f8 + 1, 0x02);
    enable_interrupts();
    for (int i = 0; i < 3; ++i) asm volatile("pause");
    disable_interrupts();
    CHECK(interrupt_count[0] == 0, "a reserved delivery mode delivers nothing (%u)", interrupt_count[0]);
    outb(0x3f8 + 1, 0x00);
    CHECK((ioapic_read(0x18) & 0x7ff) == 0x340, "the entry still reads back as written (%#x)", ioapic_read(0x18));
    redirect(4, kMasked);

    // 4. PIT channel 0, mode 2 with a count of 0: 65536 (8254 datasheet), IRQ 0 through
    // IOAPIC pin 2 (the ISA override) with vector 64.
    redirect(2, 64);
    outb(0x43, 0x34);  // channel 0, lobyte/hibyte, mode 2, binary
    outb(0x40, 0);
    outb(0x40, 0);
    const uint16_t first = pit_channel0_count();
    // The runtime's handler does not end the interrupt at the local APIC: EOI here, or
    // the second one would wait behind the first (SDM 11.8.3).
    const bool one = wait_for_interrupts(1);
    lapic(kEoi) = 0;
    CHECK(one && wait_for_interrupts(2), "a PIT count of 0 still interrupts (%u interrupts)", interrupt_count[0]);
    lapic(kEoi) = 0;
    const uint16_t later = pit_channel0_count();
    CHECK(first > 1000 && first != later, "the count runs in the 16-bit range from 65536 (%u, then %u)", first, later);
    redirect(2, kMasked);
    outb(0x43, 0x30);  // mode 0 with no count: the counter stops
    lapic(kEoi) = 0;

    // 5. The LAPIC timer with vector 5: its expiry is refused as an illegal vector.
    lapic(kTimerDivide) = 0xb;  // divide by 1
    lapic(kLvtTimer) = 5;       // one-shot, unmasked, vector 5
    lapic(kTimerInitial) = 1000;
    for (int spins = 0; spins < 100000 && lapic(kTimerCurrent) != 0; ++spins) asm volatile("pause");
    CHECK(lapic(kTimerCurrent) == 0, "the one-shot timer ran out");
    CHECK(read_esr() & kEsrReceiveIllegal, "a timer LVT with vector 5 sets ESR 'receive illegal vector'");
    lapic(kLvtTimer) = kMasked;

    // 6. Garbage everywhere: IPIs with reserved and SMI delivery modes to the others, and
    // every byte value into the PICs, the PIT, the RTC index and the IOAPIC's registers.
    lapic(kIcrLow) = (3u << 18) | (3u << 8) | 64;  // all excluding self, reserved mode
    lapic(kIcrLow) = (3u << 18) | (2u << 8) | 64;  // all excluding self, SMI
    static const uint16_t kPorts[] = {0x21, 0xa1, 0x4d0, 0x43, 0x41, 0x70, 0x61};
    for (uint32_t v = 0; v < 256; v += 7) {
        for (uint16_t port : kPorts) outb(port, uint8_t(v));
        inb(0x71);
        ioapic_write(v & 0x3f, v * 0x01010101u);
    }
    outb(0x43, 0x30);  // stop the PIT the garbage may have started
    outb(0x21, 0xff);  // mask both PICs again
    outb(0xa1, 0xff);
    for (uint32_t pin = 0; pin < 24; ++pin) redirect(pin, kMasked);
    CHECK(true, "the domain runs on after all of it");
    return finish("pc_devices");
}
