#include "drivers/ioapic.hpp"

#include "kernel/log.hpp"
#include "kernel/spinlock.hpp"
#include "mm/kernel_address_space.hpp"

namespace {
// Indirect access: write the register index to IOREGSEL, then use IOWIN.
constexpr u32 kRegisterSelect = 0x00 / 4;
constexpr u32 kWindow = 0x10 / 4;
constexpr u32 kVersionRegister = 0x01;
constexpr u32 kRedirectionTableBase = 0x10;
constexpr u32 kRedirectionMasked = 1u << 16;

struct HostIoapic {
    IoApicState state;
    volatile u32* regs;
};
constexpr usize kMaxIoapics = 8;
HostIoapic g_ioapics[kMaxIoapics];
usize g_ioapic_count = 0;
SpinLock g_lock;  // IOREGSEL and IOWIN are one access: nobody may come between

HostIoapic* find(u32 gsi) {
    for (usize i = 0; i < g_ioapic_count; ++i) {
        const IoApicState& s = g_ioapics[i].state;
        if (gsi >= s.gsi_base && gsi - s.gsi_base < s.redirection_entries) return &g_ioapics[i];
    }
    return nullptr;
}

u32 read(volatile u32* regs, u32 index) {
    regs[kRegisterSelect] = index;
    return regs[kWindow];
}
void write(volatile u32* regs, u32 index, u32 value) {
    regs[kRegisterSelect] = index;
    regs[kWindow] = value;
}
}  // namespace

bool ioapic_init(u8 id, PhysAddr address, u32 gsi_base, IoApicState& state) {
    auto* regs = static_cast<volatile u32*>(map_device(address, kPageSize));
    if (!regs) {
        log_error("ioapic%u: cannot map registers at %#llx", id, (unsigned long long)address);
        return false;
    }
    const u32 version = read(regs, kVersionRegister);
    if (version == 0xffffffffu) {
        log_error("ioapic%u: nothing answers at %#llx (reads all ones); ignoring it", id, (unsigned long long)address);
        return false;
    }
    state = {id, address, gsi_base, ((version >> 16) & 0xff) + 1};
    for (u32 i = 0; i < state.redirection_entries; ++i) {
        write(regs, kRedirectionTableBase + 2 * i, kRedirectionMasked);
        write(regs, kRedirectionTableBase + 2 * i + 1, 0);
    }
    if (g_ioapic_count < kMaxIoapics) g_ioapics[g_ioapic_count++] = {state, regs};
    log_info("ioapic%u: at %#llx, version %#x, GSIs %u-%u, all masked", id, (unsigned long long)address, version & 0xff,
             gsi_base, gsi_base + state.redirection_entries - 1);
    return true;
}

bool ioapic_serves(u32 gsi) { return find(gsi) != nullptr; }

bool ioapic_program(u32 gsi, u8 vector, u8 apic_id, bool level, bool active_low, bool masked) {
    HostIoapic* io = find(gsi);
    if (!io) return false;
    const u32 pin = gsi - io->state.gsi_base;
    // 82093AA datasheet 3.2.4: vector 7:0, fixed delivery (000), physical destination,
    // polarity bit 13 (1 = low), trigger bit 15 (1 = level), mask bit 16; destination 63:56.
    const u32 low = vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) | (masked ? kRedirectionMasked : 0);
    IrqLockGuard guard(g_lock);
    write(io->regs, kRedirectionTableBase + 2 * pin, kRedirectionMasked);  // masked while it changes
    write(io->regs, kRedirectionTableBase + 2 * pin + 1, u32(apic_id) << 24);
    write(io->regs, kRedirectionTableBase + 2 * pin, low);
    return true;
}

bool ioapic_program_remapped(u32 gsi, u16 handle, u8 vector, bool level, bool active_low, bool masked) {
    HostIoapic* io = find(gsi);
    if (!io) return false;
    const u32 pin = gsi - io->state.gsi_base;
    // VT-d 5.1.5.1: handle[14:0] in bits 63:49, the format bit 48, handle[15] in bit 11,
    // delivery mode 000; vector, polarity, trigger and mask where they always are.
    const u32 low = vector | (u32(handle >> 15) << 11) | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) |
                    (masked ? kRedirectionMasked : 0);
    const u32 high = (u32(handle & 0x7fff) << 17) | (1u << 16);
    IrqLockGuard guard(g_lock);
    write(io->regs, kRedirectionTableBase + 2 * pin, kRedirectionMasked);  // masked while it changes
    write(io->regs, kRedirectionTableBase + 2 * pin + 1, high);
    write(io->regs, kRedirectionTableBase + 2 * pin, low);
    return true;
}

bool ioapic_set_masked(u32 gsi, bool masked) {
    HostIoapic* io = find(gsi);
    if (!io) return false;
    const u32 index = kRedirectionTableBase + 2 * (gsi - io->state.gsi_base);
    IrqLockGuard guard(g_lock);
    const u32 low = read(io->regs, index);
    write(io->regs, index, masked ? low | kRedirectionMasked : low & ~kRedirectionMasked);
    return true;
}
