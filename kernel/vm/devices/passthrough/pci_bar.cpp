#include "kernel/vm/devices/passthrough/pci_bar.hpp"

namespace {

constexpr u32 kBarIo = 1u << 0;
constexpr u32 kBarMemoryType = 3u << 1;
constexpr u32 kBarMemoryType64 = 2u << 1;
constexpr u32 kBarPrefetchable = 1u << 3;
constexpr u32 kIoAddressMask = ~3u;
constexpr u32 kMemoryAddressMask = ~0xfu;

// The lowest set bit of the writable address bits is the size; I/O BARs may implement
// only the low 16 address bits (the upper ones then read 0), which this handles too.
u64 size_from_mask(u64 address_mask) { return address_mask & (~address_mask + 1); }

}  // namespace

u64 pci_bar_address(PciBarKind kind, u32 low, u32 high) {
    switch (kind) {
        case PciBarKind::Io: return low & kIoAddressMask;
        case PciBarKind::Memory32: return low & kMemoryAddressMask;
        case PciBarKind::Memory64: return (u64(high) << 32) | (low & kMemoryAddressMask);
        case PciBarKind::Unused:
        case PciBarKind::Upper64: break;
    }
    return 0;
}

void pci_probe_bars(PciConfigSpace& config, PciBdf bdf, u32 count, PciBar* bars) {
    const u32 command = config.config_read(bdf, pci_config::kCommand, 2);
    const u32 decode = pci_config::kCommandIoSpace | pci_config::kCommandMemorySpace;
    if (command & decode) config.config_write(bdf, pci_config::kCommand, 2, command & ~decode);
    for (u32 i = 0; i < count; ++i) {
        PciBar& bar = bars[i];
        bar = PciBar{};
        const u16 offset = pci_bar_offset(i);
        const u32 low = config.config_read(bdf, offset, 4);
        config.config_write(bdf, offset, 4, 0xffffffff);
        const u32 low_mask = config.config_read(bdf, offset, 4);
        config.config_write(bdf, offset, 4, low);
        if (low & kBarIo) {
            bar.kind = PciBarKind::Io;
            bar.size = size_from_mask(low_mask & kIoAddressMask);
        } else if ((low & kBarMemoryType) == kBarMemoryType64 && i + 1 < count) {
            bar.kind = PciBarKind::Memory64;
            const u16 high_offset = pci_bar_offset(i + 1);
            const u32 high = config.config_read(bdf, high_offset, 4);
            config.config_write(bdf, high_offset, 4, 0xffffffff);
            const u32 high_mask = config.config_read(bdf, high_offset, 4);
            config.config_write(bdf, high_offset, 4, high);
            bar.size = size_from_mask((u64(high_mask) << 32) | (low_mask & kMemoryAddressMask));
            bar.base = pci_bar_address(bar.kind, low, high);
            bars[i + 1] = PciBar{PciBarKind::Upper64, false, 0, 0};
        } else {
            bar.kind = PciBarKind::Memory32;
            bar.size = size_from_mask(low_mask & kMemoryAddressMask);
        }
        bar.prefetchable = !(low & kBarIo) && (low & kBarPrefetchable);
        const bool pair = bar.kind == PciBarKind::Memory64;
        if (bar.size == 0) {
            bar = PciBar{};  // no writable address bit: not implemented
            if (pair) bars[i + 1] = PciBar{};
        } else if (!pair) {
            bar.base = pci_bar_address(bar.kind, low, 0);
        }
        if (pair) ++i;
    }
    if (command & decode) config.config_write(bdf, pci_config::kCommand, 2, command);
}
