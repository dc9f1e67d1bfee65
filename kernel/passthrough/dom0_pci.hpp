// Domain-0's PCI devices, the hypervisor's side of the mediator
// (kernel/vm/devices/passthrough/pci_passthrough.hpp): the machine's configuration space
// (0xCF8/0xCFC, and the ECAM window where the MCFG table gives one), the uncached
// mappings of MSI-X tables, host vectors for the MSIs dom0 enables, the trapped MSI-X
// table pages on dom0's MMIO bus, and its configuration ports. Everything runs under the
// platform lock the owner passes in (the mediator has none of its own).
#pragma once

#include "kernel/types.hpp"

class ApicMessageSink;
class SpinLock;
struct Domain;

class Dom0Pci;

// Builds the mediator for `domain` (a hardware domain), scans the real bus, claims
// 0xCF8/0xCFA-0xCFF, the ECAM window and the MSI-X table pages. Null with `error`.
Dom0Pci* dom0_pci_create(Domain& domain, ApicMessageSink& apic, SpinLock& platform_lock, const char** error);
void dom0_pci_destroy(Dom0Pci* pci);
usize dom0_pci_footprint();
// Under the platform lock: delivers dom0's messages for the host MSI vectors that fired.
void dom0_pci_take_host_interrupts(Dom0Pci& pci);
