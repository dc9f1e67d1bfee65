// Domain-0 and the real machine, the hypervisor's side (docs/ARCHITECTURE.md, "Domain-0"):
// which host-physical pages it may reach (host_physical_policy.hpp, filled at boot), its
// nested page faults on device pages (mapped straight through, uncached, on first touch;
// a page it may not reach reads as all ones and ignores writes, as an empty bus would,
// and is logged), and the I/O permission bitmap that lets every port access no device
// model claims reach the hardware without an exit.
#pragma once

#include "drivers/acpi/acpi_sleep_type.hpp"
#include "kernel/types.hpp"
#include "mm/guest_memory.hpp"

struct AcpiInfo;
struct Domain;
struct Multiboot2Info;
struct NestedPageFaultExit;
struct Vcpu;

// At boot, after the ACPI tables are parsed: host RAM and the hypervisor's devices,
// among them its console's UART (`console_port`, 8 ports).
void passthrough_init(const Multiboot2Info& boot, const AcpiInfo& acpi, u16 console_port);
const class HostPhysicalPolicy& passthrough_policy();
// The machine's ACPI tables as parsed at boot (Domain-0's builder lists them).
const AcpiInfo& passthrough_host_acpi();

// The machine's ACPI fixed-hardware ports Domain-0 reaches through a model (0: none),
// and the SLP_TYP values of its S5 state from the DSDT's \_S5 (pm1_control_policy.hpp).
struct HostAcpiPorts {
    u16 pm1a_control = 0, pm1b_control = 0;
    AcpiSleepType s5;
};
HostAcpiPorts passthrough_acpi_ports();
// Zeroes the waking vectors of the machine's FACS (ACPI 6.5 5.2.10: Firmware Waking
// Vector and X Firmware Waking Vector), right before Vireo powers the machine off: should
// the write put it to sleep after all, its firmware must find no Domain-0 code to resume.
void passthrough_clear_waking_vectors();
// Where dom0's virtual I/O APIC sits: where the machine's first one is (its MADT says so).
u64 passthrough_ioapic_base();

// Conventional memory dom0 takes as its own: the host's RAM from address 0 up to the
// first page that is not RAM (below the EBDA), which the frame allocator never hands out
// (the first MiB is reserved for good) and the hypervisor no longer uses once the other
// CPUs have started. Empty when the memory map has no RAM at 0.
GuestRamRange passthrough_low_memory(const Multiboot2Info& boot);

// For a hardware domain, after its platform claimed its ports and MMIO: the fallback for
// pages it may not reach, and the I/O bitmap (charged to its quota). False with `error`.
bool passthrough_attach(Domain& domain, const char** error);
void passthrough_detach(Domain& domain);

// A nested page fault of a hardware domain outside its RAM and its emulated devices:
// true when the page (or its whole 2 MiB block) was mapped through and the access is to
// be retried; false when it must be emulated (claimed, or not allowed: the fallback).
bool passthrough_nested_fault(Vcpu& vcpu, const NestedPageFaultExit& npf);
