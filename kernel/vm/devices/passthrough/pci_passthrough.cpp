#include "kernel/vm/devices/passthrough/pci_passthrough.hpp"

#include "kernel/vm/devices/passthrough/pci_bus_scan.hpp"
#include "kernel/vm/devices/passthrough/pci_capabilities.hpp"

namespace {

// Functions the scan lists before the limits apply; those past kMaxFunctions are
// reported by address, those past this only by the first one.
constexpr usize kScanCapacity = 256;

u32 bar_count_of(u8 header_type) {
    if (header_type == pci_config::kHeaderTypeNormal) return pci_config::kBarsNormal;
    if (header_type == pci_config::kHeaderTypeBridge) return pci_config::kBarsBridge;
    return 0;  // CardBus bridges (type 2) and unknown layouts: everything passes through
}

}  // namespace

PassthroughScanSummary PciPassthrough::scan(const u8* root_buses, usize root_count) {
    PassthroughScanSummary summary;
    PciFunctionFound found[kScanCapacity];
    const PciScanResult result = pci_scan_buses(services_.config, root_buses, root_count, found, kScanCapacity);
    for (usize i = 0; i < result.count; ++i) {
        if (services_.listener.kept_by_hypervisor(found[i].bdf)) {
            services_.listener.report(found[i].bdf, PassthroughIssue::KeptByHypervisor);
            ++summary.hidden;
        } else if (function_count_ == kMaxFunctions) {
            services_.listener.report(found[i].bdf, PassthroughIssue::TooManyFunctions);
            ++summary.hidden;
        } else if (!add_function(found[i].bdf, found[i].header_type)) {
            ++summary.hidden;
        }
    }
    if (result.dropped != 0) {
        services_.listener.report(result.first_dropped, PassthroughIssue::TooManyFunctions);
        summary.hidden += result.dropped;
    }
    summary.functions = function_count_;
    return summary;
}

bool PciPassthrough::add_function(PciBdf bdf, u8 header_type) {
    const u16 msix_capability = pci_find_capability(services_.config, bdf, pci_config::kCapabilityMsix);
    if (msix_capability != 0 && msix_count_ == kMaxMsixFunctions) {
        // Shown unmediated, dom0 would program its own vectors into the table.
        services_.listener.report(bdf, PassthroughIssue::TooManyMsixFunctions);
        return false;
    }
    PassthroughFunction& fn = functions_[function_count_++];
    fn.bdf = bdf;
    fn.header_type = header_type;
    fn.bar_count = bar_count_of(header_type);
    pci_probe_bars(services_.config, bdf, fn.bar_count, fn.bars);
    fn.command = u16(services_.config.config_read(bdf, pci_config::kCommand, 2));
    const u32 class_code = services_.config.config_read(bdf, pci_config::kRevisionClass, 4) >> 8;
    fn.host_bridge =
        class_code >> 16 == pci_config::kClassBridge && (class_code >> 8 & 0xff) == pci_config::kSubclassHostBridge;
    const u16 msi_capability = pci_find_capability(services_.config, bdf, pci_config::kCapabilityMsi);
    if (msi_capability != 0) fn.msi.attach(services_, bdf, msi_capability);
    if (msix_capability != 0) {
        fn.msix = &msix_[msix_count_++];
        fn.msix->attach(services_, bdf, msix_capability);
        if (fn.msix->hardware_entries() > MsixMediator::kMaxEntries) {
            services_.listener.report(bdf, PassthroughIssue::MsixTableTruncated);
        }
        if (!msix_layout_usable(fn)) {
            fn.msix->set_unusable();
            services_.listener.report(bdf, PassthroughIssue::MsixTableUnusable);
        }
    }
    update_ranges(fn);
    return true;
}

// The table and the PBA must each lie inside a memory BAR of the function (6.8.2.4-5).
bool PciPassthrough::msix_layout_usable(const PassthroughFunction& fn) const {
    const MsixMediator& m = *fn.msix;
    const auto inside = [&fn](u32 bar, u64 offset, u64 bytes) {
        return bar < fn.bar_count && fn.bars[bar].is_memory() && offset + bytes <= fn.bars[bar].size;
    };
    return inside(m.table_bar(), m.table_offset(), m.table_bytes()) &&
           inside(m.pba_bar(), m.pba_offset(), m.pba_bytes());
}

PassthroughFunction* PciPassthrough::find_mutable(PciBdf bdf) {
    for (usize i = 0; i < function_count_; ++i) {
        if (functions_[i].bdf == bdf) return &functions_[i];
    }
    return nullptr;
}

