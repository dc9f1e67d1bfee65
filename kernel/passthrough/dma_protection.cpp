#include "kernel/passthrough/dma_protection.hpp"

#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/acpi/dmar.hpp"
#include "drivers/acpi/ivrs.hpp"
#include "drivers/iommu/amd_vi.hpp"
#include "drivers/iommu/vtd.hpp"
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/host_physical_policy.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"
#include "mm/amd_vi_format.hpp"
#include "mm/ept_format.hpp"
#include "mm/kernel_address_space.hpp"

extern "C" const u8 __image_start_phys[], __image_end_phys[];
extern "C" const u8 __text_start[], __rodata_end[];

namespace {

// The registers of one IOMMU, mapped uncached.
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

// Host frames for the IOMMUs' own structures and for the I/O page tables.
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

// The domain ID Domain-0's devices translate as in every IOMMU (it tags cached
// translations; a nonzero one is easier to tell in a dump).
constexpr u16 kDom0IommuDomain = 1;
// How often the fault logs are read. A fault is logged within this much of happening.
constexpr u64 kPollIntervalUs = 100'000;
// Faults reported one by one in each poll; the rest are counted.
constexpr usize kFaultLinesPerPoll = 8;

// PCI Local Bus 3.0, 6.2.3: the status register at 06h; Signaled Target Abort (bit 11)
// is write-1-to-clear.
constexpr u32 kPciStatus = 0x06;
constexpr u16 kSignaledTargetAbort = 1u << 11;

enum class Vendor : u8 { None, Amd, Intel };

struct Iommu {
    PhysAddr base = 0;
    u16 device_id = 0;  // AMD: its own PCI function
    MappedRegisters* registers = nullptr;
    AmdViUnit* amd = nullptr;
    VtdUnit* intel = nullptr;
    // AMD: its PCI function's status register (in the ECAM window), or null without MCFG.
    volatile u16* pci_status = nullptr;
};

// Memory the firmware says devices must keep reaching (IVMD unity ranges, RMRRs).
struct ReservedRange {
    PhysAddr start, end;  // page aligned
    bool writable;
};
constexpr usize kMaxReserved = 16;

SpinLock g_lock;
Vendor g_vendor = Vendor::None;
Iommu g_iommus[8];
usize g_iommu_count = 0;
ReservedRange g_reserved[kMaxReserved];
usize g_reserved_count = 0;
// Interrupt remapping: the AMD IOMMUs' shared table (entry i sends host MSI vector
// kHostMsiVectorBase + i to the boot CPU), and the device IDs whose interrupts pass (the
// I/O APICs and HPETs of the IVRS, which Vireo programs itself).
constexpr u8 kAmdInterruptTableLength = 7;  // 128 entries, past kHostMsiVectorCount
static_assert((1u << kAmdInterruptTableLength) >= kHostMsiVectorCount);
bool g_amd_remaps_interrupts = false;
u16 g_amd_exempt[8 * IvrsIommu::kMaxSpecial];
usize g_amd_exempt_count = 0;
PhysAddr g_interrupt_table = IommuMemory::kNone;
bool g_msi_remapped = false;
// VT-d: one table of 256 IRTEs for every unit: entries 0-0x4f the host MSI vectors (as on
// AMD-Vi), entries 0x80 + GSI the I/O APIC lines, written when Domain-0 programs them
// (their trigger mode is Domain-0's to say).
constexpr u8 kVtdInterruptTableSize = 7;  // IRTA.S: 2^(7+1) entries, one page
constexpr u16 kVtdIoapicEntries = 0x80;
static_assert(kVtdIoapicEntries >= kHostMsiVectorCount && kVtdIoapicEntries + kHostGsiCount <= 256);
HostFrames g_frames;
// One set of tables in the format of the machine's IOMMUs.
PageTableBuilder<AmdViFormat, HostFrames> g_amd_tables{g_frames, /*huge_pages=*/false};
PageTableBuilder<EptFormat, HostFrames> g_intel_tables{g_frames, /*huge_pages=*/false};
Domain* g_dom0 = nullptr;
Timer g_poll_timer;
u64 g_image_checksum = 0;
u64 g_faults = 0;

const char* vendor_name() { return g_vendor == Vendor::Amd ? "AMD-Vi" : "VT-d"; }

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

// Whether the AMD IOMMU's function signalled a target abort since the last look
// (cleared). An AMD IOMMU aborts a request it refuses; QEMU 7.2's model records no event
// for it (hw/i386/amd_iommu.c: its amdvi_test_mask is always true, so amdvi_log_event
// never writes), and this bit (which its amdvi_page_fault sets) is then all that tells.
bool took_target_abort(Iommu& iommu) {
    if (!iommu.pci_status || !(*iommu.pci_status & kSignaledTargetAbort)) return false;
    *iommu.pci_status = kSignaledTargetAbort;
    return true;
}

void report_fault(usize& lines, u16 id, bool write, u64 address, const char* detail) {
    ++g_faults;
    if (lines++ >= kFaultLinesPerPoll) return;
    log_warn("iommu: blocked a DMA %s by %02x:%02x.%u to %#llx (%s)%s%s", write ? "write" : "read", id >> 8,
             (id >> 3) & 31, id & 7, (unsigned long long)address, what_is_at(address), detail ? ": " : "",
             detail ? detail : "");
}

void take_amd_faults(Iommu& iommu, usize& lines, u64& lost) {
    const usize events = iommu.amd->take_events([&](const AmdViEvent& e) {
        const u16 id = e.device_id;
        if (e.code == AmdViEvent::IoPageFault) return report_fault(lines, id, e.write, e.address, nullptr);
        if (lines++ < kFaultLinesPerPoll)
            log_warn("iommu: the AMD-Vi at %#llx reports %s (device %02x:%02x.%u, address %#llx)",
                     (unsigned long long)iommu.base, e.what(), id >> 8, (id >> 3) & 31, id & 7,
                     (unsigned long long)e.address);
    });
    lost += iommu.amd->lost_events();
    if (took_target_abort(iommu) && events == 0) {
        ++lines;
        ++g_faults;
        log_warn("iommu: the AMD-Vi at %#llx blocked a DMA (a target abort; its event log names no device)",
                 (unsigned long long)iommu.base);
    }
}

void take_intel_faults(Iommu& iommu, usize& lines, u64& lost) {
    iommu.intel->take_faults(
        [&](const VtdFault& f) { report_fault(lines, f.source_id, f.write, f.address, f.what()); });
    lost += iommu.intel->lost_faults();
}

void poll_events(Timer& timer, u64 now_us) {
    dma_protection_report_events();
    timer_arm(timer, 0, now_us + kPollIntervalUs);
}

bool add_reserved(PhysAddr start, PhysAddr end, bool writable) {
    if (g_reserved_count == kMaxReserved) return false;
    g_reserved[g_reserved_count++] = {align_down(start, kPageSize), align_up(end, kPageSize), writable};
    return true;
}

// Domain-0's RAM at the same addresses, and the firmware's reserved ranges.
template <typename Tables>
bool map_tables(Tables& tables, Domain& dom0, bool large_pages, const char** error) {
    *error = "out of memory for its I/O page tables";
    if (!tables.create()) return false;
    const PageAttributes rw{.writable = true, .executable = false};
    for (usize i = 0; i < dom0.memory.range_count(); ++i) {
        const GuestRamRange& r = dom0.memory.range(i);
        if (!tables.map(r.gpa, r.gpa, r.bytes, rw, large_pages)) return false;
    }
    for (usize i = 0; i < g_reserved_count; ++i) {
        const ReservedRange& r = g_reserved[i];
        // Firmware reserves such ranges outside the RAM it reports usable; one that holds
        // host RAM (Vireo's, another domain's) is refused rather than opened to DMA.
        if (!passthrough_policy().allowed(r.start, r.end) && !dom0.memory.contains(r.start, r.end - r.start)) {
            log_error(
                "iommu: the firmware asks DMA to reach %#llx-%#llx, which holds host RAM or Vireo's devices; "
                "refused",
                (unsigned long long)r.start, (unsigned long long)(r.end - 1));
            continue;
        }
        if (!tables.map(r.start, r.start, r.end - r.start, {.writable = r.writable}, large_pages)) return false;
        log_info("iommu: %#llx-%#llx stays reachable by DMA, as the firmware asks", (unsigned long long)r.start,
                 (unsigned long long)(r.end - 1));
    }
    *error = nullptr;
    return true;
}

// The unit whose `size` bytes of registers are at `base`, mapped and kept from Domain-0;
// null (logged) when they cannot be mapped.
template <typename Unit>
Unit* take_unit(PhysAddr base, u64 size, HostPhysicalPolicy& policy, MappedRegisters*& registers) {
    auto* mmio = static_cast<volatile u8*>(map_device(base, size));
    registers = mmio ? new (kNoThrow) MappedRegisters(mmio) : nullptr;
    auto* unit = registers ? new (kNoThrow) Unit(*registers, g_frames) : nullptr;
    if (!unit) {
        delete registers;
        log_error("iommu: cannot map the registers at %#llx", (unsigned long long)base);
        return nullptr;
    }
    policy.deny(base, base + size, "an IOMMU");
    return unit;
}

void init_amd(const AcpiInfo& acpi, const AcpiTableRef& table, HostPhysicalPolicy& policy) {
    const auto* bytes = static_cast<const u8*>(map_firmware(table.address, table.length));
    static IvrsInfo ivrs;
    if (!bytes || !parse_ivrs(bytes, table.length, ivrs)) {
        log_error("iommu: %s; the AMD IOMMUs stay unused", bytes ? ivrs.error : "cannot map the IVRS table");
        return;
    }
    for (usize i = 0; i < ivrs.memory_count; ++i) {
        const IvrsMemory& m = ivrs.memory[i];
        if ((m.unity || m.exclusion) && !add_reserved(m.start, m.start + m.length, m.writable || m.exclusion))
            log_error("iommu: more reserved ranges than Vireo holds; one is left out");
    }
    for (usize i = 0; i < ivrs.iommu_count && g_iommu_count < sizeof g_iommus / sizeof g_iommus[0]; ++i) {
        const IvrsIommu& found = ivrs.iommus[i];
        if (found.segment != 0) {
            // Domain-0's PCI mediator serves segment 0 alone (one ECAM window).
            log_warn("iommu: the AMD-Vi of PCI segment %u is not used", found.segment);
            continue;
        }
        // 16 KiB of registers, 512 KiB with performance counters (48882 3.4: the counter
        // banks from offset 0x40000; EFR PCSup, bit 9).
        const u64 size = (found.extended_features & (1ull << 9)) ? 512 * KiB : 16 * KiB;
        MappedRegisters* registers = nullptr;
        auto* unit = take_unit<AmdViUnit>(found.base_address, size, policy, registers);
        if (!unit) continue;
        // The firmware lists the I/O APICs whose interrupts reach the IOMMU when it can
        // remap interrupts (QEMU only with intremap=on; Linux requires the same).
        for (usize j = 0; j < found.special_count && g_amd_exempt_count < sizeof g_amd_exempt / 2; ++j) {
            g_amd_exempt[g_amd_exempt_count++] = found.special[j].device_id;
            if (found.special[j].variety == IvrsSpecialDevice::kIoApic) g_amd_remaps_interrupts = true;
        }
        Iommu& iommu = g_iommus[g_iommu_count++];
        iommu = {found.base_address, found.device_id, registers, unit, nullptr, map_pci_status(acpi, found.device_id)};
        g_vendor = Vendor::Amd;
        log_info("iommu: AMD-Vi at %#llx, PCI %02x:%02x.%u (IVHD type %#x), taken by Vireo",
                 (unsigned long long)found.base_address, found.device_id >> 8, (found.device_id >> 3) & 31,
                 found.device_id & 7, found.block_type);
    }
}

void init_intel(const AcpiTableRef& table, HostPhysicalPolicy& policy) {
    const auto* bytes = static_cast<const u8*>(map_firmware(table.address, table.length));
    static DmarInfo dmar;
    if (!bytes || !parse_dmar(bytes, table.length, dmar)) {
        log_error("iommu: %s; the VT-d units stay unused", bytes ? dmar.error : "cannot map the DMAR table");
        return;
    }
    for (usize i = 0; i < dmar.reserved_count; ++i) {
        const DmarReservedMemory& r = dmar.reserved[i];
        if (r.segment == 0 && !add_reserved(r.base, r.limit + 1, true))
            log_error("iommu: more reserved ranges than Vireo holds; one is left out");
    }
    for (usize i = 0; i < dmar.unit_count && g_iommu_count < sizeof g_iommus / sizeof g_iommus[0]; ++i) {
        const DmarUnit& found = dmar.units[i];
        if (found.segment != 0) {
            log_warn("iommu: the VT-d unit of PCI segment %u is not used", found.segment);
            continue;
        }
        // The registers take a page (VT-d 10.4); the fault recording and IOTLB registers
        // lie inside it on every unit Vireo knows (their offsets are checked at enable).
        MappedRegisters* registers = nullptr;
        auto* unit = take_unit<VtdUnit>(found.register_base, kPageSize, policy, registers);
        if (!unit) continue;
        Iommu& iommu = g_iommus[g_iommu_count++];
        iommu = {found.register_base, 0, registers, nullptr, unit, nullptr};
        g_vendor = Vendor::Intel;
        log_info("iommu: VT-d at %#llx (version %#x)%s, taken by Vireo", (unsigned long long)found.register_base,
                 registers->read32(VtdUnit::kVersion), found.include_pci_all ? ", every PCI device" : "");
    }
}

bool enable_units(Domain& dom0, const char** error) {
    if (g_vendor == Vendor::Amd) {
        if (!map_tables(g_amd_tables, dom0, true, error)) return false;
        AmdViInterrupts interrupts{0, kAmdInterruptTableLength, g_amd_exempt, g_amd_exempt_count};
        if (g_amd_remaps_interrupts) {
            g_interrupt_table = g_frames.alloc(1);
            if (g_interrupt_table == IommuMemory::kNone) {
                *error = "out of memory for its interrupt remapping table";
                return false;
            }
            auto* entries = static_cast<u32*>(g_frames.pointer(g_interrupt_table));
            for (u32 i = 0; i < kHostMsiVectorCount; ++i)
                entries[i] = amd_vi_irte(u8(kHostMsiVectorBase + i), u8(percpu(0).apic_id));
            interrupts.table = g_interrupt_table;
        }
        for (usize i = 0; i < g_iommu_count; ++i) {
            took_target_abort(g_iommus[i]);  // what the firmware's use left
            if (!g_iommus[i].amd->enable(g_amd_tables.root(), kDom0IommuDomain,
                                         g_amd_remaps_interrupts ? &interrupts : nullptr, error))
                return false;
        }
        g_msi_remapped = g_amd_remaps_interrupts;
        return true;
    }
    // VT-d: 2 MiB pages where every unit has them; a 3-level unit walks the table below
    // the first PML4 entry (everything mapped lies below 512 GiB then: can_translate).
    bool large_pages = true;
    u64 end = dom0.memory.end();
    for (usize i = 0; i < g_reserved_count; ++i) end = g_reserved[i].end > end ? g_reserved[i].end : end;
    for (usize i = 0; i < g_iommu_count; ++i) {
        if (!g_iommus[i].intel->can_translate(end, error)) return false;
        large_pages = large_pages && g_iommus[i].intel->has_2mib_pages();
    }
    if (!map_tables(g_intel_tables, dom0, large_pages, error)) return false;
    const PhysAddr root = g_intel_tables.root();
    const PhysAddr root_3level = EptFormat::table_address(g_frames.table(root)[0]);
    bool remap = true;
    for (usize i = 0; i < g_iommu_count; ++i) remap = remap && g_iommus[i].intel->can_remap_interrupts();
    VtdInterrupts interrupts{0, kVtdInterruptTableSize};
    if (remap) {
        g_interrupt_table = g_frames.alloc(1);
        if (g_interrupt_table == IommuMemory::kNone) {
            *error = "out of memory for its interrupt remapping table";
            return false;
        }
        auto* entries = static_cast<u64*>(g_frames.pointer(g_interrupt_table));
        for (u32 i = 0; i < kHostMsiVectorCount; ++i)
            entries[2 * usize(i)] = vtd_irte_low(u8(kHostMsiVectorBase + i), u8(percpu(0).apic_id), false);
        interrupts.table = g_interrupt_table;
    }
    for (usize i = 0; i < g_iommu_count; ++i)
        if (!g_iommus[i].intel->enable(root, root_3level, kDom0IommuDomain, remap ? &interrupts : nullptr, error))
            return false;
    g_msi_remapped = remap;
    return true;
}

void disable_units() {
    for (usize i = 0; i < g_iommu_count; ++i) {
        if (g_iommus[i].amd) g_iommus[i].amd->disable();
        if (g_iommus[i].intel) g_iommus[i].intel->disable();
    }
    g_amd_tables.release();
    g_intel_tables.release();
    if (g_interrupt_table != IommuMemory::kNone) g_frames.free(g_interrupt_table, 1);
    g_interrupt_table = IommuMemory::kNone;
    g_msi_remapped = false;
}

}  // namespace

