// How the hypervisor stops. With the command-line option debug_exit=PORT (QEMU's
// isa-debug-exit device) the status reaches the harness as QEMU's exit status,
// (status << 1) | 1; otherwise every CPU halts with interrupts off, and the machine
// stays as it is for the user to read the console (it never silently reboots).
#pragma once

#include "kernel/types.hpp"

enum class HaltReason : u8 {
    NothingToRun = 0,      // boot finished and nothing is left to run (QEMU status 1)
    NoVirtualization = 1,  // the CPU cannot run guests (QEMU status 3)
    Panic = 2,             // a hypervisor fault (QEMU status 5)
    GuestsFailed = 3,      // every domain ended, not all with exit code 0 (QEMU status 7)
};

void power_set_debug_exit_port(u16 port);
[[noreturn]] void halt_machine(HaltReason reason);
[[noreturn]] void halt_this_cpu();
// Resets the machine (Domain-0's reboot): the PCI reset control's full reset, then the
// keyboard controller's pulse; halts if neither worked.
[[noreturn]] void reboot_machine();
