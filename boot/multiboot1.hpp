// Parser of the Multiboot (version 1) boot information (Multiboot spec 0.6.96, section
// 3.3), whose physical address a version-1 loader (QEMU's -kernel) passes in EBX. It
// fills the same Multiboot2Info as the Multiboot2 parser, so that nothing after the
// entry knows which protocol loaded Vireo. Unlike Multiboot2's single block, version 1
// scatters its pieces (command line, module list and strings, memory map) over memory
// through 32-bit pointers: each is read through BootMemory and copied, and a pointer
// that leads outside it is an error, as is anything that does not fit the copy.
//
// QEMU and GRUB Legacy begin the kernel's and each module's string with the file's path
// (GRUB 2's `multiboot` does not): it is dropped, up to the first blank, so that what
// Vireo sees is what GRUB's Multiboot2 `module2` passes (Xen does the same for its
// version-1 loaders). A path with a blank in it cannot be told apart.
// There is no RSDP in version 1's information: the kernel searches the BIOS areas for it.
#pragma once

#include "boot/multiboot2.hpp"
#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/types.hpp"

// EAX at the 32-bit entry (Multiboot spec 3.2, "Machine state").
inline constexpr u32 kMultiboot1BootloaderMagic = 0x2badb002;

// Physical memory as the parser reads it: the ACPI parser's interface, whose contract
// (one mapping valid at a time, any alignment) is the one this parser needs.
using BootMemory = AcpiMemory;

// On success fills `out` completely and returns true; on failure returns false with a
// static message in `*error` (when not null), and `out` must not be used.
bool parse_multiboot1(BootMemory& memory, PhysAddr info_phys, Multiboot2Info& out, const char** error);
