// I/O APICs (82093AA datasheet; ACPI MADT type 1). At this stage the hypervisor owns
// no device interrupts, so each IOAPIC is found, checked and fully masked; routing
// arrives with the devices that need it.
#pragma once

#include "kernel/types.hpp"

struct IoApicState {
    u8 id;
    PhysAddr address;
    u32 gsi_base;
    u32 redirection_entries;  // from the version register
};

// Maps the IOAPIC, reads its version and masks every redirection entry. False (with a
// log line) when nothing sensible answers at that address.
bool ioapic_init(u8 id, PhysAddr address, u32 gsi_base, IoApicState& state);