const PassthroughFunction* PciPassthrough::find(PciBdf bdf) const {
    for (usize i = 0; i < function_count_; ++i) {
        if (functions_[i].bdf == bdf) return &functions_[i];
    }
    return nullptr;
}

u32 PciPassthrough::config_read(PciBdf bdf, u16 offset, u8 size) {
    if (!pci_access_in_dword(offset, size) || offset >= pci_config::kSpaceSize) return pci_all_ones(size);
    PassthroughFunction* fn = find_mutable(bdf);
    if (fn == nullptr) return pci_all_ones(size);
    const u16 dword = offset & ~3u;
    if (fn->msi.covers(dword)) return pci_lanes_extract(fn->msi.read_dword(dword), offset, size);
    if (fn->msix != nullptr && dword == fn->msix->capability()) {
        return pci_lanes_extract(fn->msix->read_control_dword(), offset, size);
    }
    return services_.config.config_read(bdf, offset, size);
}

void PciPassthrough::config_write(PciBdf bdf, u16 offset, u8 size, u32 value) {
    if (!pci_access_in_dword(offset, size) || offset >= pci_config::kSpaceSize) return;
    PassthroughFunction* fn = find_mutable(bdf);
    if (fn == nullptr) return;
    const u16 dword = offset & ~3u;
    if (fn->host_bridge && host_bridge_write_refused(*fn, dword)) return;
    const u32 lanes = pci_lane_mask(offset, size);
    const u32 placed = pci_lanes_value(offset, value);
    if (fn->msi.covers(dword)) {
        fn->msi.write_dword(dword, placed, lanes);
        return;
    }
    if (fn->msix != nullptr && dword == fn->msix->capability()) {
        fn->msix->write_control_dword(placed, lanes);
        return;
    }
    if (fn->header_type == pci_config::kHeaderTypeBridge && dword == pci_config::kPrimaryBus) {
        write_bus_numbers(*fn, offset, size, value);
        return;
    }
    services_.config.config_write(bdf, offset, size, value);
    if (dword == pci_config::kCommand && (lanes & 0xffff)) follow_command(*fn);
    if (dword >= pci_config::kBar0 && dword < pci_bar_offset(fn->bar_count)) {
        follow_bar(*fn, (dword - pci_config::kBar0) / 4);
    }
}

// A host bridge's registers past the standard header's command/status and BARs are the
// chipset's: on Intel's MCH (Q35 and the Core processors' host bridge) PCIEXBAR at 60h
// moves the ECAM window away from where Vireo traps it, PAM at 90h-96h and SMRAMC/ESMRAMC
// at 9Dh-9Eh open the BIOS shadow and SMRAM, TOLUD/TOUUD/REMAPBASE at A0h-BFh remap RAM
// under the hypervisor. No OS needs to write them, so none of them is dom0's.
bool PciPassthrough::host_bridge_write_refused(PassthroughFunction& fn, u16 dword) {
    if (dword == pci_config::kCommand) return false;  // command and status
    if (dword >= pci_config::kBar0 && dword < pci_bar_offset(fn.bar_count)) return false;
    if (!fn.host_bridge_write_reported) {
        fn.host_bridge_write_reported = true;
        services_.listener.report(fn.bdf, PassthroughIssue::HostBridgeWriteRefused);
    }
    return true;
}

// Primary, secondary and subordinate bus numbers keep their values; the secondary
// latency timer (the dword's byte 3) passes through.
void PciPassthrough::write_bus_numbers(PassthroughFunction& fn, u16 offset, u8 size, u32 value) {
    constexpr u32 kBusNumbers = 0x00ffffff;
    const u32 current = services_.config.config_read(fn.bdf, pci_config::kPrimaryBus, 4);
    u32 merged = pci_merge_lanes(current, pci_lanes_value(offset, value), pci_lane_mask(offset, size));
    if ((merged ^ current) & kBusNumbers) {
        services_.listener.report(fn.bdf, PassthroughIssue::BusNumberChangeRefused);
        merged = (merged & ~kBusNumbers) | (current & kBusNumbers);
    }
    services_.config.config_write(fn.bdf, offset, size, pci_lanes_extract(merged, offset, size));
}

void PciPassthrough::follow_command(PassthroughFunction& fn) {
    fn.command = u16(services_.config.config_read(fn.bdf, pci_config::kCommand, 2));
    update_ranges(fn);
}

