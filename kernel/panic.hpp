// A hypervisor fault: print the message, the registers and a symbolized backtrace,
// stop every other CPU (NMI), and halt. It never returns and never reboots.
#pragma once

#include "kernel/trap_frame.hpp"

[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic_with_frame(const TrapFrame& frame, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// True once any CPU has begun to panic.
bool panic_in_progress();
// True when another CPU is panicking: an NMI then means "stop here".
bool panic_in_progress_elsewhere();

// Set by the LAPIC driver once it can send IPIs: stops all other CPUs.
void panic_set_stop_others(void (*stop_others)());
