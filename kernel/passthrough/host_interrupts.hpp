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

// Vireo's event line into Domain-0: a pin of its virtual I/O APIC beyond the machine's
// (GSI 24, edge, active high; the event_gsi call tells it), which Vireo's module in
// Domain-0 takes as an ordinary interrupt (acpi_register_gsi) and which wakes the device
// models waiting on /dev/vireo. Any CPU, any context: marks it pending and notifies
// dom0's vCPU 0; its platform pulses the pin before a vCPU enters.
inline constexpr u8 kDom0EventGsi = 24;
void dom0_event_raise();
// Whether it was raised since the last call (cleared).
bool dom0_event_take();

// Message-signalled interrupts (PCI MSI and MSI-X) of dom0's devices: each source dom0
// enables gets a vector of the hypervisor's own, programmed into the device as a message
// to the boot CPU (Intel SDM vol. 3A 11.11: address 0xFEExx000 with the APIC ID in bits
// 19:12, data = the vector, fixed delivery, edge); its handler marks it pending, and dom0's
// platform delivers the message dom0 itself programmed.
inline constexpr u8 kHostMsiVectorBase = 0x90;
inline constexpr u32 kHostMsiVectorCount = 0x50;  // 0x90-0xdf
// A free vector's index (vector = kHostMsiVectorBase + index), or -1 when none is left.
i32 host_msi_allocate();
void host_msi_free(u32 index);
void host_msi_message(u32 index, u64& address, u32& data);
// The sources that fired since the last call (bit i of word i / 64), cleared.
void host_msi_take_pending(u64 out[2]);
