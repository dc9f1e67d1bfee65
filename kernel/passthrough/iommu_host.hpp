// What both vendors' IOMMU setup (amd_vi_remapping.cpp, vtd_remapping.cpp) takes from the
// hypervisor: the units' registers mapped uncached, host frames for their structures and
// I/O page tables, the firmware's reserved DMA ranges, and Domain-0's RAM mapped into a
// set of I/O page tables of either format.
#pragma once

#include "drivers/iommu/iommu_access.hpp"
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/host_physical_policy.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/page_table.hpp"

// The registers of one IOMMU.
class MappedRegisters final : public IommuRegisters {
public:
    explicit MappedRegisters(volatile u8* mmio) : mmio_(mmio) {}
    u32 read32(u32 offset) override { return *reinterpret_cast<volatile u32*>(mmio_ + offset); }
    void write32(u32 offset, u32 value) override { *reinterpret_cast<volatile u32*>(mmio_ + offset) = value; }
    u64 read64(u32 offset) override { return *reinterpret_cast<volatile u64*>(mmio_ + offset); }
    void write64(u32 offset, u64 value) override { *reinterpret_cast<volatile u64*>(mmio_ + offset) = value; }

private:
    volatile u8* mmio_;
};

// Host frames for the IOMMUs' own structures and for the I/O page tables, counted.
class HostFrames final : public IommuMemory {
public:
    PhysAddr alloc(u64 pages) override {
        const PhysAddr pa = frame_alloc(pages);
        if (pa == kNoPhysFrame) return kNone;
        pages_ += pages;
        return pa;
    }
    void free(PhysAddr start, u64 pages) override {
        frame_free(start, pages);
        pages_ -= pages;
    }
    void* pointer(PhysAddr address) override { return phys_to_virt<void>(address); }
    u64 pages() const { return pages_; }

    // The page-table builder's memory policy (mm/page_table.hpp).
    PhysAddr alloc_table() {
        const PhysAddr pa = alloc(1);
        return pa == kNone ? ~0ull : pa;
    }
    u64* table(PhysAddr pa) { return phys_to_virt<u64>(pa); }
    void free_table(PhysAddr pa) { free(pa, 1); }

private:
    u64 pages_ = 0;
};

HostFrames& iommu_frames();

// The domain ID Domain-0's devices translate as in every IOMMU (it tags cached
// translations; a nonzero one is easier to tell in a dump).
inline constexpr u16 kDom0IommuDomain = 1;

// Memory the firmware says devices must keep reaching (IVMD unity ranges, RMRRs).
struct ReservedDmaRange {
    PhysAddr start, end;  // page aligned
    bool writable;
};
// Adds one (logged when there is no room).
void iommu_reserve_range(PhysAddr start, PhysAddr end, bool writable);
usize iommu_reserved_count();
const ReservedDmaRange& iommu_reserved(usize index);
// The end of Domain-0's RAM and of every reserved range: what the tables must reach.
u64 iommu_address_end(const Domain& dom0);
// Whether a reserved range may be opened to DMA (it holds no host RAM outside Domain-0's
// and none of Vireo's devices); logged when not.
bool iommu_reserved_range_allowed(const Domain& dom0, const ReservedDmaRange& range);

// The unit whose `size` bytes of registers are at `base`, mapped and kept from Domain-0;
// null (logged) when they cannot be mapped.
template <typename Unit>
Unit* take_iommu_unit(PhysAddr base, u64 size, HostPhysicalPolicy& policy, MappedRegisters*& registers) {
    auto* mmio = static_cast<volatile u8*>(map_device(base, size));
    registers = mmio ? new (kNoThrow) MappedRegisters(mmio) : nullptr;
    auto* unit = registers ? new (kNoThrow) Unit(*registers, iommu_frames()) : nullptr;
    if (!unit) {
        delete registers;
        log_error("iommu: cannot map the registers at %#llx", (unsigned long long)base);
        return nullptr;
    }
    policy.deny(base, base + size, "an IOMMU");
    return unit;
}

// Domain-0's RAM at the same addresses, and the firmware's reserved ranges, into `tables`
// (created here). False with *error set when table memory runs out.
template <typename Tables>
bool map_dom0_dma(Tables& tables, const Domain& dom0, bool large_pages, const char** error) {
    *error = "out of memory for its I/O page tables";
    if (!tables.create()) return false;
    const PageAttributes rw{.writable = true, .executable = false};
    for (usize i = 0; i < dom0.memory.range_count(); ++i) {
        const GuestRamRange& r = dom0.memory.range(i);
        if (!tables.map(r.gpa, r.gpa, r.bytes, rw, large_pages)) return false;
    }
    for (usize i = 0; i < iommu_reserved_count(); ++i) {
        const ReservedDmaRange& r = iommu_reserved(i);
        if (!iommu_reserved_range_allowed(dom0, r)) continue;
        if (!tables.map(r.start, r.start, r.end - r.start, {.writable = r.writable}, large_pages)) return false;
        log_info("iommu: %#llx-%#llx stays reachable by DMA, as the firmware asks", (unsigned long long)r.start,
                 (unsigned long long)(r.end - 1));
    }
    *error = nullptr;
    return true;
}

// Domain-0's RAM out of `tables` again.
template <typename Tables>
void unmap_dom0_dma(Tables& tables, const Domain& dom0) {
    for (usize i = 0; i < dom0.memory.range_count(); ++i)
        tables.unmap(dom0.memory.range(i).gpa, dom0.memory.range(i).bytes);
}

// A zeroed page for an interrupt remapping table, whose entry i the caller makes raise
// host MSI vector kHostMsiVectorBase + i; IommuMemory::kNone when memory runs out.
PhysAddr alloc_interrupt_table();
