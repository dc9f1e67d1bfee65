// Debug keys on the hypervisor console, like Xen's: a key typed on the serial line
// prints internal state. 'h' lists them.
#pragma once

// The serial console has no receive interrupt here: from now on CPU 0 looks at it every
// 5 ms from a timer of its own (kernel/sched/cpu_timers.hpp), not from the scheduler.
void debug_keys_start();
