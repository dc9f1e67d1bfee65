// Debug keys on the hypervisor console, like Xen's: a key typed on the serial line
// prints internal state. 'h' lists them.
#pragma once

#include "kernel/types.hpp"

// The serial console has no receive interrupt here: from now on CPU 0 looks at it every
// 5 ms from a timer of its own (kernel/sched/cpu_timers.hpp), not from the scheduler.
void debug_keys_start();

// The domain whose console input this is (its output then goes to the console as it is,
// prompts and terminal sequences included, rather than line by line with its name).
bool console_focus_is(u32 domain_id);
