#include "mm/kernel_address_space.hpp"

#include <stdio.h>
#include <string.h>

#include "boot/multiboot2.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/panic.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/kernel_heap.hpp"
#include "mm/memory_map.hpp"
#include "mm/page_table.hpp"

extern "C" const u8 __image_start_phys[], __image_end_phys[];
extern "C" const u8 __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern "C" const u8 __data_start[], __data_end[], __ksyms_start[], __ksyms_end[];
// The page below the boot CPU's stack (boot/entry32.S): left unmapped as its guard.
extern "C" const u8 bsp_boot_stack_guard[];

namespace {

// Until the final tables are live, only the low 4 GiB are reachable through the
// direct map (boot/entry32.S), so early page tables must come from there.
constexpr PhysAddr kBootReachableLimit = 4 * GiB;

struct KernelTableMemory {
    PhysAddr alloc_table();
    u64* table(PhysAddr pa) { return phys_to_virt<u64>(pa); }
};

using KernelPageTable = PageTableBuilder<X86PagingFormat, KernelTableMemory>;

SpinLock g_lock;  // frame allocator and page tables
MemoryMap g_memory_map;
FrameAllocator g_frames;
KernelTableMemory g_table_memory;
KernelPageTable g_page_table(g_table_memory, /*huge_pages=*/false);
bool g_final_tables_live = false;
VirtAddr g_device_window_next = kDeviceWindowBase;
VirtAddr g_stack_area_next = kStackAreaBase;

// Every guard page, for the overflow report: the boot CPU's (below its stack in the
// image) and one below each stack map_stack made. Filled under g_lock, read by fault
// handlers without it (entries are complete before the count counts them).
struct StackGuard {
    VirtAddr page;
    u32 cpu;
    const char* what;
};
constexpr usize kMaxStackGuards = 256;
StackGuard g_stack_guards[kMaxStackGuards];
usize g_stack_guard_count = 0;

void add_stack_guard(VirtAddr page, u32 cpu, const char* what) {
    if (g_stack_guard_count == kMaxStackGuards) return;  // the guard still works; only its name is lost
    g_stack_guards[g_stack_guard_count] = {page, cpu, what};
    __atomic_store_n(&g_stack_guard_count, g_stack_guard_count + 1, __ATOMIC_RELEASE);
}
u64 g_image_bytes = 0;

PhysAddr KernelTableMemory::alloc_table() {
    const PhysAddr pa = g_frames.alloc(1, 1, g_final_tables_live ? ~0ull : kBootReachableLimit);
    if (pa != FrameAllocator::kNoFrame) memset(phys_to_virt(pa), 0, kPageSize);
    return pa;
}

// linker.ld defines these two as physical addresses (their values, not locations).
PhysAddr image_start_phys() { return reinterpret_cast<PhysAddr>(__image_start_phys); }
PhysAddr image_end_phys() { return reinterpret_cast<PhysAddr>(__image_end_phys); }

// Every mapping the hypervisor makes, at boot or later (device windows, stacks, the AP
// start-up page), goes through here: none may be both writable and executable.
bool map_kernel(VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs, bool allow_large_pages = true) {
    if (attrs.writable && attrs.executable)
        panic("mm: refusing a mapping that is both writable and executable (%#llx bytes at %#llx)",
              (unsigned long long)size, (unsigned long long)va);
    return g_page_table.map(va, pa, size, attrs, allow_large_pages);
}

void map_or_panic(VirtAddr va, PhysAddr pa, u64 size, PageAttributes attrs, const char* what) {
    if (!map_kernel(va, pa, size, attrs))
        panic("mm: cannot map %s (%#llx bytes at %#llx): out of page-table memory", what, (unsigned long long)size,
              (unsigned long long)pa);
}

void build_memory_map(const Multiboot2Info& boot) {
    const char* error = nullptr;
    for (usize i = 0; i < boot.memory_region_count; ++i) {
        const auto& r = boot.memory_regions[i];
        if (r.type == kMultiboot2MemoryAvailable && !g_memory_map.add_available(r.base, r.length, &error))
            panic("mm: memory-map region %#llx+%#llx: %s", (unsigned long long)r.base, (unsigned long long)r.length,
                  error);
    }
    // Reserved for good: the real-mode area (firmware data, the AP start-up page), the
    // hypervisor image, the boot information (still read below) and every module (the
    // guests' images, which later issues hand to domains).
    struct {
        PhysAddr start, end;
        const char* what;
    } reservations[2 + 1 + Multiboot2Info::kMaxModules] = {
        {0, 1 * MiB, "the first MiB"},
        {image_start_phys(), image_end_phys(), "the hypervisor image"},
        {boot.info_start, boot.info_start + boot.info_size, "the boot information"},
    };
    usize count = 3;
    static_assert(MemoryMap::kMaxReserved >= 3 + Multiboot2Info::kMaxModules, "a reservation for every module");
    for (usize i = 0; i < boot.module_count; ++i)
        reservations[count++] = {boot.modules[i].start, boot.modules[i].end, "a module"};
    for (usize i = 0; i < count; ++i) {
        if (!g_memory_map.reserve(reservations[i].start, reservations[i].end, &error))
            panic("mm: cannot reserve %s (%#llx-%#llx): %s", reservations[i].what,
                  (unsigned long long)reservations[i].start, (unsigned long long)reservations[i].end, error);
    }
}

void init_frame_allocator() {
    const u64 bitmap_bytes = FrameAllocator::bitmap_bytes_for(g_memory_map);
    const PhysRange where = FrameAllocator::choose_bitmap_location(g_memory_map, bitmap_bytes);
    if (where.end <= where.start || where.end > kBootReachableLimit)
        panic("mm: no room below 4 GiB for the %llu-byte frame bitmap", (unsigned long long)bitmap_bytes);
    if (!g_frames.init(g_memory_map, phys_to_virt<u64>(where.start), bitmap_bytes) ||
        !g_frames.reserve(where.start, align_up(bitmap_bytes, kPageSize) / kPageSize))
        panic("mm: cannot set up the frame allocator");
}

void build_kernel_page_tables(const Multiboot2Info& boot) {
    // The PML4 must lie below 4 GiB: APs load CR3 in 32-bit mode (boot/ap_trampoline.S).
    if (!g_page_table.create()) panic("mm: no memory for the hypervisor's page tables");
    // 1 GiB pages only where CPUID 8000_0001h EDX[26] (Page1GB) says the CPU has them.
    g_page_table.set_huge_pages(x86::cpuid(0x80000000).eax >= 0x80000001 && (x86::cpuid(0x80000001).edx & (1u << 26)));

    const PageAttributes text{.writable = false, .executable = true, .user = false, .global = true, .uncached = false};
    const PageAttributes read_only{
        .writable = false, .executable = false, .user = false, .global = true, .uncached = false};
    const PageAttributes read_write{
        .writable = true, .executable = false, .user = false, .global = true, .uncached = false};
    auto map_section = [&](const u8* start, const u8* end, PageAttributes attrs, const char* what) {
        const VirtAddr va = reinterpret_cast<VirtAddr>(start);
        const u64 size = align_up(u64(end - start), kPageSize);  // sections start page-aligned (linker.ld)
        if (size) map_or_panic(va, kernel_image_to_phys(start), size, attrs, what);
    };
    map_section(__text_start, __text_end, text, "hypervisor text");
    map_section(__rodata_start, __rodata_end, read_only, "hypervisor rodata");
    map_section(__data_start, __data_end, read_write, "hypervisor data");
    map_section(__ksyms_start, __ksyms_end, read_only, "hypervisor symbols");
    // The boot CPU's stack is in the image's data: the page below it is its guard.
    const VirtAddr bsp_guard = reinterpret_cast<VirtAddr>(bsp_boot_stack_guard);
    if (!g_page_table.unmap(bsp_guard, kPageSize)) panic("mm: cannot unmap the boot stack's guard page");
    add_stack_guard(bsp_guard, 0, "kernel stack");

    // Direct map: RAM and the ACPI areas, plus the first MiB (BIOS data, where firmware
    // tables may live). Never executable.
    const PageAttributes direct{
        .writable = true, .executable = false, .user = false, .global = true, .uncached = false};
    map_or_panic(kDirectMapBase, 0, 1 * MiB, direct, "the first MiB");
    for (usize i = 0; i < boot.memory_region_count; ++i) {
        const auto& r = boot.memory_regions[i];
        if (r.type != kMultiboot2MemoryAvailable && r.type != kMultiboot2MemoryAcpiReclaimable &&
            r.type != kMultiboot2MemoryNvs)
            continue;
        const PhysAddr start = align_down(r.base, kPageSize);
        const PhysAddr end = align_up(r.base + r.length, kPageSize);
        if (end <= 1 * MiB) continue;
        const PhysAddr from = start < 1 * MiB ? 1 * MiB : start;
        map_or_panic(kDirectMapBase + from, from, end - from, direct, "the direct map");
    }
    // The image's own frames appear in the direct map too: read-only there, so no page
    // of hypervisor code has a writable alias (W^X per physical page, not per mapping).
    const PageAttributes alias{
        .writable = false, .executable = false, .user = false, .global = true, .uncached = false};
    map_or_panic(kDirectMapBase + image_start_phys(), image_start_phys(),
                 align_up(image_end_phys(), kPageSize) - image_start_phys(), alias, "the image alias");
}

void verify_w_xor_x(const char* when) {
    u64 mappings = 0, violations = 0;
    IrqLockGuard guard(g_lock);
    g_page_table.for_each_leaf([&](VirtAddr va, PhysAddr, u64 size, PageAttributes attrs) {
        ++mappings;
        if (attrs.writable && attrs.executable) {
            ++violations;
            log_error("mm: W^X violation: %#llx (+%#llx) is writable and executable", (unsigned long long)va,
                      (unsigned long long)size);
        }
    });
    if (violations) panic("mm: %llu mappings are both writable and executable", (unsigned long long)violations);
    log_info("mm: %s: page tables at %#llx, %llu mappings, W^X holds (no page both writable and executable)", when,
             (unsigned long long)g_page_table.root(), (unsigned long long)mappings);
}

}  // namespace

