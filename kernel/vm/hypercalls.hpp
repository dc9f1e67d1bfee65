// The hypercall dispatcher (ABI: docs/hypercalls.md, kernel/vm/hypercall_abi.hpp).
#pragma once

struct Vcpu;
struct GuestControlState;

// Performs the call in the vCPU's registers and puts the result in RAX. Returns false
// when the vCPU must not be resumed (it shut its domain down).
bool handle_hypercall(Vcpu& vcpu);
// The same with the vCPU's control state, which the caller has read already.
bool handle_hypercall(Vcpu& vcpu, const GuestControlState& control);
