// The hypervisor's own memory: the physical frame allocator fed by the boot memory map,
// the hypervisor's page tables (W^X: text RX, rodata R, data RW+NX, direct map RW+NX),
// and mappings of device registers and firmware tables. Kernel only; the logic it
// stands on (mm/memory_map, mm/frame_allocator, mm/page_table) is unit-tested.
#pragma once

#include "kernel/types.hpp"

struct Multiboot2Info;

struct MemoryStats {
    u64 usable_bytes;  // RAM the firmware reports usable, minus what boot reserved
    u64 free_bytes;    // frames not allocated right now
    u64 hypervisor_image_bytes;
};

// Builds the memory map and the frame allocator, builds the final page tables and
// switches to them, then starts the heap. Panics with a clear message when the
// machine's memory cannot hold the hypervisor.
void mm_init(const Multiboot2Info& boot);

inline constexpr PhysAddr kNoPhysFrame = ~0ull;
// Allocates `pages` contiguous zeroed frames (aligned to `align_pages`) below `limit`;
// kNoPhysFrame when memory is exhausted.
PhysAddr frame_alloc(u64 pages = 1, u64 align_pages = 1, PhysAddr limit = ~0ull);
// The same, left as the last owner left them: for memory that is zeroed later, before
// anything reads it (a domain's RAM, zeroed on first touch: mm/guest_memory.hpp).
PhysAddr frame_alloc_uncleared(u64 pages, u64 align_pages);
// Zeroes frames that frame_alloc_uncleared gave.
void frame_clear(PhysAddr start, u64 pages);
void frame_free(PhysAddr start, u64 pages = 1);
MemoryStats memory_stats();

// Maps device registers uncached, read-write, never executable. nullptr when the
// device window or the page-table memory is exhausted.
void* map_device(PhysAddr base, u64 size);
// Returns a read-only pointer to firmware data (e.g. ACPI tables) anywhere in physical
// memory: through the direct map when it covers the range, else a new mapping.
const void* map_firmware(PhysAddr base, u64 size);

// The AP start-up page must run at its physical address while paging turns on: map it
// at VA == PA, executable and read-only, for the duration of AP start-up.
bool map_identity_code_page(PhysAddr page);
void unmap_identity_code_page(PhysAddr page);

// A hypervisor stack of `size` bytes (page multiple) in the stack area, above a guard page
// that stays unmapped, so that an overflow faults instead of overwriting whatever lies
// below. Returns its top; 0 when memory is exhausted. `cpu` and `what` name it in the
// report of an overflow.
VirtAddr map_stack(u64 size, u32 cpu, const char* what);
// The stack whose guard page holds `address`, as "cpu3 kernel stack"; false when
// `address` is no guard page. For the fault handlers' reports (no locks taken).
bool stack_guard_name(VirtAddr address, char* out, usize out_size);

// Walks the page tables and panics on any page both writable and executable, else logs
// that W^X holds `when` (boot checks it once more after every CPU has started).
void mm_check_w_xor_x(const char* when);

PhysAddr kernel_page_table_root();
// The end of the highest RAM the direct map covers (0 before mm_init).
u64 direct_map_ram_end();
