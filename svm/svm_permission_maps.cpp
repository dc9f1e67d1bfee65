#include "svm/svm_permission_maps.hpp"

#include <string.h>

#include "kernel/memory_layout.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/x86/msr.hpp"
#include "mm/kernel_address_space.hpp"

namespace svm {

namespace {

PermissionMaps g_maps;
bool g_built = false;
SpinLock g_lock;

// The MSRs a guest may read and write directly: VMRUN/VMLOAD/VMSAVE switch their values
// between guests and host (APM 15.5.2), so they need no emulation.
constexpr u32 kPassThrough[] = {
    0x174,
    0x175,
    0x176,  // SYSENTER_CS/ESP/EIP
    0xc0000081,
    0xc0000082,  // STAR, LSTAR
    0xc0000083,
    0xc0000084,  // CSTAR, SFMASK
    msr_index(Msr::FsBase),
    msr_index(Msr::GsBase),
    msr_index(Msr::KernelGsBase),
};

// The MSRPM covers three 8 K-MSR ranges at byte offsets 0, 0x800 and 0x1000 (APM 15.11).
bool msr_bit_offset(u32 msr, u64& bit) {
    if (msr <= 0x1fff)
        bit = u64(msr) * 2;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
        bit = 0x800ull * 8 + u64(msr - 0xc0000000) * 2;
    else if (msr >= 0xc0010000 && msr <= 0xc0011fff)
        bit = 0x1000ull * 8 + u64(msr - 0xc0010000) * 2;
    else
        return false;
    return true;
}

}  // namespace

const PermissionMaps* permission_maps() {
    IrqLockGuard guard(g_lock);
    if (g_built) return &g_maps;
    const PhysAddr io = frame_alloc(3);
    const PhysAddr msr = frame_alloc(2);
    if (io == kNoPhysFrame || msr == kNoPhysFrame) {
        if (io != kNoPhysFrame) frame_free(io, 3);
        if (msr != kNoPhysFrame) frame_free(msr, 2);
        return nullptr;
    }
    memset(phys_to_virt(io), 0xff, 3 * kPageSize);
    auto* msr_bits = phys_to_virt<u8>(msr);
    memset(msr_bits, 0xff, 2 * kPageSize);
    for (u32 index : kPassThrough) {
        u64 bit;
        if (!msr_bit_offset(index, bit)) continue;
        msr_bits[bit / 8] &= u8(~(3u << (bit % 8)));  // read and write bits
    }
    g_maps = {io, msr};
    g_built = true;
    return &g_maps;
}

}  // namespace svm
