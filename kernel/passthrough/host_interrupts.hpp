// The machine's device interrupts, given to Domain-0. Each line (GSI) of the real I/O
// APICs that dom0's devices may raise is routed to a vector of the hypervisor's own on
// the boot CPU; its handler takes nothing but atomics (it may interrupt any code): it
// marks the line pending, masks it when level-triggered (the device holds it until dom0's
// driver has served it), EOIs the local APIC and notifies dom0's vCPU 0. dom0's platform
// takes the pending lines before a vCPU enters and raises the same pins of its virtual
// I/O APIC; a level line is unmasked again when dom0 EOIs it (Xen and KVM forward
// level-triggered INTx the same way: mask at the source until the guest's EOI).
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

// The vector of GSI n is kHostGsiVectorBase + n.
inline constexpr u8 kHostGsiVectorBase = 0x50;
inline constexpr u32 kHostGsiCount = 48;

// At boot, after the I/O APICs are masked: the handlers.
void host_interrupts_init();
// Whether dom0 may have `gsi` (an I/O APIC serves it, and it is in range).
bool host_gsi_forwardable(u32 gsi);
// dom0 programmed its virtual pin `gsi`: the real line follows (trigger, polarity, mask).
void host_gsi_program(u32 gsi, bool level, bool active_low, bool masked);
// dom0 EOIed a level-triggered line: it may interrupt again.
void host_gsi_unmask(u32 gsi);
// The lines that fired since the last call (bit n = GSI n), cleared.
u64 host_gsi_take_pending();
// The vCPU the handlers notify (dom0's vCPU 0), or null.
void host_interrupts_set_target(Vcpu* vcpu);
