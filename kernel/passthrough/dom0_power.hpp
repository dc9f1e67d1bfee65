// Domain-0's power-off is the machine's, as on Xen: when dom0 writes SLP_EN with the
// machine's S5 type to its PM1 control register (ACPI 6.5 4.8.3.2.1; other sleep states
// are refused: kernel/passthrough/pm1_control_policy.hpp), the write is held back; every other
// domain is asked to shut down (the ACPI power button of its virtual PC; a domain with
// no such button cannot be asked), those still running after kGraceSeconds are ended,
// dom0 itself ends, and once every domain has ended the held write powers the machine
// off (domains_note_end calls dom0_power_off_if_requested).
#pragma once

#include "kernel/types.hpp"

struct Domain;

inline constexpr u32 kDom0PowerOffGraceSeconds = 60;

void dom0_request_machine_power_off(Domain& dom0, u16 port, u16 value);
// Every domain has ended: powers the machine off if dom0 asked for it (and does not
// return then); else returns.
void dom0_power_off_if_requested();

// A Domain-0 crash takes the machine with it, as on Xen: reported with its reason, then
// the machine reboots, or halts with the command-line option noreboot.
void dom0_set_noreboot(bool noreboot);
[[noreturn]] void dom0_crashed(Domain& dom0);
// Domain-0 reset the machine: after a kernel panic it printed, that is its crash.
[[noreturn]] void dom0_reset(Domain& dom0);
