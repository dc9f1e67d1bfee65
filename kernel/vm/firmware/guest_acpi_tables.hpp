// The ACPI tables a Vireo PC guest finds in its BIOS area (ACPI Specification 6.5,
// "ACPI 5.2.x" below): RSDP (revision 2), RSDT and XSDT, FADT (revision 6), FACS, MADT and
// a small hand-written DSDT (guest_dsdt.hpp). They describe what the device models
// emulate: local APICs at 0xFEE00000, one I/O APIC, the PC/AT ISA interrupt routing, the
// ACPI PM1a event/control blocks and PM timer in I/O space (SCI on IRQ 9), reset through
// port 0xCF9, and the \_S5 sleep type for power-off. Pure logic; unit-tested by feeding
// the result back through the ACPI parser in drivers/acpi.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "mm/guest_page_walk.hpp"

// SLP_TYPa/SLP_TYPb value of \_S5 (soft off) in the DSDT: writing SLP_TYP = this with
// SLP_EN to PM1a_CNT (ACPI 4.8.3.2.1, Table 4.13) means "power off".
inline constexpr u8 kAcpiSlpTypS5 = 5;

// Default ACPI fixed-hardware I/O ports; the PM register model publishes the real ones.
inline constexpr u16 kAcpiDefaultPmBase = 0x600;
inline constexpr u16 kAcpiDefaultPm1aEventPort = kAcpiDefaultPmBase + 0x0;    // PM1a_STS (2) + PM1a_EN (2)
inline constexpr u16 kAcpiDefaultPm1aControlPort = kAcpiDefaultPmBase + 0x4;  // PM1a_CNT (2)
inline constexpr u16 kAcpiDefaultPmTimerPort = kAcpiDefaultPmBase + 0x8;      // PM_TMR (4)
// Register block lengths in bytes (ACPI 4.8.3.1-4.8.3.3: PM1_EVT_LEN >= 4, PM1_CNT_LEN
// >= 2, PM_TMR_LEN = 4).
inline constexpr u8 kAcpiPm1EventLength = 4;
inline constexpr u8 kAcpiPm1ControlLength = 2;
inline constexpr u8 kAcpiPmTimerLength = 4;

// The SCI: ISA IRQ 9, level-triggered active-high through an interrupt source override.
inline constexpr u8 kAcpiSciIrq = 9;
// The reset register (FADT RESET_REG): writing 0x06 to port 0xCF9 (PCI reset control,
// "full reset" + "reset CPU") resets the machine.
inline constexpr u16 kAcpiResetPort = 0xCF9;
inline constexpr u8 kAcpiResetValue = 0x06;
// CMOS RAM index of the century byte (FADT CENTURY).
inline constexpr u8 kAcpiCmosCenturyIndex = 0x32;

// The largest vCPU count the MADT describes: xAPIC ids are 8 bits and 0xFF is the
// broadcast id (ACPI 5.2.12.2 Processor Local APIC structure).
inline constexpr u32 kAcpiMaxVcpus = 255;

struct AcpiPmPorts {
    u16 pm1a_event = kAcpiDefaultPm1aEventPort;
    u16 pm1a_control = kAcpiDefaultPm1aControlPort;
    u16 pm_timer = kAcpiDefaultPmTimerPort;
    bool pm_timer_32bit = false;  // FADT TMR_VAL_EXT: the PM timer counts in 32 bits, else 24
};

struct AcpiPlatform {
    u32 vcpu_count = 1;  // local APIC id = ACPI processor UID = vCPU index
    u8 ioapic_id = kGuestIoApicId;
    u32 ioapic_address = u32(kGuestIoApicBase);
    u32 local_apic_address = u32(kGuestLocalApicBase);
    AcpiPmPorts pm = {};
    // Adds \_SB.PCI0 (a PNP0A03 host bridge, bus 0) to the DSDT. Leave it off unless the
    // guest has PCI configuration space at 0xCF8/0xCFC.
    bool pci_host_bridge = false;
};

struct AcpiBuildResult {
    bool ok = false;
    const char* error = nullptr;  // a sentence when !ok
    u64 rsdp_gpa = 0;
    u64 bytes_used = 0;  // from base_gpa, including alignment padding
    // Where each table went (for logs and tests).
    u64 rsdt_gpa = 0, xsdt_gpa = 0, fadt_gpa = 0, facs_gpa = 0, madt_gpa = 0, dsdt_gpa = 0;
};

// Writes every table into guest memory at [base_gpa, base_gpa + max_size), RSDP first at
// base_gpa itself, which must be 16-byte aligned. Nothing is written and an error is
// returned when the tables would not fit, when the platform is not describable (no vCPU,
// more than kAcpiMaxVcpus, an I/O APIC id equal to a local APIC id, a 32-bit address
// overflow) or when guest memory refuses a write (then the area is partly written).
AcpiBuildResult build_acpi_tables(GuestPhysicalMemory& memory, u64 base_gpa, u64 max_size,
                                  const AcpiPlatform& platform);
