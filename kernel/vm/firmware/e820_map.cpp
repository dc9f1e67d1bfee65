#include "kernel/vm/firmware/e820_map.hpp"

#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace {

void add(E820Map& map, u64 address, u64 size, u32 type) {
    if (size == 0) return;
    map.entries[map.count++] = {address, size, type};
}

}  // namespace

bool build_guest_e820(u64 ram_bytes, E820Map& out, const char** error) {
    out.count = 0;
    if (ram_bytes < kGuestMinimumRamBytes) {
        *error = "guest RAM is smaller than the 2 MiB the PC layout needs";
        return false;
    }
    if (!is_aligned(ram_bytes, kPageSize)) {
        *error = "guest RAM size is not a multiple of 4 KiB";
        return false;
    }
    // At most four entries (room for 128): the table can never overflow, and every entry
    // starts where the one before it ends or later, so the map is sorted as built.
    add(out, 0, kGuestLowRamEnd, kE820Ram);
    add(out, kGuestBiosAreaStart, kGuestBiosAreaEnd - kGuestBiosAreaStart, kE820Reserved);
    add(out, kGuestHighRamStart, guest_ram_below_4g(ram_bytes) - kGuestHighRamStart, kE820Ram);
    add(out, kGuestHighMemoryStart, guest_ram_above_4g(ram_bytes), kE820Ram);
    *error = nullptr;
    return true;
}
