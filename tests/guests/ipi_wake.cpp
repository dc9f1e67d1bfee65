// An IPI from one vCPU wakes a vCPU halted on another physical CPU at once, not at some
// later tick (domain options platform=pc vcpus=2, on 2 or more CPUs). vCPU 1 is started
// the way firmware and OSes start an application processor, INIT and two start-up IPIs
// through the xAPIC's ICR into a real-mode trampoline (ipi_wake_trampoline.S); the
// vcpu_start hypercall is refused on the virtual PC. vCPU 1 then sits in `sti; hlt`, and
// vCPU 0 sends it kIpis fixed IPIs one at a time, each stamped with the TSC, and waits for
// its handler to count it. Then the same with vCPU 1 spinning with interrupts on instead
// of halted. Then the IPIs to the halted vCPU 1 again through KVM's PV send-IPI
// hypercall (number 10: kernel/vm/devices/apic/kvm_pv_ipi.hpp), as Linux sends its IPIs
// to several vCPUs, with the forms KVM refuses. Every IPI must arrive exactly once (a lost
// one fails after a bounded wait, it does not hang); the latencies are printed as
// figures, never judged.
//
// The scheduler deals a domain's vCPUs round-robin over the CPUs (vCPU 0 to cpu0 and
// vCPU 1 to cpu1 when this is the only domain) and moves one only off a CPU that has two
// runnable: the guest cannot see its CPU, so the harness checks Vireo's log line "vcpu1
// started by a start-up IPI ... on cpu1".
#include "tests/guests/lib/guest.hpp"

extern "C" char ipi_trampoline_start[], ipi_trampoline_end[], ipi_trampoline_phys[], ipi_vector_stub[];
extern "C" uint32_t ipi_trampoline_stack, ipi_trampoline_entry;
extern "C" char second_stack_top[];
extern "C" void ipi_interrupt();

namespace {

constexpr uint32_t kLapic = 0xfee00000;
// Local APIC registers (SDM vol. 3A, "Local APIC Register Address Map").
constexpr uint32_t kId = 0x20, kEoi = 0xb0, kSvr = 0xf0, kEsr = 0x280, kIcrLow = 0x300, kIcrHigh = 0x310;
// ICR fields (SDM vol. 3A, "Interrupt Command Register (ICR)"): delivery mode in bits
// 10:8, delivery status (send pending) bit 12, level bit 14, trigger mode bit 15.
constexpr uint32_t kFixed = 0u << 8, kInit = 5u << 8, kStartUp = 6u << 8;
constexpr uint32_t kSendPending = 1u << 12, kAssert = 1u << 14, kLevelTriggered = 1u << 15;
constexpr uint32_t kSvrEnable = 1u << 8, kSpuriousVector = 0xff;

constexpr uint8_t kIpiVector = 0x50;
constexpr uint32_t kIpis = 500;
constexpr uint32_t kPvIpis = 200;
constexpr uint32_t kTargetApicId = 1;
// Bounds of every wait, in loop iterations: far beyond any delivery, short enough that a
// lost IPI fails within seconds (PAUSE is slow under QEMU TCG: about 20 s there).
constexpr uint32_t kWaitLoops = 10'000'000;
// After vCPU 1 says it is about to halt, vCPU 0 waits this many TSC cycles more before
// the IPI, or twice the previous IPI's latency if longer (emulators' rates differ by far),
// so that the IPI finds vCPU 1 halted in the hypervisor, not on its way there.
constexpr uint64_t kSettleCycles = 200'000;

enum ApMode : uint32_t { kHalt, kSpin, kPark };

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint32_t base;
};

volatile uint32_t& lapic(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(kLapic + offset); }

// Shared between the two vCPUs.
DescriptorPointer g_idt;
volatile uint32_t g_ap_up = 0;
volatile uint32_t g_ap_apic_id = 0xff;
volatile uint32_t g_mode = kHalt;
volatile uint32_t g_halting = 0;   // vCPU 1's halts begun
volatile uint32_t g_wakeups = 0;   // vCPU 1's halts ended
volatile uint32_t g_spinning = 0;  // vCPU 1 spins with interrupts on
volatile uint32_t g_received = 0;  // IPIs handled
volatile uint64_t g_sent_at = 0;
volatile uint64_t g_latency[kIpis];

// vCPU 1, from the trampoline: the same IDT as vCPU 0, its local APIC on, then it waits
// for IPIs in the way g_mode says.
extern "C" [[noreturn]] void ap_main() {
    asm volatile("lidt %0" ::"m"(g_idt));
    lapic(kSvr) = kSvrEnable | kSpuriousVector;
    g_ap_apic_id = lapic(kId) >> 24;
    g_ap_up = 1;
    for (;;) {
        switch (g_mode) {
            case kHalt:
                g_halting = g_halting + 1;
                // STI holds interrupts off for one more instruction, so an IPI that is
                // already pending wakes the HLT instead of slipping in before it.
                asm volatile("sti; hlt; cli" ::: "memory");
                g_wakeups = g_wakeups + 1;
                break;
            case kSpin:
                g_spinning = 1;
                asm volatile("sti" ::: "memory");
                while (g_mode == kSpin) {
                }
                asm volatile("cli" ::: "memory");
                g_spinning = 0;
                break;
            default: asm volatile("cli; hlt" ::: "memory"); break;
        }
    }
}

