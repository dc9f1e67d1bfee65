// The AMD IOMMUs of the IVRS (drivers/iommu/amd_vi.hpp) as a DmaRemapping.
#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/acpi/ivrs.hpp"
#include "drivers/iommu/amd_vi.hpp"
#include "kernel/passthrough/dma_remapping.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/iommu_host.hpp"
#include "kernel/percpu.hpp"
#include "mm/amd_vi_format.hpp"

namespace {

// PCI Local Bus 3.0, 6.2.3: the status register at 06h; Signaled Target Abort (bit 11)
// is write-1-to-clear.
constexpr u32 kPciStatus = 0x06;
constexpr u16 kSignaledTargetAbort = 1u << 11;

// The shared interrupt remapping table: entry i sends host MSI vector kHostMsiVectorBase
// + i to the boot CPU.
constexpr u8 kInterruptTableLength = 7;  // 128 entries, past kHostMsiVectorCount
static_assert((1u << kInterruptTableLength) >= kHostMsiVectorCount);

// The status register of function `bdf` of segment 0, through its MCFG window.
volatile u16* map_pci_status(const AcpiInfo& acpi, u16 bdf) {
    for (usize i = 0; acpi.mcfg.present && i < acpi.mcfg.allocation_count; ++i) {
        const AcpiMcfgAllocation& a = acpi.mcfg.allocations[i];
        const u8 bus = u8(bdf >> 8);
        if (a.segment != 0 || bus < a.start_bus || bus > a.end_bus) continue;
        auto* config = static_cast<volatile u8*>(map_device(a.base_address + (u64(bdf) << 12), kPageSize));
        return config ? reinterpret_cast<volatile u16*>(config + kPciStatus) : nullptr;
    }
    return nullptr;
}

class AmdViRemapping final : public DmaRemapping {
public:
    static constexpr usize kMaxUnits = IvrsInfo::kMaxIommus;

    void take(const AcpiInfo& acpi, const IvrsInfo& ivrs, HostPhysicalPolicy& policy) {
        for (usize i = 0; i < ivrs.memory_count; ++i) {
            const IvrsMemory& m = ivrs.memory[i];
            if (m.unity || m.exclusion) iommu_reserve_range(m.start, m.start + m.length, m.writable || m.exclusion);
        }
        for (usize i = 0; i < ivrs.iommu_count; ++i) {
            const IvrsIommu& found = ivrs.iommus[i];
            if (found.segment != 0) {
                // Domain-0's PCI mediator serves segment 0 alone (one ECAM window).
                log_warn("iommu: the AMD-Vi of PCI segment %u is not used", found.segment);
                continue;
            }
            // 16 KiB of registers, 512 KiB with performance counters (48882 3.4: the
            // counter banks from offset 0x40000; EFR PCSup, bit 9).
            const u64 size = (found.extended_features & (1ull << 9)) ? 512 * KiB : 16 * KiB;
            MappedRegisters* registers = nullptr;
            AmdViUnit* unit = take_iommu_unit<AmdViUnit>(found.base_address, size, policy, registers);
            if (!unit) continue;
            // The firmware lists the I/O APICs whose interrupts reach the IOMMU when it can
            // remap interrupts (QEMU only with intremap=on; Linux requires the same).
            for (usize j = 0; j < found.special_count && exempt_count_ < sizeof exempt_ / 2; ++j) {
                exempt_[exempt_count_++] = found.special[j].device_id;
                if (found.special[j].variety == IvrsSpecialDevice::kIoApic) can_remap_ = true;
            }
            units_[count_++] = {found.base_address, found.device_id, unit, map_pci_status(acpi, found.device_id)};
            log_info("iommu: AMD-Vi at %#llx, PCI %02x:%02x.%u (IVHD type %#x), taken by Vireo",
                     (unsigned long long)found.base_address, found.device_id >> 8, (found.device_id >> 3) & 31,
                     found.device_id & 7, found.block_type);
        }
    }

    const char* name() const override { return "AMD-Vi"; }
    usize unit_count() const override { return count_; }

    const char* remapping_also() const override { return ""; }

    void take_faults(DmaFaultLog& log) override {
        for (usize i = 0; i < count_; ++i) {
            Unit& u = units_[i];
            const usize events = u.unit->take_events([&](const AmdViEvent& e) {
                const u16 id = e.device_id;
                if (e.code == AmdViEvent::IoPageFault) return log.fault(id, e.write, e.address, nullptr);
                if (log.line())
                    log_warn("iommu: the AMD-Vi at %#llx reports %s (device %02x:%02x.%u, address %#llx)",
                             (unsigned long long)u.base, e.what(), id >> 8, (id >> 3) & 31, id & 7,
                             (unsigned long long)e.address);
            });
            log.add_overflows(u.unit->lost_events());
            if (took_target_abort(u) && events == 0 && log.unnamed_fault())
                log_warn("iommu: the AMD-Vi at %#llx blocked a DMA (a target abort; its event log names no device)",
                         (unsigned long long)u.base);
        }
    }

