#include "boot/multiboot2.hpp"

#include <string.h>

namespace {

// Tag types (Multiboot2 spec 3.6.2 and the sections named below).
constexpr u32 kTagEnd = 0;
constexpr u32 kTagCmdline = 1;         // 3.6.5 "Boot command line"
constexpr u32 kTagBootloaderName = 2;  // 3.6.9 "Boot loader name"
constexpr u32 kTagModule = 3;          // 3.6.6 "Modules"
constexpr u32 kTagMemoryMap = 6;       // 3.6.8 "Memory map"
constexpr u32 kTagAcpiOldRsdp = 14;    // 3.6.16 "ACPI old RSDP"
constexpr u32 kTagAcpiNewRsdp = 15;    // 3.6.17 "ACPI new RSDP"

constexpr u64 kFixedPartSize = 8;        // total_size u32, reserved u32 (3.6.1)
constexpr u64 kTagHeaderSize = 8;        // type u32, size u32 (3.6.2)
constexpr u64 kTagAlignment = 8;         // "Tags are ... padded when necessary to have size multiple of 8" (3.6.1)
constexpr u64 kMaxTotalSize = 1 * MiB;   // GRUB's information is a few KiB; more means a wild pointer
constexpr u64 kModuleFixedSize = 16;     // type, size, mod_start, mod_end
constexpr u64 kMemoryMapFixedSize = 16;  // type, size, entry_size, entry_version
constexpr u64 kMemoryMapEntrySize = 24;  // base u64, length u64, type u32, reserved u32

// The structure is 8-byte aligned in memory, but reading through memcpy keeps the parser
// free of alignment assumptions (and of undefined behaviour on malformed input).
u32 read_u32(const u8* p) {
    u32 v;
    memcpy(&v, p, sizeof v);
    return v;
}

u64 read_u64(const u8* p) {
    u64 v;
    memcpy(&v, p, sizeof v);
    return v;
}

bool fail(const char** error, const char* message) {
    if (error) *error = message;
    return false;
}

// Copies the NUL-terminated string occupying `bytes[0, length)` into `dest`. The
// terminator must lie inside the tag (the spec requires it) and the string must fit.
bool copy_string(const u8* bytes, u64 length, char* dest, usize capacity, const char** error,
                 const char* unterminated_message, const char* too_long_message) {
    const void* nul = memchr(bytes, 0, length);
    if (!nul) return fail(error, unterminated_message);
    const usize string_length = usize(static_cast<const u8*>(nul) - bytes);
    if (string_length >= capacity) return fail(error, too_long_message);
    memcpy(dest, bytes, string_length);
    dest[string_length] = '\0';
    return true;
}

bool parse_memory_map(const u8* tag, u64 size, Multiboot2Info& out, const char** error) {
    if (out.has_memory_map) return fail(error, "multiboot2: more than one memory map tag");
    if (size < kMemoryMapFixedSize) return fail(error, "multiboot2: memory map tag shorter than its header");
    const u32 entry_size = read_u32(tag + 8);
    const u32 entry_version = read_u32(tag + 12);
    // 3.6.8: entry_size is "guaranteed to be a multiple of 8" and version 0 is the only
    // layout the spec defines; anything else would make us misread every entry.
    if (entry_version != 0) return fail(error, "multiboot2: unsupported memory map entry_version (expected 0)");
    if (entry_size < kMemoryMapEntrySize || entry_size % 8 != 0)
        return fail(error, "multiboot2: memory map entry_size is not a multiple of 8 of at least 24");
    const u64 entries_bytes = size - kMemoryMapFixedSize;
    if (entries_bytes % entry_size != 0) return fail(error, "multiboot2: memory map tag ends inside an entry");
    const u64 count = entries_bytes / entry_size;
    if (count > Multiboot2Info::kMaxMemoryRegions)
        return fail(error, "multiboot2: memory map has more than 128 entries (Multiboot2Info::kMaxMemoryRegions)");
    for (u64 i = 0; i < count; ++i) {
        const u8* entry = tag + kMemoryMapFixedSize + i * entry_size;
        out.memory_regions[i] = {read_u64(entry), read_u64(entry + 8), read_u32(entry + 16)};
    }
    out.memory_region_count = usize(count);
    out.has_memory_map = true;
    return true;
}

bool parse_module(const u8* tag, u64 size, Multiboot2Info& out, const char** error) {
    if (size < kModuleFixedSize) return fail(error, "multiboot2: module tag shorter than its header");
    // Too many modules, or too long a module command line, are the loader's to report:
    // they cost their domains, not the boot (kernel/vm/guest_loader.cpp).
    if (out.module_count == Multiboot2Info::kMaxModules) {
        ++out.modules_dropped;
        return true;
    }
    Multiboot2Module& module = out.modules[out.module_count];
    module.start = read_u32(tag + 8);
    module.end = read_u32(tag + 12);
    if (module.end < module.start) return fail(error, "multiboot2: module with mod_end below mod_start");
    const u8* text = tag + kModuleFixedSize;
    const void* nul = memchr(text, 0, size - kModuleFixedSize);
    if (!nul) return fail(error, "multiboot2: module command line is not NUL-terminated inside its tag");
    const usize length = usize(static_cast<const u8*>(nul) - text);
    module.cmdline_truncated = length >= sizeof module.cmdline;
    const usize kept = module.cmdline_truncated ? sizeof module.cmdline - 1 : length;
    memcpy(module.cmdline, text, kept);
    module.cmdline[kept] = '\0';
    ++out.module_count;
    return true;
}

// Tag 14 carries a revision 0 RSDP, tag 15 a revision >= 2 one (ACPI 6.5, 5.2.5.3).
// With both present (GRUB passes both on ACPI 2.0+ firmware) the XSDP is kept, since
// only it has the 64-bit XSDT address.
bool parse_rsdp(u32 type, const u8* tag, u64 size, Multiboot2Info& out, const char** error) {
    const u64 payload = size - kTagHeaderSize;
    if (type == kTagAcpiOldRsdp) {
        if (payload < Multiboot2Info::kRsdpLength)
            return fail(error, "multiboot2: ACPI old RSDP tag shorter than 20 bytes");
        if (out.rsdp_length == Multiboot2Info::kRsdpLength)
            return fail(error, "multiboot2: more than one old RSDP tag");
        if (out.rsdp_is_xsdp) return true;
        memcpy(out.rsdp, tag + kTagHeaderSize, Multiboot2Info::kRsdpLength);
        out.rsdp_length = Multiboot2Info::kRsdpLength;
        return true;
    }
    if (payload < Multiboot2Info::kXsdpLength)
        return fail(error, "multiboot2: ACPI new RSDP tag shorter than 36 bytes");
    if (out.rsdp_is_xsdp) return fail(error, "multiboot2: more than one new RSDP tag");
    memcpy(out.rsdp, tag + kTagHeaderSize, Multiboot2Info::kXsdpLength);
    out.rsdp_length = Multiboot2Info::kXsdpLength;
    out.rsdp_is_xsdp = true;
    return true;
}

bool parse_tag(u32 type, const u8* tag, u64 size, Multiboot2Info& out, const char** error) {
    switch (type) {
        case kTagCmdline:
            if (out.has_cmdline) return fail(error, "multiboot2: more than one command line tag");
            out.has_cmdline = true;
            return copy_string(tag + kTagHeaderSize, size - kTagHeaderSize, out.cmdline, sizeof out.cmdline, error,
                               "multiboot2: command line is not NUL-terminated inside its tag",
                               "multiboot2: command line longer than 1023 characters");
        case kTagBootloaderName:
            if (out.has_bootloader_name) return fail(error, "multiboot2: more than one boot loader name tag");
            out.has_bootloader_name = true;
            return copy_string(tag + kTagHeaderSize, size - kTagHeaderSize, out.bootloader_name,
                               sizeof out.bootloader_name, error,
                               "multiboot2: boot loader name is not NUL-terminated inside its tag",
                               "multiboot2: boot loader name longer than 63 characters");
        case kTagModule: return parse_module(tag, size, out, error);
        case kTagMemoryMap: return parse_memory_map(tag, size, out, error);
        case kTagAcpiOldRsdp:
        case kTagAcpiNewRsdp: return parse_rsdp(type, tag, size, out, error);
        default:
            // 3.6.2: an OS image must ignore tags it does not understand (framebuffer, ELF
            // sections, EFI tables, ...).
            return true;
    }
}

}  // namespace

