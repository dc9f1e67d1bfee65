#include "drivers/lapic.hpp"

#include "kernel/idt.hpp"
#include "kernel/log.hpp"
#include "kernel/panic.hpp"
#include "kernel/time.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

// Register offsets in the xAPIC page; x2APIC MSR = 0x800 + offset / 16 (SDM 11.12.1.2).
enum class LapicReg : u32 {
    Id = 0x020,
    Eoi = 0x0b0,
    SpuriousVector = 0x0f0,
    ErrorStatus = 0x280,
    InterruptCommandLow = 0x300,
    InterruptCommandHigh = 0x310,
    LvtTimer = 0x320,
    LvtThermal = 0x330,
    LvtPerformance = 0x340,
    LvtLint0 = 0x350,
    LvtLint1 = 0x360,
    LvtError = 0x370,
    TimerInitialCount = 0x380,
    TimerCurrentCount = 0x390,
    TimerDivide = 0x3e0,
};

constexpr u32 kSoftwareEnable = 1u << 8;
constexpr u32 kLvtMasked = 1u << 16;
constexpr u32 kIcrDeliveryInit = 5u << 8;
constexpr u32 kIcrDeliveryStartup = 6u << 8;
constexpr u32 kIcrDeliveryNmi = 4u << 8;
constexpr u32 kIcrLevelAssert = 1u << 14;
constexpr u32 kIcrSendPending = 1u << 12;
constexpr u32 kIcrAllExcludingSelf = 3u << 18;
constexpr u32 kTimerDivideBy16 = 0x3;

LapicMode g_mode = LapicMode::XApic;
volatile u32* g_mmio = nullptr;
u64 g_timer_ticks_per_ms = 0;

Msr x2apic_msr(LapicReg reg) { return static_cast<Msr>(msr_index(Msr::X2ApicBase) + (u32(reg) >> 4)); }

u32 read(LapicReg reg) {
    if (g_mode == LapicMode::X2Apic) return u32(x86::rdmsr(x2apic_msr(reg)));
    return g_mmio[u32(reg) / 4];
}

void write(LapicReg reg, u32 value) {
    if (g_mode == LapicMode::X2Apic)
        x86::wrmsr(x2apic_msr(reg), value);
    else
        g_mmio[u32(reg) / 4] = value;
}

bool send_ipi(u32 apic_id, u32 command) {
    if (g_mode == LapicMode::X2Apic) {
        // One 64-bit write; x2APIC has no delivery-status bit to wait for (SDM 11.12.9).
        // WRMSR to the ICR is not serializing: earlier stores must be visible first (SDM
        // 11.12.3).
        asm volatile("mfence; lfence" ::: "memory");
        x86::wrmsr(x2apic_msr(LapicReg::InterruptCommandLow), (u64(apic_id) << 32) | command);
        return true;
    }
    if (apic_id > 0xff) return false;  // xAPIC destinations are 8 bits (SDM 11.6.1)
    write(LapicReg::InterruptCommandHigh, apic_id << 24);
    write(LapicReg::InterruptCommandLow, command);
    for (u32 i = 0; i < 1000; ++i) {
        if (!(read(LapicReg::InterruptCommandLow) & kIcrSendPending)) return true;
        udelay(10);
    }
    return false;
}

void spurious_interrupt(TrapFrame&) {}  // no EOI for the spurious vector (SDM 11.9)

}  // namespace

void lapic_init_boot_cpu() {
    const bool x2apic = (x86::cpuid(1).ecx & (1u << 21)) != 0;  // CPUID.01H:ECX.x2APIC
    g_mode = x2apic ? LapicMode::X2Apic : LapicMode::XApic;
    if (g_mode == LapicMode::XApic) {
        const PhysAddr base = x86::rdmsr(Msr::ApicBase) & msr_bits::kApicBaseAddressMask;
        g_mmio = static_cast<volatile u32*>(map_device(base, kPageSize));
        if (!g_mmio) panic("lapic: cannot map the local APIC registers at %#llx", (unsigned long long)base);
    }
    register_interrupt_handler(kVectorSpurious, spurious_interrupt);
}