// The BAR as the hardware holds it after dom0's write: a sizing write of all ones reads
// back the size mask, which matters only while memory decoding is on (update_ranges).
void PciPassthrough::follow_bar(PassthroughFunction& fn, u32 index) {
    if (fn.bars[index].kind == PciBarKind::Upper64 && index > 0) --index;
    PciBar& bar = fn.bars[index];
    if (bar.kind == PciBarKind::Unused || bar.kind == PciBarKind::Upper64) return;
    const u32 low = services_.config.config_read(fn.bdf, pci_bar_offset(index), 4);
    const u32 high =
        bar.kind == PciBarKind::Memory64 ? services_.config.config_read(fn.bdf, pci_bar_offset(index + 1), 4) : 0;
    bar.base = pci_bar_address(bar.kind, low, high);
    update_ranges(fn);
}

void PciPassthrough::update_ranges(PassthroughFunction& fn) {
    const bool decoding = fn.command & pci_config::kCommandMemorySpace;
    for (u32 i = 0; i < fn.bar_count; ++i) {
        const PciBar& bar = fn.bars[i];
        if (!bar.is_memory()) continue;
        const DeviceRange now = decoding && bar.base != 0 ? DeviceRange{bar.base, bar.size} : DeviceRange{};
        if (now == fn.decoded[i]) continue;
        const DeviceRange old = fn.decoded[i];
        fn.decoded[i] = now;
        services_.listener.memory_bar_moved(fn.bdf, i, old, now);
    }
    if (fn.msix == nullptr || !fn.msix->usable()) return;
    MsixMediator& m = *fn.msix;
    const DeviceRange& table_bar = fn.decoded[m.table_bar()];
    const DeviceRange& pba_bar = fn.decoded[m.pba_bar()];
    const u64 table = table_bar.empty() ? 0 : table_bar.base + m.table_offset();
    const u64 pba = pba_bar.empty() ? 0 : pba_bar.base + m.pba_offset();
    DeviceRange pages;
    if (table != 0) {
        pages.base = align_down(table, kPageSize);
        pages.size = align_up(table + m.table_bytes(), kPageSize) - pages.base;
    }
    if (pages != fn.msix_wanted) {
        fn.msix_wanted = pages;
        const DeviceRange old = fn.msix_pages;
        const bool accepted = services_.listener.msix_table_moved(fn.bdf, old, pages);
        fn.msix_pages = accepted ? pages : DeviceRange{};
        fn.msix_refused = !accepted;
        if (!accepted) services_.listener.report(fn.bdf, PassthroughIssue::MsixTableRefused);
    }
    if (fn.msix_refused) {
        m.set_location(0, 0);
        return;
    }
    m.set_location(table, pba);
}

PassthroughFunction* PciPassthrough::msix_owner(PhysAddr address, u8 size) {
    for (usize i = 0; i < function_count_; ++i) {
        if (functions_[i].msix_pages.contains(address, size)) return &functions_[i];
    }
    return nullptr;
}

u64 PciPassthrough::msix_page_read(PhysAddr address, u8 size) {
    PassthroughFunction* fn = msix_owner(address, size);
    if (fn == nullptr) return mmio_access_mask(size);
    MsixMediator& m = *fn->msix;
    if (address >= m.table_address() && address - m.table_address() < m.table_bytes()) {
        return m.table_read(u32(address - m.table_address()), size);
    }
    if (m.pba_address() != 0 && address >= m.pba_address() && address - m.pba_address() < m.pba_bytes()) {
        return m.pba_read(u32(address - m.pba_address()), size);
    }
    return services_.mmio.mmio_read(address, size);
}

void PciPassthrough::msix_page_write(PhysAddr address, u8 size, u64 value) {
    PassthroughFunction* fn = msix_owner(address, size);
    if (fn == nullptr) return;
    MsixMediator& m = *fn->msix;
    if (address >= m.table_address() && address - m.table_address() < m.table_bytes()) {
        m.table_write(u32(address - m.table_address()), size, value);
        return;
    }
    // The PBA is read-only (6.8.2.10).
    if (m.pba_address() != 0 && address >= m.pba_address() && address - m.pba_address() < m.pba_bytes()) return;
    services_.mmio.mmio_write(address, size, value);
}

void PciPassthrough::reset() {
    for (usize i = 0; i < function_count_; ++i) {
        functions_[i].msi.reset();
        if (functions_[i].msix != nullptr) functions_[i].msix->reset();
    }
}

MsiDelivery PciPassthrough::deliver(PciBdf bdf, u32 source_index) {
    PassthroughFunction* fn = find_mutable(bdf);
    if (fn == nullptr) return MsiDelivery::Dropped;
    if (source_index == kMsiSourceIndex) return fn->msi.present() ? fn->msi.deliver() : MsiDelivery::Dropped;
    return fn->msix != nullptr ? fn->msix->deliver(source_index) : MsiDelivery::Dropped;
}
