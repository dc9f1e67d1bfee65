// Validation of a guest kernel image in ELF (System V ABI, ELF-32 and ELF-64 for i386
// and x86-64): the loadable segments, checked against the file and the guest's memory,
// and the entry point. Nothing in a malformed image can make the loader read or write
// outside the file or the guest's memory. Pure logic; unit-tested.
#pragma once

#include "kernel/types.hpp"

struct ElfSegment {
    u64 guest_physical;  // p_paddr: where the multiboot protocol loads it
    u64 file_offset;
    u64 file_size;
    u64 memory_size;  // >= file_size; the rest is zeroed
};

struct ElfImage {
    static constexpr usize kMaxSegments = 16;
    bool is_64bit;
    u64 entry;
    ElfSegment segments[kMaxSegments];
    usize segment_count;
    u64 highest_address;  // end of the highest segment
};

bool looks_like_elf(const u8* data, usize size);

// False with a sentence in `error` when the image is not a loadable x86 ELF executable
// that fits below `guest_memory_bytes` with a 32-bit entry point inside a segment.
bool parse_elf_image(const u8* data, usize size, u64 guest_memory_bytes, ElfImage& out, const char** error);
