// The x86 Linux boot protocol's data layout: the setup header a bzImage carries at offset
// 0x1F1 and the "zero page" (struct boot_params) a boot loader hands to the kernel.
// Mirrors arch/x86/include/uapi/asm/bootparam.h and Documentation/arch/x86/boot.rst
// ("boot.rst") and zero-page.rst; every offset used is checked against the documented one.
// The structs describe layout only: the loader reads and writes fields at these offsets.
#pragma once

#include "kernel/types.hpp"

// struct setup_header (bootparam.h), at offset 0x1F1 of both the image and boot_params.
struct __attribute__((packed)) LinuxSetupHeader {
    u8 setup_sects;
    u16 root_flags;
    u32 syssize;
    u16 ram_size;
    u16 vid_mode;
    u16 root_dev;
    u16 boot_flag;
    u16 jump;
    u32 header;
    u16 version;
    u32 realmode_swtch;
    u16 start_sys_seg;
    u16 kernel_version;
    u8 type_of_loader;
    u8 loadflags;
    u16 setup_move_size;
    u32 code32_start;
    u32 ramdisk_image;
    u32 ramdisk_size;
    u32 bootsect_kludge;
    u16 heap_end_ptr;
    u8 ext_loader_ver;
    u8 ext_loader_type;
    u32 cmd_line_ptr;
    u32 initrd_addr_max;
    u32 kernel_alignment;
    u8 relocatable_kernel;
    u8 min_alignment;
    u16 xloadflags;
    u32 cmdline_size;
    u32 hardware_subarch;
    u64 hardware_subarch_data;
    u32 payload_offset;
    u32 payload_length;
    u64 setup_data;
    u64 pref_address;
    u32 init_size;
    u32 handover_offset;
    u32 kernel_info_offset;
};

// struct boot_e820_entry.
struct __attribute__((packed)) LinuxE820Entry {
    u64 addr;
    u64 size;
    u32 type;
};

// struct boot_params: 4096 bytes; the parts Vireo never fills are opaque byte arrays.
struct __attribute__((packed)) LinuxBootParams {
    u8 screen_info[0x40];
    u8 apm_bios_info[0x14];
    u8 pad2[4];
    u64 tboot_addr;
    u8 ist_info[0x10];
    u64 acpi_rsdp_addr;
    u8 pad3[8];
    u8 hd0_info[16];
    u8 hd1_info[16];
    u8 sys_desc_table[16];
    u8 olpc_ofw_header[16];
    u32 ext_ramdisk_image;
    u32 ext_ramdisk_size;
    u32 ext_cmd_line_ptr;
    u8 pad4[116];
    u8 edid_info[0x80];
    u8 efi_info[0x20];
    u32 alt_mem_k;
    u32 scratch;
    u8 e820_entries;
    u8 eddbuf_entries;
    u8 edd_mbr_sig_buf_entries;
    u8 kbd_status;
    u8 secure_boot;
    u8 pad5[2];
    u8 sentinel;
    u8 pad6[1];
    LinuxSetupHeader hdr;
    u8 pad7[0x290 - 0x1F1 - sizeof(LinuxSetupHeader)];
    u32 edd_mbr_sig_buffer[16];
    LinuxE820Entry e820_table[128];
    u8 pad8[48];
    u8 eddbuf[6 * 82];
    u8 pad9[276];
};

inline constexpr usize kLinuxBootParamsSize = 4096;
inline constexpr usize kLinuxSetupHeaderOffset = 0x1F1;
// boot.rst: the header ends at 0x202 + the byte at 0x201 (the jump's displacement), and
// can never reach past the hole boot_params leaves for it.
inline constexpr usize kLinuxHeaderLengthByteOffset = 0x201;
inline constexpr usize kLinuxHeaderEndBase = 0x202;
inline constexpr usize kLinuxHeaderAreaEnd = 0x290;
inline constexpr usize kLinuxSectorSize = 512;
inline constexpr u8 kLinuxDefaultSetupSects = 4;  // boot.rst: setup_sects 0 means 4

// Offset of a setup header field in the image and in boot_params.
#define VIREO_HDR(field) (kLinuxSetupHeaderOffset + offsetof(LinuxSetupHeader, field))
inline constexpr usize kLinuxHdrSetupSects = VIREO_HDR(setup_sects);
inline constexpr usize kLinuxHdrSyssize = VIREO_HDR(syssize);
inline constexpr usize kLinuxHdrBootFlag = VIREO_HDR(boot_flag);
inline constexpr usize kLinuxHdrHeader = VIREO_HDR(header);
inline constexpr usize kLinuxHdrVersion = VIREO_HDR(version);
inline constexpr usize kLinuxHdrTypeOfLoader = VIREO_HDR(type_of_loader);
inline constexpr usize kLinuxHdrLoadflags = VIREO_HDR(loadflags);
inline constexpr usize kLinuxHdrCode32Start = VIREO_HDR(code32_start);
inline constexpr usize kLinuxHdrRamdiskImage = VIREO_HDR(ramdisk_image);
inline constexpr usize kLinuxHdrRamdiskSize = VIREO_HDR(ramdisk_size);
inline constexpr usize kLinuxHdrCmdLinePtr = VIREO_HDR(cmd_line_ptr);
inline constexpr usize kLinuxHdrInitrdAddrMax = VIREO_HDR(initrd_addr_max);
inline constexpr usize kLinuxHdrKernelAlignment = VIREO_HDR(kernel_alignment);
inline constexpr usize kLinuxHdrRelocatableKernel = VIREO_HDR(relocatable_kernel);
inline constexpr usize kLinuxHdrMinAlignment = VIREO_HDR(min_alignment);
inline constexpr usize kLinuxHdrXloadflags = VIREO_HDR(xloadflags);
inline constexpr usize kLinuxHdrCmdlineSize = VIREO_HDR(cmdline_size);
inline constexpr usize kLinuxHdrPrefAddress = VIREO_HDR(pref_address);
inline constexpr usize kLinuxHdrInitSize = VIREO_HDR(init_size);
#undef VIREO_HDR

