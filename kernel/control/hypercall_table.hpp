// Which domain may make which hypercall (docs/hypercalls.md): the rules in one table, pure
// so host tests check every call. A call is refused before it runs when the caller is not
// at CPL 0, when it is a control call and the caller is not privileged, or when a control
// call names the caller itself (a domain ends itself by shutdown, not by destroy).
#pragma once

#include "kernel/domain/domain_lifecycle.hpp"
#include "kernel/types.hpp"

enum class HypercallPrivilege : u8 { AnyDomain, ControlDomain };

struct HypercallSpec {
    u32 number;
    const char* name;
    HypercallPrivilege privilege;
    bool targets_domain;  // argument 1 is a domain id
};

// The spec of `number`, or null for no such call.
const HypercallSpec* hypercall_spec(u64 number);

enum class HypercallCheck : u8 { Allowed, NoSuchCall, NotCpl0, NotPrivileged, TargetsCaller };
HypercallCheck hypercall_check(u64 number, u8 cpl, bool caller_privileged, u32 caller_id, u64 argument1);
// The error a refused call returns (hypercall_abi.hpp), 0 for Allowed.
i64 hypercall_check_error(HypercallCheck check);

// The calls that take or give a domain's saved state (vcpu_get_state, vcpu_set_state,
// domain_platform_state_get and _set) run only while this is true of the domain, so that
// the state is one instant's (else kErrorWrongState): it cannot run, being created (not
// yet unpaused), paused or shut down.
bool hypercall_domain_stopped(LifecycleState state);
