// The hypervisor command line (from GRUB's multiboot2 line), e.g.
//   console=com1 loglevel=debug debug_exit=0xf4 noreboot
// Parsing is pure so that every accepted and rejected form is unit-tested. Bad or
// unknown options never stop the boot: each becomes a diagnostic the caller logs.
#pragma once

#include "kernel/log_level.hpp"
#include "kernel/types.hpp"

enum class SelfTest : u8 {
    None,
    PageFault,      // touch an unmapped address: the panic path must report #PF and stop
    Assert,         // fail a VIREO_ASSERT: the panic path must report it and stop
    StackSmash,     // overrun a stack buffer: the stack protector must panic
    StackOverflow,  // recurse until the stack overflows: its guard page must stop it
    LostTimer,      // CPU 1 misses its timers (as if each interrupt were lost): other CPUs must run them
};

struct HypervisorOptions {
    u16 console_port = 0x3f8;  // console=com1..com4 or console=0xPORT
    LogLevel log_level = LogLevel::Info;
    u16 debug_exit_port = 0;  // debug_exit=0xPORT: QEMU isa-debug-exit; 0 = none
    SelfTest self_test = SelfTest::None;
    bool dump_acpi = false;  // acpidump: hex-dump every ACPI table to the console
    // noreboot (Xen's word): when Domain-0 crashes, halt the machine instead of rebooting
    // it, so that its last words stay on the console.
    bool noreboot = false;
    // sched=credit|rr (Xen's option names the scheduler): rr is round-robin, every vCPU
    // alike (no weights, caps or boosts), kept to compare against (tools/vireo bench).
    bool round_robin = false;
    // fastexits=on|off: off keeps every exit on the scheduler's path (no exit fast path,
    // kernel/vm/exit_fast_path.hpp), to compare against.
    bool fast_exits = true;
};

struct CmdlineDiagnostics {
    static constexpr usize kMax = 8;
    static constexpr usize kLength = 112;
    char messages[kMax][kLength] = {};
    usize count = 0;
    bool overflowed = false;
};

// Parses `cmdline` (may be null) into `options`, which keeps its defaults for anything
// absent or invalid.
void parse_hypervisor_cmdline(const char* cmdline, HypervisorOptions& options, CmdlineDiagnostics& diagnostics);
