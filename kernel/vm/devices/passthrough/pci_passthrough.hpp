// dom0's view of the machine's real PCI configuration space: the mediator between dom0,
// which owns the devices, and the hardware.
//
//  - Reads pass through, writes too, except where Vireo must take part: the MSI
//    capability (msi_mediator.hpp) and MSI-X (msix_mediator.hpp), which dom0 programs
//    with its own vectors while the hardware gets vectors Vireo owns; the BARs and the
//    command register, which pass through and are followed (the listener learns where
//    each memory BAR and MSI-X table is); a bridge's bus numbers, which stay as firmware
//    set them (the map of functions depends on them).
//  - A host bridge's writes pass through only to command/status and the BARs; the rest
//    (the chipset's registers: the ECAM window, SMRAM, memory remapping) is dropped.
//  - Functions the scan did not find read all ones and ignore writes.
//  - dom0's accesses to the pages of an MSI-X table come through msix_page_read/write;
//    `deliver` is the host vector of a bound source firing.
//
// It is a PciConfigSpace itself: the 0xCF8/0xCFC ports (pci_config_ports.hpp) and the
// ECAM window (pci_ecam_window.hpp) are fronts on it.
//
// Limits: kMaxFunctions functions and kMaxMsixFunctions with MSI-X; functions past
// either are hidden from dom0 and reported (PassthroughIssue). No locking of its own
// (passthrough_interfaces.hpp).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/msi_mediator.hpp"
#include "kernel/vm/devices/passthrough/msix_mediator.hpp"
#include "kernel/vm/devices/passthrough/passthrough_services.hpp"
#include "kernel/vm/devices/passthrough/pci_bar.hpp"

struct PassthroughFunction {
    PciBdf bdf;
    u8 header_type = 0;
    u16 command = 0;  // the hardware's, as last read
    u32 bar_count = 0;
    PciBar bars[pci_config::kBarsNormal];
    // What the listener was last told of each memory BAR.
    DeviceRange decoded[pci_config::kBarsNormal];
    MsiMediator msi;
    MsixMediator* msix = nullptr;
    DeviceRange msix_pages;     // the trapped pages of the MSI-X table; empty when none
    DeviceRange msix_wanted;    // where the BARs put them last (msix_pages unless refused)
    bool msix_refused = false;  // the platform refused msix_wanted: the table is unreachable
    bool host_bridge = false;   // class 06h/00h: only command/status and the BARs writable
    bool host_bridge_write_reported = false;
};

struct PassthroughScanSummary {
    usize functions = 0;  // shown to dom0
    usize hidden = 0;     // found but hidden (limits, reported one by one)
};

class PciPassthrough final : public PciConfigSpace {
public:
    static constexpr usize kMaxFunctions = 64;
    static constexpr usize kMaxMsixFunctions = 16;

    explicit PciPassthrough(const PassthroughServices& services) : services_(services) {}
    PciPassthrough(const PciPassthrough&) = delete;
    PciPassthrough& operator=(const PciPassthrough&) = delete;

    // Enumerates the real buses from `root_buses` (bus 0 when none; pci_bus_scan.hpp),
    // sizes the BARs, switches MSI and MSI-X off in the hardware and tells the listener
    // where the decoded memory BARs and MSI-X tables are. Once, before dom0 runs.
    PassthroughScanSummary scan(const u8* root_buses = nullptr, usize root_count = 0);

    // dom0's configuration accesses, inside one dword (passthrough_interfaces.hpp).
    u32 config_read(PciBdf bdf, u16 offset, u8 size) override;
    void config_write(PciBdf bdf, u16 offset, u8 size, u32 value) override;

    // dom0's accesses inside a range given by msix_table_moved: the table is dom0's
    // shadow, the PBA (where it shares the pages) reads the hardware's and the shadow's
    // pending bits, and the rest of the pages passes through. `size` is 1, 2, 4 or 8,
    // naturally aligned. Outside every such range, reads give all ones.
    u64 msix_page_read(PhysAddr address, u8 size);
    void msix_page_write(PhysAddr address, u8 size, u64 value);

    // The host vector bound to `source_index` of `bdf` fired (MsiInterruptRouter).
    MsiDelivery deliver(PciBdf bdf, u32 source_index);

    // For a restart of dom0: every MSI and MSI-X back to its reset state (off in the
    // hardware, host vectors given back, dom0's messages cleared). BARs, command registers
    // and the rest of the hardware stay as they are.
    void reset();

    usize function_count() const { return function_count_; }
    const PassthroughFunction& function(usize index) const { return functions_[index]; }
    // The function at `bdf` shown to dom0, or nullptr.
    const PassthroughFunction* find(PciBdf bdf) const;

private:
    PassthroughFunction* find_mutable(PciBdf bdf);
    bool add_function(PciBdf bdf, u8 header_type);
    void write_bus_numbers(PassthroughFunction& fn, u16 offset, u8 size, u32 value);
    bool host_bridge_write_refused(PassthroughFunction& fn, u16 dword);
    void follow_command(PassthroughFunction& fn);
    void follow_bar(PassthroughFunction& fn, u32 index);
    void update_ranges(PassthroughFunction& fn);
    bool msix_layout_usable(const PassthroughFunction& fn) const;
    PassthroughFunction* msix_owner(PhysAddr address, u8 size);

    PassthroughServices services_;
    PassthroughFunction functions_[kMaxFunctions];
    usize function_count_ = 0;
    MsixMediator msix_[kMaxMsixFunctions];
    usize msix_count_ = 0;
};