// Installs a 32-bit interrupt gate (selector 0x08) in the runtime's IDT, which SIDT finds.
void set_gate(uint8_t vector, const char* handler) {
    const uint32_t h = uint32_t(reinterpret_cast<uintptr_t>(handler));
    auto* idt = reinterpret_cast<volatile uint64_t*>(uintptr_t(g_idt.base));
    idt[vector] = (uint64_t(h & 0xffff0000u) << 32) | (uint64_t(0x8e00) << 32) | (0x08u << 16) | (h & 0xffff);
}

// The ICR says whether the previous IPI has left (SDM: software waits for the delivery
// status to be idle before it sends another).
bool wait_until_sent() {
    for (uint32_t i = 0; i < kWaitLoops; ++i) {
        if (!(lapic(kIcrLow) & kSendPending)) return true;
        asm volatile("pause");
    }
    return false;
}

void send(uint32_t icr_low) {
    wait_until_sent();
    lapic(kIcrHigh) = kTargetApicId << 24;
    lapic(kIcrLow) = icr_low;
}

// The ESR latches on a write (SDM vol. 3A, "Error Handling"): write, then read.
uint32_t read_esr() {
    lapic(kEsr) = 0;
    return lapic(kEsr);
}

void delay_cycles(uint64_t cycles) {
    const uint64_t start = rdtsc();
    while (rdtsc() - start < cycles) asm volatile("pause");
}

bool wait_for(volatile uint32_t& value, uint32_t at_least) {
    for (uint32_t i = 0; i < kWaitLoops; ++i) {
        if (value >= at_least) return true;
        asm volatile("pause");
    }
    return value >= at_least;
}

// INIT, then two start-up IPIs, as the SDM's MP initialization example does; its waits
// (10 ms after the INIT, 200 us between the SIPIs) are for real processors and kept short
// here. A processor that already started ignores the second SIPI.
bool start_ap() {
    const uint32_t trampoline = uint32_t(reinterpret_cast<uintptr_t>(ipi_trampoline_phys));
    ipi_trampoline_stack = uint32_t(reinterpret_cast<uintptr_t>(second_stack_top));
    ipi_trampoline_entry = uint32_t(reinterpret_cast<uintptr_t>(&ap_main));
    memcpy(reinterpret_cast<void*>(uintptr_t(trampoline)), ipi_trampoline_start,
           size_t(ipi_trampoline_end - ipi_trampoline_start));
    send(kInit | kAssert | kLevelTriggered);
    send(kInit | kLevelTriggered);  // INIT level de-assert, as the SDM's example still sends
    delay_cycles(10'000);
    for (int sipi = 0; sipi < 2; ++sipi) {
        send(kStartUp | (trampoline >> 12));
        delay_cycles(2'000);
    }
    return wait_for(g_ap_up, 1);
}

// In place, ascending: kIpis values at most.
void sort(uint64_t* v, uint32_t n) {
    for (uint32_t i = 1; i < n; ++i) {
        const uint64_t x = v[i];
        uint32_t j = i;
        for (; j > 0 && v[j - 1] > x; --j) v[j] = v[j - 1];
        v[j] = x;
    }
}

void print_figure(const char* what, uint32_t count) {
    static uint64_t sorted[kIpis];
    for (uint32_t i = 0; i < count; ++i) sorted[i] = g_latency[i];
    sort(sorted, count);
    print("figure: IPI to a %s vCPU on another CPU: min %llu median %llu max %llu TSC cycles (%u IPIs)\n", what,
          sorted[0], sorted[count / 2], sorted[count - 1], count);
}

// The IPI through the ICR (the destination, vCPU 1, is in ICR high already).
bool send_by_icr() {
    if (!wait_until_sent()) return false;
    g_sent_at = rdtsc();
    lapic(kIcrLow) = kFixed | kAssert | kIpiVector;
    return true;
}

// The IPI through KVM's PV send-IPI: bit 1 of the bitmap from APIC ID 0 is vCPU 1; one
// local APIC took it.
bool send_by_hypercall() {
    g_sent_at = rdtsc();
    const int32_t sent = call_hypervisor4(hypercall::kKvmSendIpi, 1u << kTargetApicId, 0, 0, kFixed | kIpiVector);
    if (sent != 1) print("the PV send-IPI hypercall returned %d, not 1\n", sent);
    return sent == 1;
}

// Sends `count` IPIs one at a time with `send`, each when `ready(i)` says vCPU 1 waits
// for it; returns how many were handled, each exactly once, before the first that was not.
template <typename Ready>
uint32_t ping(Ready ready, bool (*send)() = send_by_icr, uint32_t count = kIpis) {
    g_received = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (!ready(i)) {
            print("vCPU 1 did not get ready for IPI %u\n", i);
            return i;
        }
        if (!send()) return i;
        if (!wait_for(g_received, i + 1)) {
            print("IPI %u was not handled (ESR %#x)\n", i, read_esr());
            return i;
        }
        if (g_received != i + 1) {
            print("IPI %u was handled %u times\n", i, g_received - i);
            return i;
        }
    }
    return count;
}

}  // namespace

