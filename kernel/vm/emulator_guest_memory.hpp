// Guest memory as the instruction emulator sees it (kernel/emulator/emulator.hpp):
// linear addresses translated through the guest's own page tables (mm/guest_page_walk),
// then guest RAM where there is RAM and the device models' MMIO callbacks where there is
// none. Pure logic, shared by the hypervisor and the host tests.
#pragma once

#include "kernel/emulator/emulator.hpp"
#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

// Guest-physical addresses that are not RAM. `size` is 1, 2, 4 or 8; false when no
// device claims all of [gpa, gpa + size).
class GuestMmioSink {
public:
    virtual bool mmio_read(u64 gpa, u8 size, u64& value) = 0;
    virtual bool mmio_write(u64 gpa, u8 size, u64 value) = 0;

protected:
    ~GuestMmioSink() = default;
};

// The widest access the emulator makes (an XMM register).
inline constexpr usize kMaxEmulatedAccess = 16;

// Reads or writes `size` (1..16) bytes at `linear`. Every page the access touches is
// translated before any byte moves, so a fault in the second page of a page-crossing
// access leaves both untouched, as on the processor (SDM vol. 3A 4.7: CR2 is then the
// first byte in the faulting page). Each page's part goes to RAM or, if it is not RAM, to
// the sink in naturally aligned pieces of at most 8 bytes.
MemoryOutcome emulator_read_linear(GuestPhysicalMemory& ram, const GuestPagingState& paging, GuestMmioSink& mmio,
                                   u64 linear, void* dst, usize size, GuestAccess access);
MemoryOutcome emulator_write_linear(GuestPhysicalMemory& ram, const GuestPagingState& paging, GuestMmioSink& mmio,
                                    u64 linear, const void* src, usize size, GuestAccess access);
