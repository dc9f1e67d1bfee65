#include "kernel/vm/devices/passthrough/pci_bus_scan.hpp"

namespace {

constexpr u32 kBusCount = 256;
constexpr u8 kDevicesPerBus = 32;
constexpr u32 kFunctionsPerDevice = 8;

bool function_present(PciConfigSpace& config, PciBdf bdf) {
    // No device answers with all ones (master abort, 3.2.2.3.2); some host bridges give 0
    // for absent devices, which is no valid vendor either.
    const u32 vendor = config.config_read(bdf, pci_config::kVendorId, 2);
    return vendor != pci_config::kNoVendor && vendor != 0;
}

struct BusQueue {
    u8 buses[kBusCount] = {};
    u32 head = 0;
    u32 tail = 0;
    u64 seen[kBusCount / 64] = {};

    // Each bus number enters at most once, so the queue never holds more than 256.
    void push(u8 bus) {
        if (seen[bus / 64] & (1ull << (bus % 64))) return;
        seen[bus / 64] |= 1ull << (bus % 64);
        buses[tail++] = bus;
    }
    bool empty() const { return head == tail; }
    u8 pop() { return buses[head++]; }
};

}  // namespace

PciScanResult pci_scan_buses(PciConfigSpace& config, const u8* root_buses, usize root_count, PciFunctionFound* out,
                             usize capacity) {
    PciScanResult result;
    BusQueue queue;
    if (root_count == 0) {
        queue.push(0);
    } else {
        for (usize i = 0; i < root_count; ++i) queue.push(root_buses[i]);
    }
    while (!queue.empty()) {
        const u8 bus = queue.pop();
        for (u8 device = 0; device < kDevicesPerBus; ++device) {
            if (!function_present(config, PciBdf{bus, device, 0})) continue;
            // Functions 1-7 exist only when function 0 says it is multi-function (6.2.1).
            const bool multi = config.config_read(PciBdf{bus, device, 0}, pci_config::kHeaderType, 1) &
                               pci_config::kHeaderMultiFunction;
            const u32 functions = multi ? kFunctionsPerDevice : 1;
            for (u32 function = 0; function < functions; ++function) {
                const PciBdf bdf{bus, device, u8(function)};
                if (function != 0 && !function_present(config, bdf)) continue;
                const u8 type = u8(config.config_read(bdf, pci_config::kHeaderType, 1) & pci_config::kHeaderTypeMask);
                if (result.count < capacity) {
                    out[result.count++] = PciFunctionFound{bdf, type};
                } else if (result.dropped++ == 0) {
                    result.first_dropped = bdf;
                }
                if (type != pci_config::kHeaderTypeBridge) continue;
                const u8 secondary = u8(config.config_read(bdf, pci_config::kSecondaryBus, 1));
                if (secondary > bus) queue.push(secondary);
            }
        }
    }
    return result;
}