extern "C" void ipi_interrupt() {
    const uint64_t now = rdtsc();
    const uint32_t n = g_received;
    if (n < kIpis) g_latency[n] = now - g_sent_at;
    lapic(kEoi) = 0;
    g_received = n + 1;
}

int guest_main(uint32_t, uint32_t) {
    asm volatile("sidt %0" : "=m"(g_idt));
    set_gate(kIpiVector, ipi_vector_stub);
    lapic(kSvr) = kSvrEnable | kSpuriousVector;
    lapic(kIcrHigh) = kTargetApicId << 24;
    CHECK(lapic(kId) >> 24 == 0, "vCPU 0 has APIC ID 0");

    CHECK(start_ap(), "vCPU 1 started through INIT and start-up IPIs at %#x", uint32_t(uintptr_t(ipi_trampoline_phys)));
    if (!g_ap_up) return finish("ipi_wake");
    CHECK(g_ap_apic_id == kTargetApicId, "vCPU 1 has APIC ID %u", g_ap_apic_id);

    // 1. vCPU 1 halted: each IPI waits until it began its next halt, and a while more.
    const uint32_t halted = ping([](uint32_t i) {
        if (!wait_for(g_halting, i + 1)) return false;
        const uint64_t twice_previous = i ? 2 * g_latency[i - 1] : 0;
        delay_cycles(twice_previous > kSettleCycles ? twice_previous : kSettleCycles);
        return true;
    });
    CHECK(halted == kIpis, "%u of %u IPIs woke the halted vCPU 1, each once", halted, kIpis);
    // HLT ends for an interrupt (SDM vol. 2, HLT), so one halt ended per IPI. The last
    // halt may not have ended yet when its handler already counted.
    wait_for(g_wakeups, halted);
    CHECK(g_wakeups == halted, "vCPU 1 left HLT %u times, once per IPI", g_wakeups);
    if (halted == kIpis) print_figure("halted", halted);

    // 2. vCPU 1 running (spinning with interrupts on, no exits): the IPI must reach it
    // in the guest, not wait for its next exit. It sleeps in HLT now: one more IPI, not
    // measured, lets it see the new mode.
    g_mode = kSpin;
    const uint32_t before = g_received;
    if (wait_until_sent()) lapic(kIcrLow) = kFixed | kAssert | kIpiVector;
    wait_for(g_received, before + 1);
    const uint32_t running = ping([](uint32_t) { return wait_for(g_spinning, 1); });
    CHECK(running == kIpis, "%u of %u IPIs reached the running vCPU 1, each once", running, kIpis);
    if (running == kIpis) print_figure("running", running);

    // 3. KVM's PV send-IPI to vCPU 1, halted again. First what KVM refuses (nothing is
    // sent) and an APIC ID nobody has (none taken).
    using namespace hypercall;
    CHECK(call_hypervisor4(kKvmSendIpi, 1u << kTargetApicId, 0, 0, kFixed | (1u << 11) | kIpiVector) == kErrorInvalid,
          "PV send-IPI refuses a logical destination");
    CHECK(call_hypervisor4(kKvmSendIpi, 1u << kTargetApicId, 0, 0, kFixed | (3u << 18) | kIpiVector) == kErrorInvalid,
          "PV send-IPI refuses a shorthand");
    CHECK(call_hypervisor4(kKvmSendIpi, 1u << kTargetApicId, 0, 0, kInit) == kErrorInvalid, "PV send-IPI refuses INIT");
    CHECK(call_hypervisor4(kKvmSendIpi, 1u << 7, 0, 0, kFixed | kIpiVector) == 0,
          "PV send-IPI to APIC ID 7, which no vCPU has: none taken");
    const uint32_t halts_before = g_halting;
    g_mode = kHalt;
    const uint32_t by_hypercall = ping(
        [halts_before](uint32_t i) {
            if (!wait_for(g_halting, halts_before + i + 1)) return false;
            delay_cycles(kSettleCycles);
            return true;
        },
        send_by_hypercall, kPvIpis);
    CHECK(by_hypercall == kPvIpis, "%u of %u PV send-IPIs woke the halted vCPU 1, each once", by_hypercall, kPvIpis);
    if (by_hypercall == kPvIpis) print_figure("halted (KVM's PV send-IPI)", by_hypercall);

    g_mode = kPark;
    const uint32_t received = g_received;
    delay_cycles(kSettleCycles);
    CHECK(g_received == received, "no IPI arrived twice or late (%u)", g_received);
    return finish("ipi_wake");
}
