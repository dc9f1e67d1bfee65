// Device models in Domain-0: a domain's accesses to the devices a device-model process in
// Domain-0 serves (their PCI configuration space on bus 0, the MMIO ranges of their BARs)
// are forwarded to it as I/O requests, as Xen's ioreq servers and ACRN's I/O requests to
// its service VM do (docs/hypercalls.md, "Device models").
//
// The device model gives a page of Domain-0's RAM (hypercall::IoreqPage) with one slot
// per vCPU. An access it serves is put into the vCPU's slot after the exit was handled
// (ioreq_after_exit), Domain-0's event line is raised and the vCPU blocks; the device
// model answers in the slot and makes the ioreq_complete call, which wakes the vCPU, and
// its exit is handled again before its next entry (ioreq_vcpu_hold) with the answer
// replayed (kernel/ioreq/forwarded_access_log.hpp). Writes to a doorbell (a virtio
// queue notification) are posted instead: a bit in the page, the event line, and the
// vCPU goes on (KVM's ioeventfd).
//
// The server is the domain's (Domain::ioreq), made at the first attach and freed with the
// domain's resources, so the forwarding devices on its MMIO bus outlive every vCPU that
// could reach them. A detached server (the device model went away) answers every access
// at once, with all ones for reads, as an absent device would.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/vm_exit.hpp"

struct Domain;
struct Vcpu;
class IoreqServer;

// During an exit's handling, on the vCPU's CPU: an access to a device of the domain's
// device model. Returns a read's value (all ones while the answer is awaited: the caller
// checks ioreq_waiting and leaves the instruction uncompleted).
u64 ioreq_forward(Vcpu& vcpu, u8 type, u64 address, u8 size, bool write, u64 value);
// Whether this handling sent a request: the instruction must not complete now.
bool ioreq_waiting(const Vcpu& vcpu);
// Whether device `device` (0-31) of the domain's PCI bus 0 is its device model's.
bool ioreq_pci_device_forwarded(const Domain& domain, u8 device);

// The scheduler's hooks, on the vCPU's CPU with its RunGate entered:
// before the entry: true when it must not enter now (it waits for an answer; or the
// answer came, its exit was handled again and it waits for the next one).
bool ioreq_vcpu_hold(Vcpu& vcpu);
// Before an exit is handled: replay starts from the instruction's first forwarded access.
void ioreq_begin_handling(Vcpu& vcpu);
// After an exit was handled: a request it made is sent and the vCPU blocks.
void ioreq_after_exit(Vcpu& vcpu, const VmExit& exit);
// A vCPU put into a new state (reset, restart, restore) forgets what it was waiting for.
void ioreq_vcpu_reset(Vcpu& vcpu);

// The control calls (each returns 0 or a result, or a negative hypercall error).
i64 ioreq_attach(Domain& caller, Domain& target, u64 page_gfn);
i64 ioreq_detach(Domain& caller, Domain& target);
i64 ioreq_map(Domain& caller, Domain& target, u64 kind, u64 base, u64 size, u64 stride);
i64 ioreq_complete(Domain& caller, Domain& target, u64 vcpu_index);
// The domain's memory target changed (domain_memory_target, a restart): its device
// model's page shows the new one (IoreqPage::memory_target) before the event line rises.
void ioreq_memory_target_changed(Domain& domain);
// When the domain's resources go (every vCPU stopped): its server and forwarding devices.
void ioreq_release(Domain& domain);
