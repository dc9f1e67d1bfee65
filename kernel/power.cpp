#include "kernel/power.hpp"

#include "kernel/x86/instructions.hpp"

namespace {
u16 g_debug_exit_port = 0;
}

void power_set_debug_exit_port(u16 port) { g_debug_exit_port = port; }

void halt_this_cpu() {
    for (;;) {
        x86::cli();
        x86::hlt();
    }
}

void halt_machine(HaltReason reason) {
    x86::cli();
    if (g_debug_exit_port) x86::outl(g_debug_exit_port, u32(reason));
    halt_this_cpu();
}