void mm_init(const Multiboot2Info& boot) {
    build_memory_map(boot);
    init_frame_allocator();
    build_kernel_page_tables(boot);
    verify_w_xor_x("at boot");
    x86::write_cr4(x86::read_cr4() | x86::kCr4Pge);
    x86::write_cr3(g_page_table.root());
    g_final_tables_live = true;
    g_image_bytes = image_end_phys() - image_start_phys();
    kernel_heap_init();
}

// Zeroes new frames, then drops every TLB entry (global ones too: CR4.PGE toggled, SDM
// vol. 3A 4.10.4.1) before the next memory access, all in one asm block that touches no
// memory but the frames. Why: Bochs keeps guest RAM beyond its host memory in a paging
// file (tests/boot/run_bochs.py), and bringing a block in may hand the host buffer of
// another block to it while a TLB entry still points there; a stack access through that
// entry then reads the new block. Measured: zeroing a domain's chunk at 0x3f200000 with
// memset cleared the boot CPU's saved frame pointer and return address (test
// linux_vmx_highmem jumped to 0). Reloading the translations first makes Bochs look the
// pages up again. On hardware the flush costs one TLB refill per allocation.
namespace {

void zero_frames(void* start, u64 bytes) {
    u64 count = bytes / sizeof(u64), cr4, flipped;
    // CR4.PGE flipped and put back: two changes of it, each a full flush.
    asm volatile(
        "rep stosq\n\t"
        "mov %%cr4, %[cr4]\n\t"
        "mov %[cr4], %[flipped]\n\t"
        "xor $0x80, %[flipped]\n\t"
        "mov %[flipped], %%cr4\n\t"
        "mov %[cr4], %%cr4"
        : "+D"(start), "+c"(count), [cr4] "=&r"(cr4), [flipped] "=&r"(flipped)
        : "a"(0ull)
        : "memory");
}

}  // namespace

