#include "kernel/passthrough/dma_protection.hpp"

#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/acpi/ivrs.hpp"
#include "drivers/iommu/amd_vi.hpp"
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/host_physical_policy.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"
#include "mm/amd_vi_format.hpp"
#include "mm/kernel_address_space.hpp"

extern "C" const u8 __image_start_phys[], __image_end_phys[];
extern "C" const u8 __text_start[], __rodata_end[];

namespace {

// The registers of one IOMMU, mapped uncached.
class MappedRegisters final : public IommuRegisters {
public:
    explicit MappedRegisters(volatile u64* mmio) : mmio_(mmio) {}
    u64 read64(u32 offset) override { return mmio_[offset / 8]; }
    void write64(u32 offset, u64 value) override { mmio_[offset / 8] = value; }

private:
    volatile u64* mmio_;
};

// Host frames for the IOMMU's own structures and for the I/O page tables.
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

using IoPageTables = PageTableBuilder<AmdViFormat, HostFrames>;

// The domain ID Domain-0's devices translate as in every IOMMU (48882 2.2.2.1: it tags
// cached translations; 0 is valid too, but a nonzero one is easier to tell in a dump).
constexpr u16 kDom0IommuDomain = 1;
// How often the event logs are read. A fault is logged within this much of happening;
// the log holds 255 events meanwhile.
constexpr u64 kPollIntervalUs = 100'000;
// Faults reported one by one in each poll; the rest are counted.
constexpr usize kFaultLinesPerPoll = 8;

struct Iommu {
    IvrsIommu found;
    MappedRegisters* registers = nullptr;
    AmdViUnit* unit = nullptr;
    // Its PCI function's status register (in the ECAM window), or null without MCFG.
    volatile u16* pci_status = nullptr;
};

// PCI Local Bus 3.0, 6.2.3: the status register at 06h; Signaled Target Abort (bit 11)
// is write-1-to-clear.
constexpr u32 kPciStatus = 0x06;
constexpr u16 kSignaledTargetAbort = 1u << 11;

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

// Whether the IOMMU's function signalled a target abort since the last look (cleared).
// An AMD IOMMU aborts a request it refuses; QEMU 7.2's model records no event for it
// (hw/i386/amd_iommu.c: amdvi_test_mask is always true, so amdvi_log_event never
// writes), and this bit (amdvi_page_fault sets it) is then all that tells of it.
bool took_target_abort(Iommu& iommu) {
    if (!iommu.pci_status || !(*iommu.pci_status & kSignaledTargetAbort)) return false;
    *iommu.pci_status = kSignaledTargetAbort;
    return true;
}

SpinLock g_lock;
IvrsInfo g_ivrs;
Iommu g_iommus[IvrsInfo::kMaxIommus];
usize g_iommu_count = 0;
HostFrames g_frames;
IoPageTables g_tables{g_frames, /*huge_pages=*/false};
Domain* g_dom0 = nullptr;
Timer g_poll_timer;
u64 g_image_checksum = 0;
u64 g_faults = 0;

// FNV-1a over 64-bit words: cheap, and any change of a word changes it.
u64 image_checksum() {
    u64 h = 0xcbf29ce484222325ull;
    for (const u8* p = __text_start; p + 8 <= __rodata_end; p += 8) {
        u64 word;
        __builtin_memcpy(&word, p, 8);
        h = (h ^ word) * 0x100000001b3ull;
    }
    return h;
}

const char* what_is_at(PhysAddr address) {
    const PhysAddr image_start = reinterpret_cast<PhysAddr>(__image_start_phys);
    const PhysAddr image_end = reinterpret_cast<PhysAddr>(__image_end_phys);
    if (address >= image_start && address < image_end) return "Vireo's image";
    if (g_dom0 && g_dom0->memory.contains(address, 1)) return "Domain-0's RAM";
    return "memory that is not Domain-0's";
}

// The MMIO size of an AMD IOMMU: 16 KiB of registers, 512 KiB with performance counters
// (48882 3.4: the counter banks from offset 0x40000; EFR PCSup, bit 9).
u64 register_bytes(const IvrsIommu& found) { return (found.extended_features & (1ull << 9)) ? 512 * KiB : 16 * KiB; }

void report_event(const Iommu& iommu, const AmdViEvent& e, usize& lines) {
    if (e.code == AmdViEvent::IoPageFault) ++g_faults;
    if (lines++ >= kFaultLinesPerPoll) return;
    const u16 id = e.device_id;
    if (e.code == AmdViEvent::IoPageFault) {
        log_warn("iommu: blocked a DMA %s by %02x:%02x.%u to %#llx (%s)", e.write ? "write" : "read", id >> 8,
                 (id >> 3) & 31, id & 7, (unsigned long long)e.address, what_is_at(e.address));
    } else {
        log_warn("iommu: the AMD-Vi at %#llx reports %s (device %02x:%02x.%u, address %#llx)",
                 (unsigned long long)iommu.found.base_address, e.what(), id >> 8, (id >> 3) & 31, id & 7,
                 (unsigned long long)e.address);
    }
}

void poll_events(Timer& timer, u64 now_us) {
    dma_protection_report_events();
    timer_arm(timer, 0, now_us + kPollIntervalUs);
}

bool map_tables(Domain& dom0, const char** error);

}  // namespace