void dma_protection_init(const AcpiInfo& acpi, HostPhysicalPolicy& policy) {
    if (const AcpiTableRef* ivrs = find_acpi_table(acpi, "IVRS")) init_amd(acpi, *ivrs, policy);
    if (g_iommu_count == 0)
        if (const AcpiTableRef* dmar = find_acpi_table(acpi, "DMAR")) init_intel(*dmar, policy);
}

bool dma_protection_keeps_function(u16 bdf) {
    for (usize i = 0; i < g_iommu_count; ++i)
        if (g_iommus[i].amd && g_iommus[i].device_id == bdf) return true;
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
    const char* why = nullptr;
    if (!enable_units(dom0, &why)) {
        log_error("iommu: the %s units cannot confine Domain-0's DMA: %s", vendor_name(), why);
        disable_units();
        *error = "an IOMMU could not be set up";
        return false;
    }
    g_image_checksum = image_checksum();
    g_dom0 = &dom0;
    log_info("iommu: DMA of Domain-0's devices confined to its %llu MiB of RAM (%zu %s unit%s, %llu KiB of tables)",
             (unsigned long long)(dom0.memory.size() / MiB), g_iommu_count, vendor_name(),
             g_iommu_count == 1 ? "" : "s", (unsigned long long)(g_frames.pages() * kPageSize / KiB));
    if (g_msi_remapped && g_vendor == Vendor::Intel)
        log_info(
            "iommu: their MSIs are remapped: each raises only the vector Vireo gave it (%u entries); so are the "
            "I/O APIC's lines, and interrupts of the compatibility format are blocked",
            kHostMsiVectorCount);
    else if (g_msi_remapped)
        log_info("iommu: their MSIs are remapped: each raises only the vector Vireo gave it (%u entries)",
                 kHostMsiVectorCount);
    else
        log_warn("iommu: their MSIs are not remapped: a device can raise any vector on the host");
    g_poll_timer.callback = poll_events;
    timer_arm(g_poll_timer, 0, uptime_us() + kPollIntervalUs);
    return true;
}

