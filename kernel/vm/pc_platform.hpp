// The virtual PC a Linux domain stands on: the device models of kernel/vm/devices (PICs,
// PIT, port 0x61, COM1 with interrupts, ACPI PM block, PCI host bridge, reset control,
// keyboard controller, IOAPIC, one local APIC per vCPU), wired to the domain's port and
// MMIO buses, to its vCPUs' interrupt delivery and to the scheduler's time. All models of
// one domain sit behind one lock.
#pragma once

#include "kernel/types.hpp"

struct Domain;
struct Vcpu;

// Creates the platform and claims its ports and MMIO ranges. False with `error` when a
// port or MMIO range is already taken.
bool pc_platform_attach(Domain& domain, const char** error);
void pc_platform_destroy(Domain& domain);

// The platform reset, for a domain restart: every device back to its power-on state
// (but the RTC's clock and RAM). Every vCPU of the domain must be stopped.
void pc_platform_reset(Domain& domain);

// Before a vCPU of a platform domain enters the guest (on its CPU): brings device time
// up to date and requests the interrupt the guest should take next (ExtINT from the PIC,
// else the local APIC's highest pending vector). False when the vCPU must not run: an
// INIT stopped it (it waits for a start-up IPI).
bool pc_platform_before_entry(Vcpu& vcpu);
// After the exit: the interrupt requested before the entry was taken when the backend
// no longer holds the request, so the local APIC moves it from IRR to ISR.
void pc_platform_after_exit(Vcpu& vcpu);
// From the scheduler's loop on every CPU: raises whatever became due (timers) and wakes
// the vCPUs that got interrupts or a start-up IPI.
void pc_platform_poll(Domain& domain);
// HLT: the vCPU blocks unless (with RFLAGS.IF set) it has an interrupt to take. Decided
// under the lock every wake-up takes, so a wake-up cannot fall between the check and the
// block. With IF clear it blocks until an INIT or start-up IPI (NMIs are not delivered).
void pc_platform_halt(Vcpu& vcpu);

// CR8, the local APIC's TPR[7:4] (SDM vol. 3A 11.8.6.5).
u64 pc_platform_read_cr8(Vcpu& vcpu);
void pc_platform_write_cr8(Vcpu& vcpu, u64 value);

// The MSRs the local APIC owns (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC): true when
// `index` is one of them, with `ok` false for a #GP.
bool pc_platform_read_msr(Vcpu& vcpu, u32 index, u64& value, bool& ok);
bool pc_platform_write_msr(Vcpu& vcpu, u32 index, u64 value, bool& ok);
