#include "kernel/vm/devices/passthrough/pci_capabilities.hpp"

u16 pci_find_capability(PciConfigSpace& config, PciBdf bdf, u8 id) {
    if (!(config.config_read(bdf, pci_config::kStatus, 2) & pci_config::kStatusCapabilityList)) return 0;
    // Pointers are dword-aligned; the low two bits are reserved (6.7). Each step visits a
    // new dword or the list is looping, so kMaxCapabilities steps see every real entry.
    u16 offset = u16(config.config_read(bdf, pci_config::kCapabilityPointer, 1) & 0xfc);
    for (u32 step = 0; step < kMaxCapabilities && offset >= pci_config::kFirstCapabilityOffset; ++step) {
        const u32 header = config.config_read(bdf, offset, 2);
        if ((header & 0xff) == id) return offset;
        offset = u16((header >> 8) & 0xfc);
    }
    return 0;
}
