// I/O APICs (82093AA datasheet; ACPI MADT type 1). Each IOAPIC is found, checked and
// fully masked at boot; the hypervisor owns no device interrupt itself, and routes the
// lines Domain-0's devices raise to vectors of its own (kernel/passthrough/host_interrupts.hpp).
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

// Redirection entry of `gsi` on whichever IOAPIC serves it: fixed delivery of `vector` to
// the local APIC `apic_id` (physical destination), with the line's trigger and polarity.
// False when no IOAPIC serves the GSI. Safe from interrupt handlers (under an IRQ lock).
bool ioapic_program(u32 gsi, u8 vector, u8 apic_id, bool level, bool active_low, bool masked);
// The same in the remappable format of VT-d (Intel VT-d 5.1.5.1): the interrupt
// remapping table entry `handle` says where the line goes; `vector` must be that entry's
// (the local APIC's EOI broadcast is matched against the entry's vector).
bool ioapic_program_remapped(u32 gsi, u16 handle, u8 vector, bool level, bool active_low, bool masked);
bool ioapic_set_masked(u32 gsi, bool masked);
// Whether an IOAPIC serves `gsi`.
bool ioapic_serves(u32 gsi);
