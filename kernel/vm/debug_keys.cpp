#include "kernel/vm/debug_keys.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/time.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/kernel_heap.hpp"

namespace {

constexpr char kCtrlA = 0x01;

// Where console input goes: Vireo's debug keys (kNoFocus) or a domain's COM1, by id (a
// domain may be destroyed meanwhile). Ctrl-A three times in a row moves it on, as on
// Xen's console.
constexpr u32 kNoFocus = ~0u;
u32 g_focus = kNoFocus;
u32 g_ctrl_a = 0;

bool can_take_input(const Domain* d) { return d && !d->ended() && d->platform->takes_console_input(); }

void announce_focus() {
    DomainRef d = domain_lookup(g_focus);
    if (g_focus != kNoFocus && d) {
        console_line("vireo: console input goes to domain %u (%s); Ctrl-A three times to switch", d->id, d->name);
        domain_console_show_partial_line(*d);
    } else
        console_line("vireo: console input goes to Vireo (debug keys, 'h' for help); Ctrl-A three times to switch");
}

// The next domain after the current focus (in table order) that has a console to type
// into, else Vireo.
void switch_focus() {
    DomainRef all[kMaxDomains];
    const u32 count = domain_table_snapshot(all, kMaxDomains);
    u32 next = 0;
    if (g_focus != kNoFocus) {
        while (next < count && all[next]->id != g_focus) ++next;
        ++next;
    }
    for (u32 i = next; i < count; ++i) {
        if (can_take_input(all[i].get())) {
            g_focus = all[i]->id;
            announce_focus();
            return;
        }
    }
    g_focus = kNoFocus;
    announce_focus();
}

void print_platform_timers() {
    console_line("platform timers (debug key 't'):");
    DomainRef all[kMaxDomains];
    const u32 count = domain_table_snapshot(all, kMaxDomains);
    for (u32 i = 0; i < count; ++i)
        if (all[i]->platform && !all[i]->ended()) all[i]->platform->print_timers();
}

// Exact figures, where xm info rounds to MiB: what a leak hunt compares before and after.
void print_memory() {
    const MemoryStats stats = memory_stats();
    console_line("memory (debug key 'm'): %llu KiB free of %llu KiB usable, heap %zu bytes in use in %zu KiB of pages",
                 (unsigned long long)(stats.free_bytes / KiB), (unsigned long long)(stats.usable_bytes / KiB),
                 kernel_heap_bytes_in_use(), kernel_heap_bytes_reserved() / KiB);
}

void debug_key(char key) {
    switch (key) {
        case 'e': domain_print_exit_counters(); break;
        case 's': scheduler_print_state(); break;
        case 't': print_platform_timers(); break;
        case 'm': print_memory(); break;
        case 'h':
        case '?':
            console_line(
                "debug keys: 'e' exit counters per domain and vCPU, 's' scheduler state, 't' platform timers, 'm' "
                "memory, 'h' "
                "this help; Ctrl-A three times sends console input to a domain");
            break;
        default: break;
    }
}

void deliver(char key) {
    DomainRef focus = domain_lookup(g_focus);
    if (g_focus != kNoFocus && !can_take_input(focus.get())) {
        g_focus = kNoFocus;  // the domain ended: input comes back here
        announce_focus();
    }
    if (g_focus == kNoFocus) {
        debug_key(key);
        return;
    }
    if (!domain_console_input(*focus, key)) log_warn("%s: console input queue full, key dropped", focus->name);
}

}  // namespace

namespace {

constexpr u64 kConsolePollMicroseconds = 5000;

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

void console_timer_fired(Timer& timer, u64 now_us) {
    poll_debug_keys();
    console_flush_held_lines();
    timer_arm(timer, 0, now_us + kConsolePollMicroseconds);
}

Timer g_console_timer{console_timer_fired, nullptr};

}  // namespace

VIREO_HOT_PATH bool console_focus_is(u32 domain_id) { return __atomic_load_n(&g_focus, __ATOMIC_RELAXED) == domain_id; }

void debug_keys_start() {
    // As on Xen, the console is Domain-0's from the start when there is one.
    if (DomainRef d = domain_lookup(0); d && d->hardware_domain && can_take_input(d.get())) {
        g_focus = 0;
        announce_focus();
    }
    timer_arm(g_console_timer, 0, uptime_us() + kConsolePollMicroseconds);
}
