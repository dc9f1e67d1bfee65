#include "drivers/hpet.hpp"

#include "kernel/log.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

// Register offsets (HPET spec 2.3.1, table 2).
constexpr u64 kCapabilities = 0x000;
constexpr u64 kConfiguration = 0x010;
constexpr u64 kMainCounter = 0x0f0;
constexpr u64 kEnable = 1;

volatile u64* g_regs = nullptr;
u64 g_period_fs = 0;
u64 g_counter_mask = ~0ull;
constexpr u64 kCounterSize64 = 1ull << 13;  // capabilities COUNT_SIZE_CAP

u64 read(u64 offset) { return g_regs[offset / 8]; }
void write(u64 offset, u64 value) { g_regs[offset / 8] = value; }

}  // namespace

bool hpet_init(PhysAddr base) {
    if (g_regs) return true;
    g_regs = static_cast<volatile u64*>(map_device(base, kPageSize));
    if (!g_regs) return false;
    g_period_fs = read(kCapabilities) >> 32;
    // The spec bounds the period to (0, 100 ns]; anything else is not an HPET.
    if (g_period_fs == 0 || g_period_fs > 100000000ull) {
        log_warn("hpet: bad counter period %llu fs at 0x%llx; not using it", (unsigned long long)g_period_fs,
                 (unsigned long long)base);
        g_regs = nullptr;
        return false;
    }
    if (!(read(kCapabilities) & kCounterSize64)) g_counter_mask = 0xffffffffull;
    write(kConfiguration, read(kConfiguration) | kEnable);
    return true;
}

u64 hpet_counter() { return read(kMainCounter); }
u64 hpet_period_fs() { return g_period_fs; }
u64 hpet_counter_mask() { return g_counter_mask; }
u64 hpet_ticks_for_us(u64 microseconds) { return microseconds * 1000000000ull / g_period_fs; }