void dma_protection_report_events() {
    usize lines = 0;
    u64 lost = 0;
    {
        IrqLockGuard guard(g_lock);
        for (usize i = 0; i < g_iommu_count; ++i) {
            Iommu& iommu = g_iommus[i];
            if (!iommu.unit) continue;
            const usize events = iommu.unit->take_events([&](const AmdViEvent& e) { report_event(iommu, e, lines); });
            lost += iommu.unit->lost_events();
            if (took_target_abort(iommu) && events == 0) {
                ++lines;
                log_warn("iommu: the AMD-Vi at %#llx blocked a DMA (a target abort; its event log names no device)",
                         (unsigned long long)iommu.found.base_address);
            }
        }
    }
    if (lines > kFaultLinesPerPoll)
        log_warn("iommu: %zu more events not shown (%llu faults blocked since boot)", lines - kFaultLinesPerPoll,
                 (unsigned long long)g_faults);
    if (lines) {
        if (image_checksum() == g_image_checksum)
            log_info("iommu: Vireo's code and read-only data are unchanged");
        else
            log_error("iommu: Vireo's code or read-only data CHANGED since boot");
        if (lost) log_warn("iommu: %llu event log overflows since boot", (unsigned long long)lost);
    }
}

namespace {

bool map_tables(Domain& dom0, const char** error) {
    if (!g_tables.create()) {
        *error = "out of memory for its I/O page tables";
        return false;
    }
    const PageAttributes rw{.writable = true};
    for (usize i = 0; i < dom0.memory.range_count(); ++i) {
        const GuestRamRange& r = dom0.memory.range(i);
        if (!g_tables.map(r.gpa, r.gpa, r.bytes, rw)) {
            *error = "out of memory for its I/O page tables";
            return false;
        }
    }
    // Memory the firmware says devices reach untranslated (IVMD unity ranges).
    for (usize i = 0; i < g_ivrs.memory_count; ++i) {
        const IvrsMemory& m = g_ivrs.memory[i];
        if (!m.unity && !m.exclusion) continue;
        const PhysAddr start = align_down(m.start, kPageSize);
        const u64 bytes = align_up(m.start + m.length, kPageSize) - start;
        if (!g_tables.map(start, start, bytes, {.writable = m.writable || m.exclusion})) {
            *error = "out of memory for its I/O page tables";
            return false;
        }
        log_info("iommu: %#llx-%#llx stays reachable by DMA, as the firmware asks (IVMD)", (unsigned long long)start,
                 (unsigned long long)(start + bytes - 1));
    }
    return true;
}

}  // namespace

