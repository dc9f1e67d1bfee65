// The hypercall dispatcher (ABI: docs/hypercalls.md, kernel/vm/hypercall_abi.hpp).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/hypercall_abi.hpp"

struct Vcpu;
struct GuestControlState;

// Performs the call in the vCPU's registers and puts the result in RAX. Returns false
// when the vCPU must not be resumed (it shut its domain down).
bool handle_hypercall(Vcpu& vcpu);
// The same with the vCPU's control state, which the caller has read already.
bool handle_hypercall(Vcpu& vcpu, const GuestControlState& control);

// The calls whose answer is a constant of the ABI (the version), for the exit fast path
// (kernel/vm/exit_fast_path.hpp): true with `result` for one of them, which any domain may
// make at CPL 0; false for every other call.
inline bool hypercall_constant_answer(u64 number, i64& result) {
    if (number != hypercall::kVersion) return false;
    result = hypercall::kVersionValue;
    return true;
}