PhysAddr frame_alloc(u64 pages, u64 align_pages, PhysAddr limit) {
    PhysAddr pa;
    {
        IrqLockGuard guard(g_lock);
        pa = g_frames.alloc(pages, align_pages, limit);
    }
    if (pa == FrameAllocator::kNoFrame) return kNoPhysFrame;
    zero_frames(phys_to_virt(pa), pages * kPageSize);
    return pa;
}

PhysAddr frame_alloc_uncleared(u64 pages, u64 align_pages) {
    IrqLockGuard guard(g_lock);
    const PhysAddr pa = g_frames.alloc(pages, align_pages, ~0ull);
    return pa == FrameAllocator::kNoFrame ? kNoPhysFrame : pa;
}

void frame_clear(PhysAddr start, u64 pages) { zero_frames(phys_to_virt(start), pages * kPageSize); }

void frame_free(PhysAddr start, u64 pages) {
    IrqLockGuard guard(g_lock);
    if (!g_frames.free(start, pages))
        panic("mm: freeing %llu frames at %#llx that are not allocated", (unsigned long long)pages,
              (unsigned long long)start);
}

MemoryStats memory_stats() {
    IrqLockGuard guard(g_lock);
    return {g_memory_map.total_bytes(), g_frames.free_frames() * kPageSize, g_image_bytes};
}