bool dma_protection_msi_message(u32 index, u64& address, u32& data) {
    if (!__atomic_load_n(&g_msi_remapped, __ATOMIC_ACQUIRE) || index >= kHostMsiVectorCount) return false;
    if (g_vendor == Vendor::Intel) {
        // VT-d 5.1.5.2: the remappable format names the entry in the address.
        address = vtd_msi_address(u16(index));
        data = 0;
        return true;
    }
    // AMD-Vi (48882 2.2.5): any address in the interrupt range; the data's bits 10:0 pick
    // the entry.
    address = 0xfee00000ull;
    data = index;
    return true;
}

bool dma_protection_ioapic_entry(u32 gsi, u8 vector, bool level, u16& handle) {
    if (g_vendor != Vendor::Intel || !__atomic_load_n(&g_msi_remapped, __ATOMIC_ACQUIRE) || gsi >= kHostGsiCount)
        return false;
    handle = u16(kVtdIoapicEntries + gsi);
    IrqLockGuard guard(g_lock);
    auto* entries = static_cast<u64*>(g_frames.pointer(g_interrupt_table));
    __atomic_store_n(&entries[2 * usize(handle)], vtd_irte_low(vector, u8(percpu(0).apic_id), level), __ATOMIC_RELEASE);
    for (usize i = 0; i < g_iommu_count; ++i)
        if (!g_iommus[i].intel->invalidate_interrupt_entry(handle))
            log_error("iommu: the VT-d unit at %#llx did not confirm an interrupt entry's invalidation",
                      (unsigned long long)g_iommus[i].base);
    return true;
}

