// Domains from GRUB modules: every module whose command line starts with "domain"
// (kernel/vm/domain_config.hpp) is a guest kernel; the modules after it, up to the next
// domain line, are that guest's own modules. An ELF kernel is loaded and entered as the
// Multiboot (v1) spec says; anything else is a flat real-mode binary loaded at 0x7c00
// and entered at 0000:7C00, like a boot sector.
#pragma once

#include "kernel/types.hpp"

struct Multiboot2Info;

// Creates and schedules every domain described; a bad one is reported and skipped.
// Returns how many domains were started.
u32 load_domains_from_modules(const Multiboot2Info& boot);

struct Domain;
struct GuestEntryState;
// For a restart after a guest reset: zeroes the domain's RAM and loads its kernel (a
// Linux bzImage) again from its modules; `entry` is where vCPU 0 starts.
bool reload_domain(Domain& domain, GuestEntryState& entry, const char** error);
