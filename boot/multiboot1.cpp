#include "boot/multiboot1.hpp"

#include <string.h>

#include "drivers/acpi/table_bytes.hpp"

namespace {

// The fixed part (Multiboot spec 3.3, "Boot information format"), through the boot
// loader name at offset 64; what follows (APM, VBE, framebuffer) is not used.
constexpr u64 kInfoSize = 88;
constexpr u32 kFlagCmdline = 1u << 2;         // cmdline at 16
constexpr u32 kFlagModules = 1u << 3;         // mods_count at 20, mods_addr at 24
constexpr u32 kFlagMemoryMap = 1u << 6;       // mmap_length at 44, mmap_addr at 48
constexpr u32 kFlagBootloaderName = 1u << 9;  // boot_loader_name at 64
constexpr u64 kModuleEntrySize = 16;          // mod_start, mod_end, string, reserved
// A memory map entry: size u32 (of the rest of the entry), base_addr u64, length u64,
// type u32; the next entry starts size + 4 bytes on.
constexpr u64 kMemoryMapEntryMinimum = 20;
// The module list and the memory map are a few hundred bytes; more means a wild pointer.
constexpr u64 kMaxListBytes = 64 * KiB;

using table_bytes::read_u32;
using table_bytes::read_u64;

bool fail(const char** error, const char* message) {
    if (error) *error = message;
    return false;
}

enum class StringRead { Complete, TooLong, Unreadable };

// Copies the NUL-terminated string at `phys` into `dest`, which it always terminates:
// whole when it fits in `capacity` bytes with its NUL (Complete), cut short when it does
// not (TooLong), or cut where readable memory ends before its NUL (Unreadable).
StringRead read_string(BootMemory& memory, PhysAddr phys, char* dest, usize capacity) {
    for (usize i = 0; i < capacity; ++i) {
        const u8* byte = memory.map(phys + i, 1);
        dest[i] = '\0';
        if (!byte) return StringRead::Unreadable;
        if (*byte == 0) return StringRead::Complete;
        if (i + 1 == capacity) return StringRead::TooLong;
        dest[i] = char(*byte);
    }
    return StringRead::TooLong;
}

// Whether the boot loader is GRUB 2 ("GRUB 2.06", or "GRUB 1.99" for its betas; GRUB
// Legacy names itself "GNU GRUB 0.97"): GRUB 2's `multiboot` and `module` leave the file
// out of the strings they pass (grub-core/loader/multiboot.c skips argv[0]); QEMU and
// GRUB Legacy put it first.
bool loader_omits_path(const char* name) {
    const char* grub = strstr(name, "GRUB ");
    return grub && grub[5] >= '1' && grub[5] <= '9';
}

// Drops the first word (the file's path) and the blanks after it, in place.
void drop_path(char* text) {
    usize skip = 0;
    while (text[skip] && text[skip] != ' ') ++skip;
    while (text[skip] == ' ') ++skip;
    memmove(text, text + skip, strlen(text + skip) + 1);
}

bool parse_modules(BootMemory& memory, u32 count, u32 list_phys, bool with_path, Multiboot2Info& out,
                   const char** error) {
    if (u64(count) * kModuleEntrySize > kMaxListBytes)
        return fail(error, "multiboot1: mods_count is beyond any module list (more than 4096 modules)");
    for (u32 i = 0; i < count; ++i) {
        const u8* entry = memory.map(u64(list_phys) + u64(i) * kModuleEntrySize, kModuleEntrySize);
        if (!entry) return fail(error, "multiboot1: the module list is outside readable memory");
        const u32 start = read_u32(entry);
        const u32 end = read_u32(entry + 4);
        const u32 string = read_u32(entry + 8);
        // Too many modules, or too long a module string, cost their domains, not the boot
        // (kernel/vm/guest_loader.cpp reports them), as with Multiboot2.
        if (out.module_count == Multiboot2Info::kMaxModules) {
            ++out.modules_dropped;
            continue;
        }
        Multiboot2Module& module = out.modules[out.module_count];
        module.start = start;
        module.end = end;
        if (module.end < module.start) return fail(error, "multiboot1: module with mod_end below mod_start");
        // The path comes first and is dropped: twice the room is read, so that a path
        // followed by a command line that fits is not taken for one that does not.
        char text[2 * sizeof module.cmdline];
        text[0] = '\0';
        if (string != 0) {
            const StringRead read = read_string(memory, string, text, sizeof text);
            if (read == StringRead::Unreadable)
                return fail(error, "multiboot1: a module string runs outside readable memory");
            if (read == StringRead::TooLong) module.cmdline_truncated = true;
            if (with_path) drop_path(text);
        }
        const usize length = strlen(text);
        if (length >= sizeof module.cmdline) module.cmdline_truncated = true;
        const usize kept = length >= sizeof module.cmdline ? sizeof module.cmdline - 1 : length;
        memcpy(module.cmdline, text, kept);
        module.cmdline[kept] = '\0';
        ++out.module_count;
    }
    return true;
}

bool parse_memory_map(BootMemory& memory, u32 length, u32 map_phys, Multiboot2Info& out, const char** error) {
    if (length > kMaxListBytes) return fail(error, "multiboot1: mmap_length above 64 KiB, refusing to parse");
    u64 offset = 0;
    while (offset < length) {
        if (length - offset < kMemoryMapEntryMinimum + 4)
            return fail(error, "multiboot1: memory map ends inside an entry");
        const u8* entry = memory.map(u64(map_phys) + offset, kMemoryMapEntryMinimum + 4);
        if (!entry) return fail(error, "multiboot1: the memory map is outside readable memory");
        const u32 size = read_u32(entry);
        if (size < kMemoryMapEntryMinimum) return fail(error, "multiboot1: memory map entry smaller than 20 bytes");
        if (u64(size) + 4 > length - offset)
            return fail(error, "multiboot1: memory map entry extends past mmap_length");
        if (out.memory_region_count == Multiboot2Info::kMaxMemoryRegions)
            return fail(error, "multiboot1: memory map has more than 128 entries (Multiboot2Info::kMaxMemoryRegions)");
        out.memory_regions[out.memory_region_count++] = {read_u64(entry + 4), read_u64(entry + 12),
                                                         read_u32(entry + 20)};
        offset += u64(size) + 4;
    }
    out.has_memory_map = true;
    return true;
}

}  // namespace

