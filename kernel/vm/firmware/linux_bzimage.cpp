#include "kernel/vm/firmware/linux_bzimage.hpp"

#include <string.h>

#include "kernel/vm/firmware/linux_boot_params.hpp"

namespace {

// Little-endian loads at offsets already checked against the image size.
template <typename T>
T field(const u8* image, usize offset) {
    T value;
    memcpy(&value, image + offset, sizeof value);
    return value;
}

bool fail(const char** error, const char* message) {
    *error = message;
    return false;
}

bool is_power_of_two(u64 v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

bool parse_linux_bzimage(const u8* image, usize size, LinuxBzImage& out, const char** error) {
    out = {};
    if (image == nullptr || size < kLinuxHdrBootFlag + 2) {
        return fail(error, "kernel image too small to hold a Linux setup header");
    }
    if (field<u16>(image, kLinuxHdrBootFlag) != kLinuxBootFlag) {
        return fail(error, "no boot flag 0xAA55 at offset 0x1FE: not a Linux kernel image");
    }
    if (size < kLinuxHdrVersion + 2 || field<u32>(image, kLinuxHdrHeader) != kLinuxHeaderMagic) {
        return fail(error, "no \"HdrS\" at offset 0x202: a pre-2.00 Linux image, not a bzImage");
    }
    out.protocol_version = field<u16>(image, kLinuxHdrVersion);
    if (out.protocol_version < kLinuxMinimumProtocol) {
        return fail(error, "Linux boot protocol older than 2.12 (no xloadflags): too old a kernel");
    }
    out.header_end = kLinuxHeaderEndBase + image[kLinuxHeaderLengthByteOffset];
    if (out.header_end < kLinuxHdrInitSize + 4) {
        return fail(error, "Linux setup header (length byte at 0x201) ends before the 2.12 fields");
    }
    if (out.header_end > kLinuxHeaderAreaEnd) {
        return fail(error, "Linux setup header (length byte at 0x201) runs past 0x290");
    }
    if (size < out.header_end) return fail(error, "kernel image truncated inside its setup header");

    // From here on every field read lies inside [0x1F1, header_end), itself inside the image.
    if ((image[kLinuxHdrLoadflags] & kLinuxLoadedHigh) == 0) {
        return fail(error, "LOADED_HIGH clear in loadflags: a zImage, not a bzImage");
    }
    out.xloadflags = field<u16>(image, kLinuxHdrXloadflags);
    out.kernel_64 = (out.xloadflags & kLinuxXlfKernel64) != 0;
    const u8 setup_sects = image[kLinuxHdrSetupSects] != 0 ? image[kLinuxHdrSetupSects] : kLinuxDefaultSetupSects;
    out.setup_size = (usize(setup_sects) + 1) * kLinuxSectorSize;
    if (out.setup_size >= size) {
        return fail(error, "setup_sects puts the protected-mode kernel at or past the end of the image");
    }
    out.protected_mode = image + out.setup_size;
    out.protected_mode_size = size - out.setup_size;
    // syssize counts 16-byte paragraphs of protected-mode code (2.04+); the file may carry
    // more after it (an appended signature), never less.
    const u64 syssize_bytes = u64(field<u32>(image, kLinuxHdrSyssize)) * 16;
    if (syssize_bytes > out.protected_mode_size) {
        return fail(error, "kernel image truncated: shorter than its syssize field says");
    }

    out.relocatable = image[kLinuxHdrRelocatableKernel] != 0;
    out.kernel_alignment = field<u32>(image, kLinuxHdrKernelAlignment);
    if (out.relocatable && !is_power_of_two(out.kernel_alignment)) {
        return fail(error, "relocatable kernel with a kernel_alignment that is not a power of two");
    }
    out.pref_address = field<u64>(image, kLinuxHdrPrefAddress);
    out.init_size = field<u32>(image, kLinuxHdrInitSize);
    if (out.init_size == 0) return fail(error, "init_size is 0: the kernel states no memory need");
    out.cmdline_size = field<u32>(image, kLinuxHdrCmdlineSize);
    out.initrd_addr_max = field<u32>(image, kLinuxHdrInitrdAddrMax);
    *error = nullptr;
    return true;
}
