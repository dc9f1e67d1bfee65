#include "kernel/vm/firmware/protected_mode_boot.hpp"

#include "kernel/vm/firmware/guest_memory_writer.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace {

GuestSegment flat(u16 selector, u32 access_rights) { return {selector, 0, 0xFFFFFFFFu, access_rights}; }

}  // namespace

bool write_protected_mode_boot_structures(GuestPhysicalMemory& memory, LongModeState& out) {
    GuestMemoryWriter w(memory, kGuestBootGdtGpa);
    w.u64_le(0);  // 0x00: null
    w.u64_le(0);  // 0x08: unused, as in the 64-bit GDT
    w.u64_le(kBootCode32Descriptor);
    w.u64_le(kBootDataDescriptor);
    if (!w.ok()) return false;
    out = {};
    out.cr0 = kCr0Pe | kCr0Et | kCr0Ne;
    out.rflags = kRflagsReserved1;
    out.gdt_base = kGuestBootGdtGpa;
    out.gdt_limit = kBootGdtEntries * 8 - 1;
    out.cs = flat(kBootCodeSelector, kBootCode32AccessRights);
    out.ds = out.es = out.ss = out.fs = out.gs = flat(kBootDataSelector, kBootDataAccessRights);
    return true;
}
