#include "kernel/passthrough/dma_protection.hpp"

#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/dma_remapping.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/iommu_host.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"

extern "C" const u8 __image_start_phys[], __image_end_phys[];
extern "C" const u8 __text_start[], __rodata_end[];

namespace {

// How often the fault logs are read. A fault is logged within this much of happening.
constexpr u64 kPollIntervalUs = 100'000;

SpinLock g_lock;
DmaRemapping* g_remapping = nullptr;  // the machine's IOMMUs, of one vendor
Domain* g_dom0 = nullptr;
Timer g_poll_timer;
u64 g_image_checksum = 0;  // 0 until the IOMMUs were set up
u64 g_faults = 0;
u64 g_overflows_reported = 0;

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

// Whether Vireo's code and read-only data are what they were when the IOMMUs were set up.
const char* image_state() { return image_checksum() == g_image_checksum ? "unchanged" : "CHANGED since boot"; }

const char* what_is_at(const Domain* dom0, PhysAddr address) {
    const PhysAddr image_start = reinterpret_cast<PhysAddr>(__image_start_phys);
    const PhysAddr image_end = reinterpret_cast<PhysAddr>(__image_end_phys);
    if (address >= image_start && address < image_end) return "Vireo's image";
    if (dom0 && dom0->memory.contains(address, 1)) return "Domain-0's RAM";
    return "memory that is not Domain-0's";
}

void poll_events(Timer& timer, u64 now_us) {
    dma_protection_report_events();
    timer_arm(timer, 0, now_us + kPollIntervalUs);
}

}  // namespace

void DmaFaultLog::fault(u16 id, bool write, u64 address, const char* detail) {
    ++faults_;
    if (!line()) return;
    log_warn("iommu: blocked a DMA %s by %02x:%02x.%u to %#llx (%s)%s%s", write ? "write" : "read", id >> 8,
             (id >> 3) & 31, id & 7, (unsigned long long)address, what_is_at(dom0_, address), detail ? ": " : "",
             detail ? detail : "");
}

bool DmaFaultLog::unnamed_fault() {
    ++faults_;
    return line();
}

void dma_protection_init(const AcpiInfo& acpi, HostPhysicalPolicy& policy) {
    if (const AcpiTableRef* ivrs = find_acpi_table(acpi, "IVRS"))
        g_remapping = amd_vi_remapping_take(acpi, *ivrs, policy);
    if (!g_remapping)
        if (const AcpiTableRef* dmar = find_acpi_table(acpi, "DMAR")) g_remapping = vtd_remapping_take(*dmar, policy);
}

bool dma_protection_keeps_function(u16 bdf) { return g_remapping && g_remapping->keeps_function(bdf); }

bool dma_protection_attach(Domain& dom0, const char** error) {
    if (!g_remapping) {
        log_warn("iommu: none in use: DMA from Domain-0's devices is not contained (they can reach all of memory)");
        return true;
    }
    if (g_dom0) {
        *error = "its devices' DMA is confined already";
        return false;
    }
    const char* why = nullptr;
    if (!g_remapping->enable(dom0, &why)) {
        log_error("iommu: the %s units cannot confine Domain-0's DMA: %s", g_remapping->name(), why);
        *error = "an IOMMU could not be set up";
        return false;
    }
    g_image_checksum = image_checksum();
    g_dom0 = &dom0;
    const usize units = g_remapping->unit_count();
    log_info("iommu: DMA of Domain-0's devices confined to its %llu MiB of RAM (%zu %s unit%s, %llu KiB of tables)",
             (unsigned long long)(dom0.memory.size() / MiB), units, g_remapping->name(), units == 1 ? "" : "s",
             (unsigned long long)(iommu_frames().pages() * kPageSize / KiB));
    if (g_remapping->remaps_interrupts())
        log_info("iommu: their MSIs are remapped: each raises only the vector Vireo gave it (%u entries)%s",
                 kHostMsiVectorCount, g_remapping->remapping_also());
    else
        log_warn("iommu: their MSIs are not remapped: a device can raise any vector on the host");
    g_poll_timer.callback = poll_events;
    timer_arm(g_poll_timer, 0, uptime_us() + kPollIntervalUs);
    return true;
}

bool dma_protection_msi_message(u32 index, u64& address, u32& data) {
    return g_remapping && g_remapping->msi_message(index, address, data);
}

bool dma_protection_ioapic_entry(u32 gsi, u8 vector, bool level, u16& handle) {
    if (!g_remapping) return false;
    IrqLockGuard guard(g_lock);
    return g_remapping->ioapic_entry(gsi, vector, level, handle);
}

void dma_protection_report_events() {
    if (!g_remapping) return;
    DmaFaultLog log(g_dom0);
    {
        IrqLockGuard guard(g_lock);
        g_remapping->take_faults(log);
        g_faults += log.faults();
    }
    if (log.lines() > DmaFaultLog::kLinesPerLook)
        log_warn("iommu: %zu more faults not shown (%llu blocked since boot)", log.lines() - DmaFaultLog::kLinesPerLook,
                 (unsigned long long)g_faults);
    // A full fault log drops faults (a unit with one fault recording register drops every
    // one after the first until it is read), so an overflow alone is news too.
    const bool new_overflows = log.overflows() != g_overflows_reported;
    g_overflows_reported = log.overflows();
    if (new_overflows) log_warn("iommu: %llu fault log overflows since boot", (unsigned long long)log.overflows());
    if (log.lines() || new_overflows) {
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
    g_remapping->revoke(dom0);
    g_dom0 = nullptr;
}
