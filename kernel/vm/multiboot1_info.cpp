#include "kernel/vm/multiboot1_info.hpp"

#include <string.h>

namespace {

// Flags (spec 3.3): which fields are valid.
constexpr u32 kFlagMemory = 1u << 0;
constexpr u32 kFlagCmdline = 1u << 2;
constexpr u32 kFlagModules = 1u << 3;
constexpr u32 kFlagMemoryMap = 1u << 6;
constexpr u32 kFlagBootloaderName = 1u << 9;

constexpr u32 kInfoSize = 88;       // the fixed part through the VBE fields (spec 3.3)
constexpr u32 kMmapEntrySize = 24;  // u32 size (= 20) + u64 base + u64 length + u32 type
constexpr u32 kModuleEntrySize = 16;
constexpr char kBootloaderName[] = "Vireo";

// The PC memory map a guest expects: conventional memory below the EBDA, the BIOS area
// reserved (with the virtual PC's ACPI tables from 0xE0000), then RAM from 1 MiB
// (available = 1, reserved = 2).
struct MmapEntry {
    u64 base, length;
    u32 type;
};

void put32(u8* p, u32 v) { memcpy(p, &v, 4); }
void put64(u8* p, u64 v) { memcpy(p, &v, 8); }

}  // namespace

usize build_multiboot1_info(const Multiboot1Layout& layout, u32 base, u8* buffer, usize buffer_size) {
    const MmapEntry mmap[] = {
        {0, 0x9fc00, 1},
        {0x9fc00, 0x400, 2},
        {0xe0000, 0x20000, 2},
        {0x100000, layout.memory_bytes > 0x100000 ? layout.memory_bytes - 0x100000 : 0, 1},
    };
    const usize mmap_count = sizeof(mmap) / sizeof(mmap[0]);
    usize strings = 0;
    strings += strlen(layout.cmdline ? layout.cmdline : "") + 1 + sizeof(kBootloaderName);
    for (usize i = 0; i < layout.module_count; ++i) strings += strlen(layout.modules[i].cmdline) + 1;
    const usize mmap_at = kInfoSize;
    const usize modules_at = mmap_at + mmap_count * kMmapEntrySize;
    const usize strings_at = modules_at + layout.module_count * kModuleEntrySize;
    const usize total = strings_at + strings;
    if (total > buffer_size || u64(base) + total > 0xffffffffull) return 0;
    memset(buffer, 0, total);

    usize next_string = strings_at;
    auto add_string = [&](const char* s) {
        const usize n = strlen(s) + 1;
        memcpy(buffer + next_string, s, n);
        const u32 address = u32(base + next_string);
        next_string += n;
        return address;
    };

    u8* info = buffer;
    put32(info + 0, kFlagMemory | kFlagCmdline | kFlagModules | kFlagMemoryMap | kFlagBootloaderName);
    put32(info + 4, 639);  // mem_lower, KiB below 640 KiB
    put32(info + 8,
          u32((layout.memory_bytes - 0x100000) / KiB > 0xffffffffull ? 0xffffffffull
                                                                     : (layout.memory_bytes - 0x100000) / KiB));
    put32(info + 16, add_string(layout.cmdline ? layout.cmdline : ""));
    put32(info + 20, u32(layout.module_count));
    put32(info + 24, u32(base + modules_at));
    put32(info + 44, u32(mmap_count * kMmapEntrySize));
    put32(info + 48, u32(base + mmap_at));
    put32(info + 64, add_string(kBootloaderName));
    for (usize i = 0; i < mmap_count; ++i) {
        u8* e = buffer + mmap_at + i * kMmapEntrySize;
        put32(e, kMmapEntrySize - 4);  // "size" excludes itself
        put64(e + 4, mmap[i].base);
        put64(e + 12, mmap[i].length);
        put32(e + 20, mmap[i].type);
    }
    for (usize i = 0; i < layout.module_count; ++i) {
        u8* m = buffer + modules_at + i * kModuleEntrySize;
        put32(m, layout.modules[i].start);
        put32(m + 4, layout.modules[i].end);
        put32(m + 8, add_string(layout.modules[i].cmdline));
    }
    return total;
}
