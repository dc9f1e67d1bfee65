#include "kernel/vm/firmware/long_mode_boot.hpp"

#include "kernel/vm/firmware/guest_memory_writer.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace {

// Paging-structure entry bits (SDM vol. 3A 4.5, Tables 4-15 to 4-19).
constexpr u64 kPresent = 1ull << 0, kWritable = 1ull << 1, kWriteThrough = 1ull << 3, kCacheDisable = 1ull << 4,
              kLargePage = 1ull << 7;
constexpr u64 kEntriesPerTable = 512;
constexpr u64 kPageDirectoryCount = 4;  // one per GiB of [0, 4 GiB)

bool write_page_tables(GuestPhysicalMemory& memory) {
    GuestMemoryWriter w(memory, kGuestBootPml4Gpa);
    w.u64_le(kGuestBootPdptGpa | kPresent | kWritable);
    w.zeros((kEntriesPerTable - 1) * 8);
    for (u64 i = 0; i < kEntriesPerTable; ++i) {
        const bool used = i < kPageDirectoryCount;
        w.u64_le(used ? (kGuestBootPageDirectoriesGpa + i * kPageSize) | kPresent | kWritable : 0);
    }
    // Device memory in the hole is mapped uncached in case the kernel touches it before it
    // builds its own tables (the memory type then comes from these bits and the PAT).
    for (u64 i = 0; i < kPageDirectoryCount * kEntriesPerTable; ++i) {
        const u64 address = i * kLargePageSize;
        const u64 caching = address >= kGuestMmioHoleStart ? kCacheDisable | kWriteThrough : 0;
        w.u64_le(address | kPresent | kWritable | kLargePage | caching);
    }
    return w.ok() && w.position() == kGuestBootPageTablesEnd;
}

}  // namespace

bool write_boot_gdt(GuestPhysicalMemory& memory, u64 code_descriptor) {
    GuestMemoryWriter w(memory, kGuestBootGdtGpa);
    w.u64_le(0);  // 0x00: null
    w.u64_le(0);  // 0x08: unused (Linux's own boot GDT leaves it empty too)
    w.u64_le(code_descriptor);
    w.u64_le(kBootDataDescriptor);
    return w.ok();
}

void set_boot_segments(LongModeState& out, u32 code_access_rights) {
    const auto flat = [](u16 selector, u32 access_rights) {
        return GuestSegment{selector, 0, 0xFFFFFFFFu, access_rights};
    };
    out.gdt_base = kGuestBootGdtGpa;
    out.gdt_limit = kBootGdtEntries * 8 - 1;
    out.cs = flat(kBootCodeSelector, code_access_rights);
    out.ds = out.es = out.ss = out.fs = out.gs = flat(kBootDataSelector, kBootDataAccessRights);
}

static_assert(kBootCodeSelector == 2 * 8 && kBootDataSelector == 3 * 8);

bool write_long_mode_boot_structures(GuestPhysicalMemory& memory, LongModeState& out) {
    if (!write_page_tables(memory) || !write_boot_gdt(memory, kBootCode64Descriptor)) return false;
    out = {};
    out.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
    out.cr3 = kGuestBootPml4Gpa;
    out.cr4 = kCr4Pae;
    out.efer = kEferLme | kEferLma;
    out.rflags = kRflagsReserved1;
    set_boot_segments(out, kBootCode64AccessRights);
    return true;
}
