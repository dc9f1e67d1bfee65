// A Linux domain on the virtual PC, built into its memory: the ACPI tables, then the
// kernel, its initrd and its command line (Linux's 64-bit or 32-bit boot protocol), and vCPU 0's
// entry state. One source for the hypervisor's GRUB loader (kernel/vm/guest_loader.cpp)
// and Domain-0's `xm create` (dom0/xm), which writes the same bytes through hypercalls.
// Pure; unit-tested.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/boot_state.hpp"
#include "kernel/vm/firmware/linux_boot.hpp"
#include "mm/guest_page_walk.hpp"

struct LinuxDomainImage {
    const u8* kernel;  // the bzImage file
    usize kernel_size;
    const u8* initrd;  // nullptr with size 0: none
    usize initrd_size;
    const char* cmdline;  // NUL-terminated; nullptr means empty
    u64 ram_bytes;        // the domain's RAM (guest_pc_layout.hpp)
    u32 vcpus;
};

// vCPU 0's start at the kernel's 64-bit entry, or an i386 kernel's 32-bit one
// (Documentation/arch/x86/boot.rst).
GuestEntryState linux_entry_state(const LinuxEntryState& linux);

// Writes nothing unless the image fits (load_linux_kernel's rule); false with a sentence
// in *error.
bool build_linux_domain(GuestPhysicalMemory& memory, const LinuxDomainImage& image, GuestEntryState& entry,
                        LinuxEntryState& placed, const char** error);
