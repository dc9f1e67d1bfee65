#include "kernel/vm/devices/passthrough/pci_ecam_window.hpp"

namespace {
constexpr u64 kRegisterMask = 0xfff;
}  // namespace

PciBdf PciEcamWindow::function_at(u64 offset) const {
    return PciBdf{u8(start_bus_ + (offset >> kBusShift)), u8((offset >> 15) & 0x1f), u8((offset >> 12) & 7)};
}

u64 PciEcamWindow::read(u64 offset, u8 size) {
    if (offset >= this->size() || size > this->size() - offset) return mmio_access_mask(size);
    const PciBdf bdf = function_at(offset);
    const u16 reg = u16(offset & kRegisterMask);
    if (size == 8 && (reg & 7) == 0) {
        return space_.config_read(bdf, reg, 4) | (u64(space_.config_read(bdf, u16(reg + 4), 4)) << 32);
    }
    if (!pci_access_in_dword(reg, size)) return mmio_access_mask(size);
    return space_.config_read(bdf, reg, size);
}

void PciEcamWindow::write(u64 offset, u8 size, u64 value) {
    if (offset >= this->size() || size > this->size() - offset) return;
    const PciBdf bdf = function_at(offset);
    const u16 reg = u16(offset & kRegisterMask);
    if (size == 8 && (reg & 7) == 0) {
        space_.config_write(bdf, reg, 4, u32(value));
        space_.config_write(bdf, u16(reg + 4), 4, u32(value >> 32));
        return;
    }
    if (!pci_access_in_dword(reg, size)) return;
    space_.config_write(bdf, reg, size, u32(value));
}
