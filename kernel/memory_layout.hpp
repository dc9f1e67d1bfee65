// Where things live in the hypervisor's virtual address space (its own page tables,
// built by mm/kernel_address_space.cpp):
//   0xffff800000000000  direct map of physical memory (RAM and ACPI areas), RW, NX
//   0xffffc00000000000  device and firmware window: MMIO (uncached) and firmware
//                       tables outside RAM, mapped on demand, NX
//   0xffffe00000000000  kernel stacks (per CPU, and the #DF/NMI/#MC stacks), RW, NX,
//                       each above an unmapped guard page: an overflow faults
//   0xffffffff80000000  the hypervisor image (linker.ld): text RX, rodata R, data RW
// Nothing is mapped in the lower half: a null or user-half pointer faults.
#pragma once

#include "kernel/types.hpp"

inline constexpr VirtAddr kDirectMapBase = 0xffff800000000000ull;
inline constexpr VirtAddr kDeviceWindowBase = 0xffffc00000000000ull;
inline constexpr u64 kDeviceWindowSize = 64 * GiB;
inline constexpr VirtAddr kStackAreaBase = 0xffffe00000000000ull;
inline constexpr u64 kStackAreaSize = 1 * GiB;
inline constexpr VirtAddr kKernelImageBase = 0xffffffff80000000ull;

// Before the final tables exist, boot/entry32.S maps the low 4 GiB at the direct-map
// base, so these conversions are valid from the first line of kernel_main for memory
// below 4 GiB, and for all RAM once mm/ has switched to its own tables.
template <typename T = void>
inline T* phys_to_virt(PhysAddr pa) {
    return reinterpret_cast<T*>(kDirectMapBase + pa);
}
inline PhysAddr direct_map_to_phys(const void* p) { return reinterpret_cast<VirtAddr>(p) - kDirectMapBase; }
inline PhysAddr kernel_image_to_phys(const void* p) { return reinterpret_cast<VirtAddr>(p) - kKernelImageBase; }
