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

void reboot_machine() {
    x86::cli();
    // Reset control register 0xCF9 (Intel PCH datasheets; the FADT's RESET_REG on most PCs):
    // "full reset" + "reset CPU". Then the 8042's reset pulse (command 0xFE).
    x86::outb(0xcf9, 0x06);
    for (int i = 0; i < 100000; ++i)
        if ((x86::inb(0x64) & 0x02) == 0) break;
    x86::outb(0x64, 0xfe);
    halt_this_cpu();
}