bool parse_multiboot1(BootMemory& memory, PhysAddr info_phys, Multiboot2Info& out, const char** error) {
    memset(&out, 0, sizeof out);
    const u8* info = memory.map(info_phys, kInfoSize);
    if (!info) return fail(error, "multiboot1: the boot information is outside readable memory");
    out.info_start = info_phys;
    out.info_size = kInfoSize;
    // Copied before anything else is mapped: map() keeps only one range valid.
    u8 fixed[kInfoSize];
    memcpy(fixed, info, sizeof fixed);
    const u32 flags = read_u32(fixed);
    if (flags & kFlagBootloaderName) {
        out.has_bootloader_name = true;
        const StringRead read =
            read_string(memory, read_u32(fixed + 64), out.bootloader_name, sizeof out.bootloader_name);
        if (read == StringRead::Unreadable)
            return fail(error, "multiboot1: the boot loader name runs outside readable memory");
        if (read == StringRead::TooLong) return fail(error, "multiboot1: boot loader name longer than 63 characters");
    }
    const bool with_path = !loader_omits_path(out.bootloader_name);
    if (flags & kFlagCmdline) {
        out.has_cmdline = true;
        // Room for the path as well as a command line that fits (see parse_modules).
        char text[2 * Multiboot2Info::kCmdlineCapacity];
        const StringRead read = read_string(memory, read_u32(fixed + 16), text, sizeof text);
        if (read == StringRead::Unreadable)
            return fail(error, "multiboot1: the command line runs outside readable memory");
        if (read == StringRead::TooLong) return fail(error, "multiboot1: command line longer than 1023 characters");
        if (with_path) drop_path(text);
        if (strlen(text) >= sizeof out.cmdline)
            return fail(error, "multiboot1: command line longer than 1023 characters");
        memcpy(out.cmdline, text, strlen(text) + 1);
    }
    if ((flags & kFlagModules) &&
        !parse_modules(memory, read_u32(fixed + 20), read_u32(fixed + 24), with_path, out, error))
        return false;
    if ((flags & kFlagMemoryMap) && !parse_memory_map(memory, read_u32(fixed + 44), read_u32(fixed + 48), out, error))
        return false;
    return true;
}
