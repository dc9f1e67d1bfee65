// What the control domain's tools wait for (docs/hypercalls.md, event_status): a domain
// created, paused, unpaused, ended, restarted or destroyed, and output on any domain's
// console. Each is a generation counter, bumped when it happens; a waiter compares it with
// the value it saw last and then asks what changed (as Xen's VIRQ_DOM_EXC only says that
// something did, and xl asks getdomaininfo). Lock-free: any CPU, any context.
#pragma once

#include "kernel/types.hpp"

namespace domain_events {

inline u64 g_state_generation = 0;
inline u64 g_console_generation = 0;

inline void state_changed() { __atomic_add_fetch(&g_state_generation, 1, __ATOMIC_RELEASE); }
inline void console_output() { __atomic_add_fetch(&g_console_generation, 1, __ATOMIC_RELEASE); }
inline u64 state_generation() { return __atomic_load_n(&g_state_generation, __ATOMIC_ACQUIRE); }
inline u64 console_generation() { return __atomic_load_n(&g_console_generation, __ATOMIC_ACQUIRE); }

}  // namespace domain_events
