#include "kernel/vm/firmware/protected_mode_boot.hpp"

bool write_protected_mode_boot_structures(GuestPhysicalMemory& memory, LongModeState& out) {
    if (!write_boot_gdt(memory, kBootCode32Descriptor)) return false;
    out = {};
    out.cr0 = kCr0Pe | kCr0Et | kCr0Ne;
    out.rflags = kRflagsReserved1;
    set_boot_segments(out, kBootCode32AccessRights);
    return true;
}
