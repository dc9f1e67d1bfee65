// Writes a structure into guest-physical memory field by field at increasing addresses,
// keeping the byte sum ACPI checksums need (ACPI 6.5 5.2.5.3, 5.2.6: all bytes of a table,
// checksum included, add up to zero). Lets firmware tables and boot_params be built in
// place, with no large buffer on the hypervisor's stack. The first refused write makes
// every later call a no-op and ok() false.
#pragma once

#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

class GuestMemoryWriter {
public:
    GuestMemoryWriter(GuestPhysicalMemory& memory, u64 gpa) : memory_(memory), position_(gpa) {}

    void bytes(const void* src, usize length);
    void zeros(usize length);
    void u8_le(u8 value) { bytes(&value, 1); }
    void u16_le(u16 value) { bytes(&value, 2); }
    void u32_le(u32 value) { bytes(&value, 4); }
    void u64_le(u64 value) { bytes(&value, 8); }
    // Writes `length` bytes at `gpa` without moving the position; they join the sum.
    void patch(u64 gpa, const void* src, usize length);

    u64 position() const { return position_; }
    u8 sum() const { return sum_; }
    void reset_sum() { sum_ = 0; }
    bool ok() const { return ok_; }

private:
    void add_to_sum(const void* src, usize length);

    GuestPhysicalMemory& memory_;
    u64 position_;
    u8 sum_ = 0;
    bool ok_ = true;
};
