#include "kernel/time.hpp"

#include "drivers/hpet.hpp"
#include "drivers/pit.hpp"
#include "kernel/x86/instructions.hpp"

namespace {
u64 g_tsc_hz = 0;
u64 g_boot_tsc = 0;
}  // namespace

TscCalibration time_calibrate_tsc(PhysAddr hpet_base) {
    TscCalibration result;
    if (hpet_base && hpet_init(hpet_base)) {
        // 50 ms against the HPET main counter (IA-PC HPET spec 2.3.4).
        // The counter may be 32 bits wide and wrap; differences are taken in its width.
        const u64 mask = hpet_counter_mask();
        const u64 ticks = hpet_ticks_for_us(50000);
        const u64 start_counter = hpet_counter();
        const u64 start_tsc = x86::rdtsc();
        u64 counter = start_counter;
        while (((counter - start_counter) & mask) < ticks) {
            x86::pause();
            counter = hpet_counter();
        }
        const u64 end_tsc = x86::rdtsc();
        // In microseconds, so the products below stay within 64 bits (no 128-bit division
        // helpers in a freestanding image).
        const u64 elapsed_us = ((counter - start_counter) & mask) * hpet_period_fs() / 1000000000ull;
        result.hz = elapsed_us ? (end_tsc - start_tsc) * 1000000 / elapsed_us : 0;
        result.reference = TscReference::Hpet;
    } else {
        result.hz = pit_measure_tsc_hz();
        result.reference = TscReference::Pit;
    }
    const u32 max_extended = x86::cpuid(0x80000000).eax;
    result.invariant = max_extended >= 0x80000007 && (x86::cpuid(0x80000007).edx & (1u << 8));
    g_boot_tsc = g_boot_tsc ? g_boot_tsc : x86::rdtsc();
    g_tsc_hz = result.hz;
    return result;
}

u64 tsc_hz() { return g_tsc_hz; }

u64 uptime_us() {
    if (!g_tsc_hz) return 0;
    const u64 ticks = x86::rdtsc() - g_boot_tsc;
    return ticks / g_tsc_hz * 1000000 + ticks % g_tsc_hz * 1000000 / g_tsc_hz;
}

void time_mark_boot() { g_boot_tsc = x86::rdtsc(); }
u64 time_boot_tsc() { return g_boot_tsc; }

namespace {
i64 g_wall_clock_at_boot = -1;
}

void time_set_wall_clock(i64 unix_seconds_at_boot) { g_wall_clock_at_boot = unix_seconds_at_boot; }
i64 time_wall_clock_at_boot() { return g_wall_clock_at_boot; }

void udelay(u64 microseconds) {
    const u64 start = x86::rdtsc();
    const u64 hz = g_tsc_hz ? g_tsc_hz : 3000000000ull;  // before calibration: assume 3 GHz
    const u64 ticks = hz / 1000000 * microseconds + hz % 1000000 * microseconds / 1000000;
    while (x86::rdtsc() - start < ticks) x86::pause();
}

const char* tsc_reference_name(TscReference reference) {
    switch (reference) {
        case TscReference::Hpet: return "HPET";
        case TscReference::Pit: return "PIT";
        case TscReference::None: break;
    }
    return "nothing";
}
