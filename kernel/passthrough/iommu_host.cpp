#include "kernel/passthrough/iommu_host.hpp"

#include "kernel/passthrough/hardware_domain.hpp"

namespace {

HostFrames g_frames;
constexpr usize kMaxReserved = 16;
ReservedDmaRange g_reserved[kMaxReserved];
usize g_reserved_count = 0;

}  // namespace

HostFrames& iommu_frames() { return g_frames; }

void iommu_reserve_range(PhysAddr start, PhysAddr end, bool writable) {
    if (g_reserved_count == kMaxReserved) {
        log_error("iommu: more reserved ranges than Vireo holds; %#llx-%#llx is left out", (unsigned long long)start,
                  (unsigned long long)end - 1);
        return;
    }
    g_reserved[g_reserved_count++] = {align_down(start, kPageSize), align_up(end, kPageSize), writable};
}

usize iommu_reserved_count() { return g_reserved_count; }

const ReservedDmaRange& iommu_reserved(usize index) { return g_reserved[index]; }

u64 iommu_address_end(const Domain& dom0) {
    u64 end = dom0.memory.end();
    for (usize i = 0; i < g_reserved_count; ++i) end = g_reserved[i].end > end ? g_reserved[i].end : end;
    return end;
}

bool iommu_reserved_range_allowed(const Domain& dom0, const ReservedDmaRange& r) {
    // Firmware reserves such ranges outside the RAM it reports usable; one that holds host
    // RAM (Vireo's, another domain's) is refused rather than opened to DMA.
    if (passthrough_policy().allowed(r.start, r.end) || dom0.memory.contains(r.start, r.end - r.start)) return true;
    log_error("iommu: the firmware asks DMA to reach %#llx-%#llx, which holds host RAM or Vireo's devices; refused",
              (unsigned long long)r.start, (unsigned long long)(r.end - 1));
    return false;
}

PhysAddr alloc_interrupt_table() { return g_frames.alloc(1); }
