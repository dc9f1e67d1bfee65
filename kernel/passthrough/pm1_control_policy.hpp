// What becomes of Domain-0's writes to the machine's PM1 control registers (ACPI 6.5
// 4.8.3.2.1, Table 4.13: SLP_TYP in bits 12:10, SLP_EN in bit 13; PM1a and PM1b are
// 2-byte registers). A write without SLP_EN passes through. With SLP_EN it would change
// the machine's sleep state under the hypervisor, so:
//  - SLP_TYP equal to the machine's S5 type (\_S5 in the DSDT, acpi_sleep_type.hpp): the
//    machine is powered off once the other domains have ended (dom0_power.hpp);
//  - any other sleep state is refused and nothing is written. Vireo has no sleep support:
//    on resume the firmware would jump to dom0's waking vector in the FACS, on bare
//    metal, with the hypervisor gone (ACPI 6.5 7.4.2, 16.3);
//  - with no \_S5 found, Vireo cannot tell S5 from the others and keeps what it did
//    before: power-off, with a warning.
//
// Pure: built into the hypervisor and the host unit tests.
#pragma once

#include "drivers/acpi/acpi_sleep_type.hpp"
#include "kernel/types.hpp"

namespace pm1_control {
inline constexpr u16 kSlpTypShift = 10;
inline constexpr u16 kSlpTypMask = 0x7u << kSlpTypShift;
inline constexpr u16 kSlpEn = 1u << 13;
}  // namespace pm1_control

enum class Pm1WriteAction : u8 {
    PassThrough,  // no SLP_EN: write it to the hardware as it is
    PowerOff,     // S5 (or S5 unknown: see `s5_unknown`): the power-off path
    RefuseSleep,  // another sleep state: drop it
};

struct Pm1WriteDecision {
    Pm1WriteAction action = Pm1WriteAction::PassThrough;
    u8 slp_typ = 0;           // the SLP_TYP written with SLP_EN
    bool s5_unknown = false;  // PowerOff without a \_S5 to check against: warn
    u16 image = 0;            // the write's bytes in their place in the register
    u16 lanes = 0;            // the register bits the write covers
};

// A write of `size` bytes (1, 2 or 4) of `value` at byte `offset` (0 or 1) of a PM1
// control block; `block_b` says which of the two (each has its own SLP_TYP, \_S5's
// first and second values). Bytes past the 2-byte register are not the register's.
Pm1WriteDecision pm1_control_write(u16 offset, u8 size, u32 value, const AcpiSleepType& s5, bool block_b);

// The register value that puts the machine into sleep type `slp_typ` with SLP_EN, from
// the value it reads now (`current`; its other bits, such as SCI_EN, stay).
constexpr u16 pm1_sleep_value(u16 current, u8 slp_typ) {
    return u16((current & ~(pm1_control::kSlpTypMask | pm1_control::kSlpEn)) |
               (u16(slp_typ & 7u) << pm1_control::kSlpTypShift) | pm1_control::kSlpEn);
}