static void* map_window(PhysAddr base, u64 size, PageAttributes attrs) {
    const PhysAddr first = align_down(base, kPageSize);
    const u64 length = align_up(base + size, kPageSize) - first;
    IrqLockGuard guard(g_lock);
    if (g_device_window_next + length > kDeviceWindowBase + kDeviceWindowSize) return nullptr;
    const VirtAddr va = g_device_window_next;
    if (!map_kernel(va, first, length, attrs, false)) return nullptr;
    g_device_window_next += length;
    return reinterpret_cast<void*>(va + (base - first));
}

void* map_device(PhysAddr base, u64 size) {
    return map_window(base, size,
                      {.writable = true, .executable = false, .user = false, .global = true, .uncached = true});
}

const void* map_firmware(PhysAddr base, u64 size) {
    // The direct map covers RAM and the ACPI areas; other firmware data (e.g. tables in
    // a "reserved" region) gets its own read-only mapping.
    bool in_direct_map = true;
    {
        IrqLockGuard guard(g_lock);
        PhysAddr pa;
        PageAttributes attrs;
        u64 page_size;
        for (PhysAddr p = align_down(base, kPageSize); p < base + size && in_direct_map; p += kPageSize)
            in_direct_map = g_page_table.translate(kDirectMapBase + p, pa, attrs, page_size);
    }
    if (in_direct_map) return phys_to_virt(base);
    return map_window(base, size,
                      {.writable = false, .executable = false, .user = false, .global = true, .uncached = false});
}

bool map_identity_code_page(PhysAddr page) {
    IrqLockGuard guard(g_lock);
    return map_kernel(page, page, kPageSize,
                      {.writable = false, .executable = true, .user = false, .global = false, .uncached = false},
                      false);
}

void unmap_identity_code_page(PhysAddr page) {
    IrqLockGuard guard(g_lock);
    g_page_table.unmap(page, kPageSize);
    x86::invlpg(page);
}

VirtAddr map_stack(u64 size, u32 cpu, const char* what) {
    const PhysAddr frames = frame_alloc(size / kPageSize);
    if (frames == kNoPhysFrame) return 0;
    IrqLockGuard guard(g_lock);
    const VirtAddr guard_page = g_stack_area_next;
    const VirtAddr bottom = guard_page + kPageSize;
    if (bottom + size > kStackAreaBase + kStackAreaSize ||
        !map_kernel(bottom, frames, size,
                    {.writable = true, .executable = false, .user = false, .global = true, .uncached = false}, false)) {
        g_frames.free(frames, size / kPageSize);
        return 0;
    }
    g_stack_area_next = bottom + size;
    add_stack_guard(guard_page, cpu, what);
    return bottom + size;
}

bool stack_guard_name(VirtAddr address, char* out, usize out_size) {
    const usize count = __atomic_load_n(&g_stack_guard_count, __ATOMIC_ACQUIRE);
    for (usize i = 0; i < count; ++i) {
        const StackGuard& g = g_stack_guards[i];
        if (address - g.page < kPageSize) {
            snprintf(out, out_size, "cpu%u %s", g.cpu, g.what);
            return true;
        }
    }
    return false;
}

void mm_check_w_xor_x(const char* when) { verify_w_xor_x(when); }

PhysAddr kernel_page_table_root() { return g_page_table.root(); }

u64 direct_map_ram_end() { return g_memory_map.highest_address(); }