bool parse_multiboot2(const u8* info, u64 info_phys, Multiboot2Info& out, const char** error) {
    memset(&out, 0, sizeof out);
    if (!info) return fail(error, "multiboot2: boot information pointer is null");
    // 3.6.1: "The boot information ... must be 8-bytes aligned" (and GRUB does so).
    if (!is_aligned(info_phys, kTagAlignment)) return fail(error, "multiboot2: boot information is not 8-byte aligned");
    const u64 total_size = read_u32(info);
    if (total_size < kFixedPartSize + kTagHeaderSize)
        return fail(error, "multiboot2: total_size below 16 bytes (no room for the end tag)");
    if (total_size > kMaxTotalSize) return fail(error, "multiboot2: total_size above 1 MiB, refusing to parse");
    if (info_phys + total_size < info_phys) return fail(error, "multiboot2: boot information wraps past 2^64");
    out.info_start = info_phys;
    out.info_size = total_size;

    // 3.6.1: tags follow the fixed part, each starting 8-byte aligned, until the end tag
    // (type 0, size 8). Every bound is checked against total_size before it is read.
    u64 offset = kFixedPartSize;
    while (offset + kTagHeaderSize <= total_size) {
        const u8* tag = info + offset;
        const u32 type = read_u32(tag);
        const u64 size = read_u32(tag + 4);
        if (size < kTagHeaderSize) return fail(error, "multiboot2: tag size below 8 bytes");
        if (size > total_size - offset) return fail(error, "multiboot2: tag extends past total_size");
        if (type == kTagEnd) {
            if (size != kTagHeaderSize) return fail(error, "multiboot2: end tag size is not 8");
            return true;
        }
        if (!parse_tag(type, tag, size, out, error)) return false;
        offset += align_up(size, kTagAlignment);  // size <= 1 MiB: no overflow
    }
    return fail(error, "multiboot2: no end tag within total_size");
}
