#include "kernel/vm/elf_image.hpp"

#include <string.h>

namespace {

// ELF header and program header fields (System V gABI, "ELF Header", "Program Header").
constexpr u8 kClass32 = 1, kClass64 = 2, kDataLittleEndian = 1;
constexpr u16 kTypeExecutable = 2;
constexpr u16 kMachine386 = 3, kMachineX86_64 = 62;
constexpr u32 kProgramLoad = 1;

template <typename T>
T load(const u8* p) {
    T v;
    memcpy(&v, p, sizeof(v));
    return v;
}

bool add_overflows(u64 a, u64 b) { return a + b < a; }

}  // namespace

bool looks_like_elf(const u8* data, usize size) {
    return size >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
}

bool parse_elf_image(const u8* data, usize size, u64 guest_memory_bytes, ElfImage& out, const char** error) {
    memset(&out, 0, sizeof(out));
    if (!looks_like_elf(data, size) || size < 52) {
        *error = "not an ELF file (too short or no ELF magic)";
        return false;
    }
    const u8 elf_class = data[4];
    if ((elf_class != kClass32 && elf_class != kClass64) || data[5] != kDataLittleEndian) {
        *error = "not a little-endian ELF-32 or ELF-64 file";
        return false;
    }
    out.is_64bit = elf_class == kClass64;
    if (out.is_64bit && size < 64) {
        *error = "ELF-64 header truncated";
        return false;
    }
    const u16 type = load<u16>(data + 16);
    const u16 machine = load<u16>(data + 18);
    if (type != kTypeExecutable) {
        *error = "not an ELF executable (relocatable or shared objects cannot be booted)";
        return false;
    }
    if (machine != kMachine386 && machine != kMachineX86_64) {
        *error = "not an x86 ELF (machine is neither i386 nor x86-64)";
        return false;
    }
    u64 phoff;
    u16 phentsize, phnum;
    if (out.is_64bit) {
        out.entry = load<u64>(data + 24);
        phoff = load<u64>(data + 32);
        phentsize = load<u16>(data + 54);
        phnum = load<u16>(data + 56);
    } else {
        out.entry = load<u32>(data + 24);
        phoff = load<u32>(data + 28);
        phentsize = load<u16>(data + 42);
        phnum = load<u16>(data + 44);
    }
    const u16 expected_phentsize = out.is_64bit ? 56 : 32;
    if (phentsize < expected_phentsize || phnum == 0 || add_overflows(phoff, u64(phentsize) * phnum) ||
        phoff + u64(phentsize) * phnum > size) {
        *error = "program headers missing or outside the file";
        return false;
    }
    bool entry_inside = false;
    for (u16 i = 0; i < phnum; ++i) {
        const u8* ph = data + phoff + u64(i) * phentsize;
        if (load<u32>(ph) != kProgramLoad) continue;
        ElfSegment s;
        if (out.is_64bit) {
            s.file_offset = load<u64>(ph + 8);
            s.guest_physical = load<u64>(ph + 24);
            s.file_size = load<u64>(ph + 32);
            s.memory_size = load<u64>(ph + 40);
        } else {
            s.file_offset = load<u32>(ph + 4);
            s.guest_physical = load<u32>(ph + 12);
            s.file_size = load<u32>(ph + 16);
            s.memory_size = load<u32>(ph + 20);
        }
        if (s.memory_size == 0) continue;
        if (s.file_size > s.memory_size) {
            *error = "a loadable segment has more bytes in the file than in memory";
            return false;
        }
        if (s.file_size && (add_overflows(s.file_offset, s.file_size) || s.file_offset + s.file_size > size)) {
            *error = "a loadable segment lies outside the file";
            return false;
        }
        if (add_overflows(s.guest_physical, s.memory_size) || s.guest_physical + s.memory_size > guest_memory_bytes) {
            *error = "a loadable segment does not fit in the domain's memory";
            return false;
        }
        if (out.segment_count == ElfImage::kMaxSegments) {
            *error = "more than 16 loadable segments";
            return false;
        }
        out.segments[out.segment_count++] = s;
        if (s.guest_physical + s.memory_size > out.highest_address)
            out.highest_address = s.guest_physical + s.memory_size;
        if (out.entry >= s.guest_physical && out.entry < s.guest_physical + s.memory_size) entry_inside = true;
    }
    if (out.segment_count == 0) {
        *error = "no loadable segments";
        return false;
    }
    if (out.entry > 0xffffffffull || !entry_inside) {
        *error = "the entry point is not inside a loaded segment below 4 GiB";
        return false;
    }
    return true;
}
