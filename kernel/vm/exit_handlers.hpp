// Generic handling of every vendor-neutral exit (kernel/vm/vm_exit.hpp), written once
// for both backends.
#pragma once

struct Vcpu;
struct VmExit;

// Handles `exit`; the vCPU's state afterwards says whether it runs on (Runnable),
// waits (Blocked) or is done (its domain ended).
void handle_vm_exit(Vcpu& vcpu, const VmExit& exit);
