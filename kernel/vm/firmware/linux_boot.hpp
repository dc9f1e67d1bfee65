// Loads a Linux bzImage, its initrd and its command line into a guest and prepares the
// 64-bit boot protocol entry (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"),
// or for an i386 kernel the 32-bit one ("32-bit Boot Protocol"):
// the protected-mode kernel at its preferred address, the initrd as high as the kernel
// allows, boot_params ("zero page") with the setup header, e820 map and RSDP address, and
// identity-mapped long mode (64-bit) or flat protected mode with paging off (32-bit). Addresses come from
// guest_pc_layout.hpp. Pure logic; unit-tested.
//
// Typical use, for a domain whose RAM is mapped as guest_pc_layout.hpp describes:
//   AcpiPlatform platform;  platform.vcpu_count = n;
//   AcpiBuildResult acpi = build_acpi_tables(mem, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform);
//   LinuxBootInputs in{kernel, kernel_size, initrd, initrd_size, cmdline, ram_bytes, acpi.rsdp_gpa};
//   LinuxEntryState entry;
//   if (!load_linux_kernel(mem, in, entry, &error)) ...;  // then start vCPU 0 from `entry`
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/firmware/e820_map.hpp"
#include "kernel/vm/firmware/long_mode_boot.hpp"
#include "mm/guest_page_walk.hpp"

struct LinuxBootInputs {
    const u8* kernel;  // the bzImage file
    usize kernel_size;
    const u8* initrd;  // nullptr with size 0: no initrd
    usize initrd_size;
    const char* cmdline;  // NUL-terminated; nullptr means empty
    u64 ram_bytes;        // the domain's RAM (guest_pc_layout.hpp)
    u64 rsdp_gpa;         // boot_params.acpi_rsdp_addr; 0 lets Linux scan 0xE0000-0xFFFFF itself
    // The memory map to hand over (dom0's, from the host's); null: the virtual PC's for
    // ram_bytes. The kernel and initrd go into its RAM entries; the boot structures of
    // guest_pc_layout.hpp (below 0x30000) must be RAM in it too.
    const E820Map* e820 = nullptr;
};

// The kernel's loader default when pref_address is unusable: LOAD_PHYSICAL_ADDR of x86_64
// kernels (CONFIG_PHYSICAL_START), below which a relocatable kernel never decompresses.
inline constexpr u64 kLinuxDefaultLoadAddress = 16 * MiB;

struct LinuxEntryState {
    u64 rip;            // kernel load address + 0x200 (the 64-bit entry), or the load address (32-bit)
    u64 rsp;            // a small boot stack in low memory (the protocol asks for none; harmless)
    u64 rsi;            // guest-physical address of boot_params
    LongModeState cpu;  // control registers, EFER, GDT, segments, RFLAGS (IF = 0)
    bool entry_64;      // long mode at the 64-bit entry; false: the i386 kernel's 32-bit entry

    // Where everything went, for logs.
    u64 kernel_gpa;
    u64 kernel_end;  // kernel_gpa + max(init_size, protected-mode size): kept clear of the initrd
    u64 initrd_gpa;  // 0 without an initrd
    u64 initrd_size;
    u64 boot_params_gpa;
    u64 cmdline_gpa;
    u16 protocol_version;
};

// Validates everything first (image, RAM size, placement, initrd, command line) and writes
// nothing to guest memory unless all of it fits; returns false with a sentence in *error
// (then `out` is unspecified, and guest memory may be partly written only if the memory
// itself refused a write).
bool load_linux_kernel(GuestPhysicalMemory& memory, const LinuxBootInputs& in, LinuxEntryState& out,
                       const char** error);