namespace {

u64 g_overflows_reported = 0;

// Whether Vireo's code and read-only data are what they were when the IOMMUs were set up.
const char* image_state() { return image_checksum() == g_image_checksum ? "unchanged" : "CHANGED since boot"; }

}  // namespace

void dma_protection_report_events() {
    usize lines = 0;
    u64 overflows = 0;
    {
        IrqLockGuard guard(g_lock);
        for (usize i = 0; i < g_iommu_count; ++i) {
            Iommu& iommu = g_iommus[i];
            if (iommu.amd) take_amd_faults(iommu, lines, overflows);
            if (iommu.intel) take_intel_faults(iommu, lines, overflows);
        }
    }
    if (lines > kFaultLinesPerPoll)
        log_warn("iommu: %zu more faults not shown (%llu blocked since boot)", lines - kFaultLinesPerPoll,
                 (unsigned long long)g_faults);
    // A full fault log drops faults (a unit with one fault recording register drops every
    // one after the first until it is read), so an overflow alone is news too.
    const bool new_overflows = overflows != g_overflows_reported;
    g_overflows_reported = overflows;
    if (new_overflows) log_warn("iommu: %llu fault log overflows since boot", (unsigned long long)overflows);
    if (lines || new_overflows) {
        if (image_checksum() == g_image_checksum)
            log_info("iommu: Vireo's code and read-only data are unchanged");
        else
            log_error("iommu: Vireo's code or read-only data CHANGED since boot");
    }
}

