#include "drivers/ioapic.hpp"

#include "kernel/log.hpp"
#include "mm/kernel_address_space.hpp"

namespace {
// Indirect access: write the register index to IOREGSEL, then use IOWIN.
constexpr u32 kRegisterSelect = 0x00 / 4;
constexpr u32 kWindow = 0x10 / 4;
constexpr u32 kVersionRegister = 0x01;
constexpr u32 kRedirectionTableBase = 0x10;
constexpr u32 kRedirectionMasked = 1u << 16;

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
    log_info("ioapic%u: at %#llx, version %#x, GSIs %u-%u, all masked", id, (unsigned long long)address, version & 0xff,
             gsi_base, gsi_base + state.redirection_entries - 1);
    return true;
}
