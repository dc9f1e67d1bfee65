// Validation of a Linux x86 bzImage for the 64-bit boot protocol (Documentation/arch/x86/
// boot.rst): the setup header at 0x1F1, checked field by field against the image's size,
// so that no malformed module can make the loader read past its end. Pure logic; unit-tested.
#pragma once

#include "kernel/types.hpp"

struct LinuxBzImage {
    u16 protocol_version;      // e.g. 0x020F for 2.15
    usize header_end;          // 0x202 + the byte at 0x201: the setup header is [0x1F1, header_end)
    usize setup_size;          // (setup_sects + 1) * 512: boot sector + real-mode setup, not loaded
    const u8* protected_mode;  // the rest of the file: loaded at the kernel's load address
    usize protected_mode_size;
    u16 xloadflags;
    bool kernel_64;  // XLF_KERNEL_64: an x86_64 kernel, entered at +0x200 in long mode; else i386
    bool relocatable;
    u32 kernel_alignment;  // a power of two when relocatable
    u64 pref_address;      // 0 when the kernel states none
    u32 init_size;         // memory the kernel needs from its runtime start before it reads e820
    u32 cmdline_size;      // the longest command line it takes, without the NUL
    u32 initrd_addr_max;   // the highest byte an initrd may occupy
};

// False with a sentence in *error when `image` is not a bzImage this loader can enter
// (no boot flag or "HdrS", protocol < 2.12,
// a header or protected-mode part cut short, a field that makes no sense).
bool parse_linux_bzimage(const u8* image, usize size, LinuxBzImage& out, const char** error);