void dma_protection_power_off_report() {
    if (g_image_checksum == 0) return;  // never set up (Domain-0 may have ended since)
    dma_protection_report_events();
    if (g_faults || g_overflows_reported)
        log_info(
            "iommu: %llu blocked DMA faults recorded since boot, %llu fault log overflows; Vireo's code and "
            "read-only data are %s",
            (unsigned long long)g_faults, (unsigned long long)g_overflows_reported, image_state());
}

void dma_protection_detach(Domain& dom0) {
    if (g_dom0 != &dom0) return;
    IrqLockGuard guard(g_lock);
    // Its RAM goes back to the host: nothing of it stays reachable by DMA.
    for (usize i = 0; i < dom0.memory.range_count(); ++i) {
        const GuestRamRange& r = dom0.memory.range(i);
        if (g_vendor == Vendor::Amd)
            g_amd_tables.unmap(r.gpa, r.bytes);
        else
            g_intel_tables.unmap(r.gpa, r.bytes);
    }
    for (usize i = 0; i < g_iommu_count; ++i) {
        Iommu& iommu = g_iommus[i];
        const bool flushed = iommu.amd ? iommu.amd->flush_domain(kDom0IommuDomain) : iommu.intel->flush();
        if (!flushed)
            log_error("iommu: the %s at %#llx did not confirm its flush", vendor_name(),
                      (unsigned long long)iommu.base);
    }
    g_dom0 = nullptr;
}