inline constexpr usize kLinuxBpAcpiRsdpAddr = offsetof(LinuxBootParams, acpi_rsdp_addr);
inline constexpr usize kLinuxBpExtRamdiskImage = offsetof(LinuxBootParams, ext_ramdisk_image);
inline constexpr usize kLinuxBpExtRamdiskSize = offsetof(LinuxBootParams, ext_ramdisk_size);
inline constexpr usize kLinuxBpExtCmdLinePtr = offsetof(LinuxBootParams, ext_cmd_line_ptr);
inline constexpr usize kLinuxBpE820Entries = offsetof(LinuxBootParams, e820_entries);
inline constexpr usize kLinuxBpSentinel = offsetof(LinuxBootParams, sentinel);
inline constexpr usize kLinuxBpE820Table = offsetof(LinuxBootParams, e820_table);
inline constexpr usize kLinuxE820TableEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// The documented offsets (boot.rst "The Real-Mode Kernel Header", bootparam.h comments).
static_assert(sizeof(LinuxSetupHeader) == 0x26C - 0x1F1);
static_assert(sizeof(LinuxE820Entry) == 20);
static_assert(sizeof(LinuxBootParams) == kLinuxBootParamsSize);
static_assert(kLinuxHdrSetupSects == 0x1F1 && kLinuxHdrSyssize == 0x1F4 && kLinuxHdrBootFlag == 0x1FE);
static_assert(kLinuxHdrHeader == 0x202 && kLinuxHdrVersion == 0x206 && kLinuxHdrTypeOfLoader == 0x210);
static_assert(kLinuxHdrLoadflags == 0x211 && kLinuxHdrCode32Start == 0x214 && kLinuxHdrRamdiskImage == 0x218);
static_assert(kLinuxHdrRamdiskSize == 0x21C && kLinuxHdrCmdLinePtr == 0x228 && kLinuxHdrInitrdAddrMax == 0x22C);
static_assert(kLinuxHdrKernelAlignment == 0x230 && kLinuxHdrRelocatableKernel == 0x234);
static_assert(kLinuxHdrMinAlignment == 0x235 && kLinuxHdrXloadflags == 0x236 && kLinuxHdrCmdlineSize == 0x238);
static_assert(kLinuxHdrPrefAddress == 0x258 && kLinuxHdrInitSize == 0x260);
static_assert(kLinuxBpAcpiRsdpAddr == 0x070 && kLinuxBpExtRamdiskImage == 0x0C0 && kLinuxBpExtRamdiskSize == 0x0C4);
static_assert(kLinuxBpExtCmdLinePtr == 0x0C8 && kLinuxBpE820Entries == 0x1E8 && kLinuxBpSentinel == 0x1EF);
static_assert(offsetof(LinuxBootParams, hdr) == 0x1F1 && kLinuxBpE820Table == 0x2D0);
static_assert(offsetof(LinuxBootParams, edd_mbr_sig_buffer) == 0x290 && offsetof(LinuxBootParams, eddbuf) == 0xD00);

// Magic values and flags (boot.rst, bootparam.h).
inline constexpr u16 kLinuxBootFlag = 0xAA55;
inline constexpr u32 kLinuxHeaderMagic = 0x53726448;  // "HdrS"
// 2.12 brought xloadflags (XLF_KERNEL_64: the 64-bit entry at load address + 0x200; an
// i386 kernel has it clear and is entered at its load address in protected mode);
// 2.10 already brought pref_address and init_size.
inline constexpr u16 kLinuxMinimumProtocol = 0x020C;
inline constexpr u8 kLinuxLoadedHigh = 1u << 0;  // loadflags: a bzImage, loaded at 1 MiB or above
inline constexpr u8 kLinuxCanUseHeap = 1u << 7;
inline constexpr u16 kLinuxXlfKernel64 = 1u << 0;
inline constexpr u16 kLinuxXlfCanBeLoadedAbove4g = 1u << 1;
inline constexpr u8 kLinuxLoaderUndefined = 0xFF;  // type_of_loader: no assigned id
inline constexpr u64 kLinux64BitEntryOffset = 0x200;
