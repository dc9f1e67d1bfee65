// The VT-d units of the DMAR (drivers/iommu/vtd.hpp) as a DmaRemapping.
#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/acpi/dmar.hpp"
#include "drivers/iommu/vtd.hpp"
#include "kernel/passthrough/dma_remapping.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/iommu_host.hpp"
#include "kernel/percpu.hpp"
#include "mm/ept_format.hpp"

namespace {

// One table of 256 IRTEs for every unit: entries 0-0x4f the host MSI vectors (as on
// AMD-Vi), entries 0x80 + GSI the I/O APIC lines, written when Domain-0 programs them
// (their trigger mode is Domain-0's to say).
constexpr u8 kInterruptTableSize = 7;  // IRTA.S: 2^(7+1) entries, one page
constexpr u16 kIoapicEntries = 0x80;
static_assert(kIoapicEntries >= kHostMsiVectorCount && kIoapicEntries + kHostGsiCount <= 256);

class VtdRemapping final : public DmaRemapping {
public:
    static constexpr usize kMaxUnits = DmarInfo::kMaxUnits;

    void take(const DmarInfo& dmar, HostPhysicalPolicy& policy) {
        for (usize i = 0; i < dmar.reserved_count; ++i) {
            const DmarReservedMemory& r = dmar.reserved[i];
            if (r.segment == 0) iommu_reserve_range(r.base, r.limit + 1, true);
        }
        for (usize i = 0; i < dmar.unit_count; ++i) {
            const DmarUnit& found = dmar.units[i];
            if (found.segment != 0) {
                log_warn("iommu: the VT-d unit of PCI segment %u is not used", found.segment);
                continue;
            }
            // The registers take a page (VT-d 10.4); the fault recording and IOTLB
            // registers lie inside it on every unit Vireo knows.
            MappedRegisters* registers = nullptr;
            VtdUnit* unit = take_iommu_unit<VtdUnit>(found.register_base, kPageSize, policy, registers);
            if (!unit) continue;
            units_[count_++] = {found.register_base, unit};
            log_info("iommu: VT-d at %#llx (version %#x)%s, taken by Vireo", (unsigned long long)found.register_base,
                     registers->read32(VtdUnit::kVersion), found.include_pci_all ? ", every PCI device" : "");
        }
    }

    const char* name() const override { return "VT-d"; }
    usize unit_count() const override { return count_; }

    const char* remapping_also() const override {
        return "; so are the I/O APIC's lines, and interrupts of the compatibility format are blocked";
    }

    void take_faults(DmaFaultLog& log) override {
        for (usize i = 0; i < count_; ++i) {
            units_[i].unit->take_faults(
                [&](const VtdFault& f) { log.fault(f.source_id, f.write, f.address, f.what()); });
            log.add_overflows(units_[i].unit->lost_faults());
        }
    }

    void revoke(Domain& dom0) override {
        unmap_dom0_dma(tables_, dom0);
        for (usize i = 0; i < count_; ++i)
            if (!units_[i].unit->flush())
                log_error("iommu: the VT-d at %#llx did not confirm its flush", (unsigned long long)units_[i].base);
    }

    bool msi_message(u32 index, u64& address, u32& data) override {
        if (!remaps_interrupts() || index >= kHostMsiVectorCount) return false;
        // VT-d 5.1.5.2: the remappable format names the entry in the address.
        address = vtd_msi_address(u16(index));
        data = 0;
        return true;
    }

    // Called under dma_protection's lock, which also serializes the invalidation queue.
    bool ioapic_entry(u32 gsi, u8 vector, bool level, u16& handle) override {
        if (!remaps_interrupts() || gsi >= kHostGsiCount) return false;
        handle = u16(kIoapicEntries + gsi);
        auto* entries = static_cast<u64*>(iommu_frames().pointer(interrupt_table_));
        __atomic_store_n(&entries[2 * usize(handle)], vtd_irte_low(vector, u8(percpu(0).apic_id), level),
                         __ATOMIC_RELEASE);
        for (usize i = 0; i < count_; ++i)
            if (!units_[i].unit->invalidate_interrupt_entry(handle))
                log_error("iommu: the VT-d unit at %#llx did not confirm an interrupt entry's invalidation",
                          (unsigned long long)units_[i].base);
        return true;
    }

private:
    struct Unit {
        PhysAddr base;
        VtdUnit* unit;
    };

    bool enable_units(Domain& dom0, const char** error) override {
        // 2 MiB pages where every unit has them; a 3-level unit walks the table below the
        // first PML4 entry (everything mapped lies below 512 GiB then: can_translate).
        bool large_pages = true;
        bool can_remap = true;
        const u64 end = iommu_address_end(dom0);
        for (usize i = 0; i < count_; ++i) {
            if (!units_[i].unit->can_translate(end, error)) return false;
            large_pages = large_pages && units_[i].unit->has_2mib_pages();
            can_remap = can_remap && units_[i].unit->can_remap_interrupts();
        }
        if (!map_dom0_dma(tables_, dom0, large_pages, error)) return false;
        const PhysAddr root = tables_.root();
        const PhysAddr root_3level = EptFormat::table_address(iommu_frames().table(root)[0]);
        VtdInterrupts interrupts{0, kInterruptTableSize};
        if (can_remap) {
            interrupt_table_ = alloc_interrupt_table();
            if (interrupt_table_ == IommuMemory::kNone) {
                *error = "out of memory for its interrupt remapping table";
                return false;
            }
            auto* entries = static_cast<u64*>(iommu_frames().pointer(interrupt_table_));
            for (u32 i = 0; i < kHostMsiVectorCount; ++i)
                entries[2 * usize(i)] = vtd_irte_low(u8(kHostMsiVectorBase + i), u8(percpu(0).apic_id), false);
            interrupts.table = interrupt_table_;
        }
        for (usize i = 0; i < count_; ++i)
            if (!units_[i].unit->enable(root, root_3level, kDom0IommuDomain, can_remap ? &interrupts : nullptr, error))
                return false;
        __atomic_store_n(&remapping_, can_remap, __ATOMIC_RELEASE);
        return true;
    }

    void disable_units() override {
        for (usize i = 0; i < count_; ++i) units_[i].unit->disable();
        tables_.release();
        if (interrupt_table_ != IommuMemory::kNone) iommu_frames().free(interrupt_table_, 1);
        interrupt_table_ = IommuMemory::kNone;
        __atomic_store_n(&remapping_, false, __ATOMIC_RELEASE);
    }

    Unit units_[kMaxUnits] = {};
    usize count_ = 0;
    // VT-d's second-level entries have EPT's layout (drivers/iommu/vtd.hpp).
    PageTableBuilder<EptFormat, HostFrames> tables_{iommu_frames(), /*huge_pages=*/false};
    PhysAddr interrupt_table_ = IommuMemory::kNone;
};

VtdRemapping g_remapping;

}  // namespace

DmaRemapping* vtd_remapping_take(const AcpiTableRef& table, HostPhysicalPolicy& policy) {
    const auto* bytes = static_cast<const u8*>(map_firmware(table.address, table.length));
    static DmarInfo dmar;
    if (!bytes || !parse_dmar(bytes, table.length, dmar)) {
        log_error("iommu: %s; the VT-d units stay unused", bytes ? dmar.error : "cannot map the DMAR table");
        return nullptr;
    }
    g_remapping.take(dmar, policy);
    return g_remapping.unit_count() ? &g_remapping : nullptr;
}