    void revoke(Domain& dom0) override {
        unmap_dom0_dma(tables_, dom0);
        for (usize i = 0; i < count_; ++i)
            if (!units_[i].unit->flush_domain(kDom0IommuDomain))
                log_error("iommu: the AMD-Vi at %#llx did not confirm its flush", (unsigned long long)units_[i].base);
    }

    bool msi_message(u32 index, u64& address, u32& data) override {
        if (!remaps_interrupts() || index >= kHostMsiVectorCount) return false;
        // 48882 2.2.5: any address in the interrupt range; the data's bits 10:0 pick the
        // entry.
        address = 0xfee00000ull;
        data = index;
        return true;
    }

    bool keeps_function(u16 bdf) const override {
        for (usize i = 0; i < count_; ++i)
            if (units_[i].device_id == bdf) return true;
        return false;
    }

private:
    struct Unit {
        PhysAddr base;
        u16 device_id;  // its own PCI function
        AmdViUnit* unit;
        volatile u16* pci_status;  // in the ECAM window; null without MCFG
    };

    bool enable_units(Domain& dom0, const char** error) override {
        if (!map_dom0_dma(tables_, dom0, true, error)) return false;
        AmdViInterrupts interrupts{0, kInterruptTableLength, exempt_, exempt_count_};
        if (can_remap_) {
            interrupt_table_ = alloc_interrupt_table();
            if (interrupt_table_ == IommuMemory::kNone) {
                *error = "out of memory for its interrupt remapping table";
                return false;
            }
            auto* entries = static_cast<u32*>(iommu_frames().pointer(interrupt_table_));
            for (u32 i = 0; i < kHostMsiVectorCount; ++i)
                entries[i] = amd_vi_irte(u8(kHostMsiVectorBase + i), u8(percpu(0).apic_id));
            interrupts.table = interrupt_table_;
        }
        for (usize i = 0; i < count_; ++i) {
            took_target_abort(units_[i]);  // what the firmware's use left
            if (!units_[i].unit->enable(tables_.root(), kDom0IommuDomain, can_remap_ ? &interrupts : nullptr, error))
                return false;
        }
        __atomic_store_n(&remapping_, can_remap_, __ATOMIC_RELEASE);
        return true;
    }

    void disable_units() override {
        for (usize i = 0; i < count_; ++i) units_[i].unit->disable();
        tables_.release();
        if (interrupt_table_ != IommuMemory::kNone) iommu_frames().free(interrupt_table_, 1);
        interrupt_table_ = IommuMemory::kNone;
        __atomic_store_n(&remapping_, false, __ATOMIC_RELEASE);
    }

    // Whether the unit's function signalled a target abort since the last look (cleared).
    // An AMD IOMMU aborts a request it refuses; QEMU 7.2's model records no event for it
    // (hw/i386/amd_iommu.c: its amdvi_test_mask is always true, so amdvi_log_event never
    // writes), and this bit (which its amdvi_page_fault sets) is then all that tells.
    static bool took_target_abort(Unit& u) {
        if (!u.pci_status || !(*u.pci_status & kSignaledTargetAbort)) return false;
        *u.pci_status = kSignaledTargetAbort;
        return true;
    }

    Unit units_[kMaxUnits] = {};
    usize count_ = 0;
    PageTableBuilder<AmdViFormat, HostFrames> tables_{iommu_frames(), /*huge_pages=*/false};
    // The device IDs whose interrupts pass (the I/O APICs and HPETs of the IVRS, which
    // Vireo programs itself).
    u16 exempt_[kMaxUnits * IvrsIommu::kMaxSpecial] = {};
    usize exempt_count_ = 0;
    bool can_remap_ = false;
    PhysAddr interrupt_table_ = IommuMemory::kNone;
};

AmdViRemapping g_remapping;

}  // namespace

DmaRemapping* amd_vi_remapping_take(const AcpiInfo& acpi, const AcpiTableRef& table, HostPhysicalPolicy& policy) {
    const auto* bytes = static_cast<const u8*>(map_firmware(table.address, table.length));
    static IvrsInfo ivrs;
    if (!bytes || !parse_ivrs(bytes, table.length, ivrs)) {
        log_error("iommu: %s; the AMD IOMMUs stay unused", bytes ? ivrs.error : "cannot map the IVRS table");
        return nullptr;
    }
    g_remapping.take(acpi, ivrs, policy);
    return g_remapping.unit_count() ? &g_remapping : nullptr;
}