void dma_protection_init(const AcpiInfo& acpi, HostPhysicalPolicy& policy) {
    const AcpiTableRef* ivrs = find_acpi_table(acpi, "IVRS");
    if (!ivrs) {
        if (find_acpi_table(acpi, "DMAR"))
            log_warn("iommu: the machine has an Intel VT-d IOMMU (DMAR), which Vireo does not drive yet");
        return;
    }
    const auto* bytes = static_cast<const u8*>(map_firmware(ivrs->address, ivrs->length));
    if (!bytes || !parse_ivrs(bytes, ivrs->length, g_ivrs)) {
        log_error("iommu: %s; the AMD IOMMUs stay unused", bytes ? g_ivrs.error : "cannot map the IVRS table");
        g_ivrs.iommu_count = 0;
        return;
    }
    for (usize i = 0; i < g_ivrs.iommu_count; ++i) {
        const IvrsIommu& found = g_ivrs.iommus[i];
        if (found.segment != 0) {
            // Domain-0's PCI mediator serves segment 0 alone (one ECAM window).
            log_warn("iommu: the AMD-Vi of PCI segment %u is not used", found.segment);
            continue;
        }
        const u64 size = register_bytes(found);
        auto* mmio = static_cast<volatile u64*>(map_device(found.base_address, size));
        auto* registers = mmio ? new (kNoThrow) MappedRegisters(mmio) : nullptr;
        auto* unit = registers ? new (kNoThrow) AmdViUnit(*registers, g_frames) : nullptr;
        if (!unit) {
            delete registers;
            log_error("iommu: cannot map the AMD-Vi at %#llx", (unsigned long long)found.base_address);
            continue;
        }
        policy.deny(found.base_address, found.base_address + size, "an IOMMU");
        g_iommus[g_iommu_count++] = {found, registers, unit, map_pci_status(acpi, found.device_id)};
        log_info("iommu: AMD-Vi at %#llx, PCI %02x:%02x.%u (IVHD type %#x), taken by Vireo",
                 (unsigned long long)found.base_address, found.device_id >> 8, (found.device_id >> 3) & 31,
                 found.device_id & 7, found.block_type);
    }
}

bool dma_protection_keeps_function(u16 bdf) {
    for (usize i = 0; i < g_iommu_count; ++i)
        if (g_iommus[i].found.device_id == bdf) return true;
    return false;
}

bool dma_protection_attach(Domain& dom0, const char** error) {
    if (g_iommu_count == 0) {
        log_warn("iommu: none in use: DMA from Domain-0's devices is not contained (they can reach all of memory)");
        return true;
    }
    if (g_dom0) {
        *error = "its devices' DMA is confined already";
        return false;
    }
    if (!map_tables(dom0, error)) {
        g_tables.release();
        return false;
    }
    for (usize i = 0; i < g_iommu_count; ++i) {
        Iommu& iommu = g_iommus[i];
        took_target_abort(iommu);  // what the firmware's use left
        if (!iommu.unit->enable(g_tables.root(), kDom0IommuDomain, error)) {
            log_error("iommu: the AMD-Vi at %#llx: %s", (unsigned long long)iommu.found.base_address, *error);
            for (usize j = 0; j < i; ++j) g_iommus[j].unit->disable();
            g_tables.release();
            *error = "an IOMMU could not be set up";
            return false;
        }
    }
    g_image_checksum = image_checksum();
    g_dom0 = &dom0;
    log_info("iommu: DMA of Domain-0's devices confined to its %llu MiB of RAM (%zu IOMMU%s, %llu KiB of tables)",
             (unsigned long long)(dom0.memory.size() / MiB), g_iommu_count, g_iommu_count == 1 ? "" : "s",
             (unsigned long long)(g_frames.pages() * kPageSize / KiB));
    g_poll_timer.callback = poll_events;
    timer_arm(g_poll_timer, 0, uptime_us() + kPollIntervalUs);
    return true;
}

void dma_protection_detach(Domain& dom0) {
    if (g_dom0 != &dom0) return;
    IrqLockGuard guard(g_lock);
    // Its RAM goes back to the host: nothing of it stays reachable by DMA.
    for (usize i = 0; i < dom0.memory.range_count(); ++i) {
        const GuestRamRange& r = dom0.memory.range(i);
        g_tables.unmap(r.gpa, r.bytes);
    }
    for (usize i = 0; i < g_iommu_count; ++i)
        if (!g_iommus[i].unit->flush_domain(kDom0IommuDomain))
            log_error("iommu: the AMD-Vi at %#llx did not confirm its flush",
                      (unsigned long long)g_iommus[i].found.base_address);
    g_dom0 = nullptr;
}
