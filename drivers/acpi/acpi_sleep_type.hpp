// The SLP_TYP values of the machine's soft-off state, \_S5, from the DSDT's AML.
//
// Writing SLP_EN with some SLP_TYP to the PM1 control registers puts the machine into the
// sleep state whose \_Sx object gives that SLP_TYP (ACPI 6.5 4.8.3.2.1 and 7.4.2). The
// values are the firmware's choice (QEMU's S5 is 0, many chipsets use 7), so whoever
// must tell power-off from sleep (Vireo, for Domain-0's writes) needs \_S5's values.
//
// This is no AML interpreter: it looks for the bytes of a named object \_S5 holding a
// package of integers, the form every firmware uses (ACPI 6.5 7.4.2's example), as
// ACPICA-less loaders do. A \_S5 that is a method, or a package built any other way, is
// "not found", and the caller must then do without.
//
// Pure: built into the hypervisor and the host unit tests (tested with QEMU's DSDTs).
#pragma once

#include "kernel/types.hpp"

class AcpiMemory;

struct AcpiSleepType {
    bool found = false;
    // The PM1a and PM1b control registers' SLP_TYP fields (3 bits each).
    u8 slp_typ_a = 0;
    u8 slp_typ_b = 0;
};

// Looks for \_S5 in `length` bytes of AML (a definition block's body, after its 36-byte
// header). The first well-formed Name(_S5, Package{...}) counts.
AcpiSleepType acpi_find_s5_in_aml(const u8* aml, usize length);

// The same, for the DSDT at `dsdt` (its header first, then the whole table). Not found
// when the table cannot be mapped or is not a DSDT.
AcpiSleepType acpi_read_s5(AcpiMemory& memory, PhysAddr dsdt);