void lapic_init_this_cpu() {
    // Enable first, then x2APIC: going from disabled straight to x2APIC is an invalid
    // transition that raises #GP (SDM vol. 3, 11.12.5).
    u64 base = x86::rdmsr(Msr::ApicBase) | msr_bits::kApicBaseEnable;
    x86::wrmsr(Msr::ApicBase, base);
    if (g_mode == LapicMode::X2Apic) x86::wrmsr(Msr::ApicBase, base | msr_bits::kApicBaseX2Apic);
    write(LapicReg::SpuriousVector, kSoftwareEnable | kVectorSpurious);
    const LapicReg local_interrupts[] = {LapicReg::LvtTimer, LapicReg::LvtLint0, LapicReg::LvtLint1,
                                         LapicReg::LvtError};
    for (LapicReg lvt : local_interrupts) write(lvt, kLvtMasked);
    write(LapicReg::ErrorStatus, 0);  // the ESR is cleared by a write (SDM 11.5.3)
    write(LapicReg::Eoi, 0);
}

LapicMode lapic_mode() { return g_mode; }
const char* lapic_mode_name() { return g_mode == LapicMode::X2Apic ? "x2APIC" : "xAPIC"; }

u32 lapic_id() {
    const u32 id = read(LapicReg::Id);
    return g_mode == LapicMode::X2Apic ? id : id >> 24;
}

void lapic_eoi() { write(LapicReg::Eoi, 0); }

bool lapic_send_init(u32 apic_id) { return send_ipi(apic_id, kIcrDeliveryInit | kIcrLevelAssert); }

bool lapic_send_startup(u32 apic_id, u8 vector_page) {
    return send_ipi(apic_id, kIcrDeliveryStartup | kIcrLevelAssert | vector_page);
}

bool lapic_send_fixed(u32 apic_id, u8 vector) {
    // The ICR is written in two halves in xAPIC mode: no interrupt on this CPU may send
    // between them.
    const bool interrupts_were_on = (x86::read_rflags() & x86::kRflagsIf) != 0;
    x86::cli();
    const bool sent = send_ipi(apic_id, kIcrLevelAssert | vector);
    if (interrupts_were_on) x86::sti();
    return sent;
}

void lapic_send_nmi_to_all_others() { send_ipi(0, kIcrDeliveryNmi | kIcrLevelAssert | kIcrAllExcludingSelf); }

u64 lapic_timer_calibrate() {
    write(LapicReg::TimerDivide, kTimerDivideBy16);
    write(LapicReg::LvtTimer, kLvtMasked);
    write(LapicReg::TimerInitialCount, 0xffffffffu);
    udelay(10000);
    const u32 elapsed = 0xffffffffu - read(LapicReg::TimerCurrentCount);
    write(LapicReg::TimerInitialCount, 0);
    g_timer_ticks_per_ms = elapsed / 10;
    return g_timer_ticks_per_ms;
}

void lapic_timer_oneshot(u64 microseconds, u8 vector) {
    u64 ticks = g_timer_ticks_per_ms * microseconds / 1000;
    if (ticks == 0) ticks = 1;
    if (ticks > 0xffffffffu) ticks = 0xffffffffu;
    write(LapicReg::TimerDivide, kTimerDivideBy16);
    write(LapicReg::LvtTimer, vector);  // one-shot, unmasked
    write(LapicReg::TimerInitialCount, u32(ticks));
}

void lapic_timer_periodic(u64 microseconds, u8 vector) {
    constexpr u32 kPeriodic = 1u << 17;  // LVT timer mode bits 18:17 = 01 (SDM 11.5.4)
    u64 ticks = g_timer_ticks_per_ms * microseconds / 1000;
    if (ticks == 0) ticks = 1;
    if (ticks > 0xffffffffu) ticks = 0xffffffffu;
    write(LapicReg::TimerDivide, kTimerDivideBy16);
    write(LapicReg::LvtTimer, kPeriodic | vector);
    write(LapicReg::TimerInitialCount, u32(ticks));
}

void lapic_timer_stop() {
    write(LapicReg::LvtTimer, kLvtMasked);
    write(LapicReg::TimerInitialCount, 0);
}
