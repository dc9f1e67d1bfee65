// Debug keys on the hypervisor console, like Xen's: a key typed on the serial line
// prints internal state. 'h' lists them.
#pragma once

void poll_debug_keys();
