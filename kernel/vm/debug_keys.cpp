#include "kernel/vm/debug_keys.hpp"

#include "kernel/log.hpp"
#include "kernel/vm/domain.hpp"

namespace {

constexpr char kCtrlA = 0x01;

// Where console input goes: Vireo's debug keys (nullptr) or a domain's COM1. Ctrl-A three
// times in a row moves it on, as on Xen's console.
Domain* g_focus = nullptr;
u32 g_ctrl_a = 0;

bool can_take_input(const Domain* d) { return d && d->platform && !d->ended(); }

void announce_focus() {
    if (g_focus)
        console_line("vireo: console input goes to domain %u (%s); Ctrl-A three times to switch", g_focus->id,
                     g_focus->name);
    else
        console_line("vireo: console input goes to Vireo (debug keys, 'h' for help); Ctrl-A three times to switch");
}

// The next domain after the current focus that has a console to type into, else Vireo.
void switch_focus() {
    const u32 count = domain_count();
    u32 next = 0;
    if (g_focus)
        while (next < count && domain_at(next) != g_focus) ++next;
    for (u32 i = g_focus ? next + 1 : 0; i < count; ++i) {
        if (can_take_input(domain_at(i))) {
            g_focus = domain_at(i);
            announce_focus();
            return;
        }
    }
    g_focus = nullptr;
    announce_focus();
}

void debug_key(char key) {
    switch (key) {
        case 'e': domain_print_exit_counters(); break;
        case 'h':
        case '?':
            console_line(
                "debug keys: 'e' exit counters per domain and vCPU, 'h' this help; Ctrl-A three times "
                "sends console input to a domain");
            break;
        default: break;
    }
}

void deliver(char key) {
    if (g_focus && !can_take_input(g_focus)) {
        g_focus = nullptr;  // the domain ended: input comes back here
        announce_focus();
    }
    if (!g_focus) {
        debug_key(key);
        return;
    }
    if (!domain_console_input(*g_focus, key)) log_warn("%s: console input queue full, key dropped", g_focus->name);
}

}  // namespace

void poll_debug_keys() {
    char key;
    while (console_read_key(key)) {
        if (key == kCtrlA) {
            if (++g_ctrl_a == 3) {
                g_ctrl_a = 0;
                switch_focus();
            }
            continue;
        }
        // One or two Ctrl-A followed by something else belong to the input.
        for (; g_ctrl_a > 0; --g_ctrl_a) deliver(kCtrlA);
        deliver(key);
    }
}
