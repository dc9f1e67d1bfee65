// The control hypercalls (numbers kDomainCreate and up in hypercall_abi.hpp): what a
// control domain uses to build, inspect, pause and destroy other domains, as Xen's
// domctl does for dom0's toolstack. The caller's privilege was checked by the table
// (kernel/control/hypercall_table.hpp) before any of these runs.
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

// Runs control call `number` for `caller` with its five arguments; the result is the
// call's return value (>= 0) or a negative error.
i64 control_hypercall(Vcpu& caller, u64 number, const u64 (&args)[5]);
