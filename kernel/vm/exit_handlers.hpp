// Generic handling of every vendor-neutral exit (kernel/vm/vm_exit.hpp), written once
// for both backends.
#pragma once

struct Vcpu;
struct VmExit;

// Handles `exit`; the vCPU's state afterwards says whether it runs on (Runnable),
// waits (Blocked) or is done (its domain ended).
void handle_vm_exit(Vcpu& vcpu, const VmExit& exit);

// Port I/O (IN or OUT, not string) as handle_vm_exit does it, for the exit fast path
// (kernel/vm/exit_fast_path.hpp): the serial console's two exits per character are most
// of a Linux boot's. False, nothing done, for a string instruction, a vCPU whose domain
// has a device model in Domain-0 (which may own the port: ioreq_server.hpp), or
// Domain-0 itself, whose few port exits reach the PCI configuration mediator (which may
// remap BARs and wait for every CPU's flush) and stay with the scheduler's own path.
bool handle_port_io_in_place(Vcpu& vcpu, const VmExit& exit);
