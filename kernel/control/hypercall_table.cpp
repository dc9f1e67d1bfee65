#include "kernel/control/hypercall_table.hpp"

#include "kernel/vm/hypercall_abi.hpp"

namespace {

using namespace hypercall;
constexpr HypercallPrivilege kAny = HypercallPrivilege::AnyDomain;
constexpr HypercallPrivilege kControl = HypercallPrivilege::ControlDomain;

constexpr HypercallSpec kSpecs[] = {
    {kVersion, "version", kAny, false},
    {kConsoleWrite, "console_write", kAny, false},
    {kSetTimer, "set_timer", kAny, false},
    {kYield, "yield", kAny, false},
    {kShutdown, "shutdown", kAny, false},
    {kDomainInfo, "domain_info", kAny, false},
    {kVcpuStart, "vcpu_start", kAny, false},
    {kDomainsAlive, "domains_alive", kAny, false},
    {kKvmSendIpi, "kvm_send_ipi", kAny, false},
    {kDomainCreate, "domain_create", kControl, false},
    {kDomainDestroy, "domain_destroy", kControl, true},
    {kDomainPause, "domain_pause", kControl, true},
    {kDomainUnpause, "domain_unpause", kControl, true},
    {kDomainGetStatus, "domain_get_status", kControl, false},  // its own status is fine to see
    {kDomainMemoryWrite, "domain_memory_write", kControl, true},
    {kDomainMemoryRead, "domain_memory_read", kControl, true},
    {kVcpuGetState, "vcpu_get_state", kControl, true},
    {kVcpuSetState, "vcpu_set_state", kControl, true},
    {kHypervisorStats, "hypervisor_stats", kControl, false},
    {kVcpuGetInfo, "vcpu_get_info", kControl, false},  // its own vCPUs are fine to see
    {kDomainDirtyLog, "domain_dirty_log", kControl, true},
    {kDomainList, "domain_list", kControl, false},
    {kHostInfo, "host_info", kControl, false},
    {kDomainShutdown, "domain_shutdown", kControl, true},
    {kDomainConsoleRead, "domain_console_read", kControl, true},
    {kDomainConsoleWrite, "domain_console_write", kControl, true},
    {kEventStatus, "event_status", kControl, false},
    {kLogRead, "log_read", kControl, false},
    {kDomainReset, "domain_reset", kControl, true},
    {kDomainRename, "domain_rename", kControl, true},
    {kVcpuSetAffinity, "vcpu_set_affinity", kControl, false},  // Domain-0 may pin its own vCPUs
    {kDomainMapForeign, "domain_map_foreign", kControl, true},
    {kDomainUnmapForeign, "domain_unmap_foreign", kControl, false},  // a handle, not a domain
    {kIoreqAttach, "ioreq_attach", kControl, true},
    {kIoreqDetach, "ioreq_detach", kControl, true},
    {kIoreqMap, "ioreq_map", kControl, true},
    {kIoreqComplete, "ioreq_complete", kControl, true},
    {kInjectMsi, "inject_msi", kControl, true},
    {kEventGsi, "event_gsi", kControl, false},
    {kDomainBalloon, "domain_balloon", kControl, true},
    {kDomainMemoryTarget, "domain_memory_target", kControl, true},
    {kDomainSchedCredit, "domain_sched_credit", kControl, false},  // and weigh itself, as Xen's dom0
    {kDomainPlatformStateGet, "domain_platform_state_get", kControl, true},
    {kDomainPlatformStateSet, "domain_platform_state_set", kControl, true},
    {kDomainCpuid, "domain_cpuid", kControl, true},
};

}  // namespace

const HypercallSpec* hypercall_spec(u64 number) {
    for (const HypercallSpec& s : kSpecs)
        if (s.number == number) return &s;
    return nullptr;
}

HypercallCheck hypercall_check(u64 number, u8 cpl, bool caller_privileged, u32 caller_id, u64 argument1) {
    if (cpl != 0) return HypercallCheck::NotCpl0;
    const HypercallSpec* spec = hypercall_spec(number);
    if (!spec) return HypercallCheck::NoSuchCall;
    if (spec->privilege == kControl && !caller_privileged) return HypercallCheck::NotPrivileged;
    if (spec->targets_domain && argument1 == caller_id) return HypercallCheck::TargetsCaller;
    return HypercallCheck::Allowed;
}

i64 hypercall_check_error(HypercallCheck check) {
    switch (check) {
        case HypercallCheck::Allowed: return 0;
        case HypercallCheck::NoSuchCall: return kErrorNoSuchCall;
        case HypercallCheck::NotCpl0:
        case HypercallCheck::NotPrivileged: return kErrorPermission;
        case HypercallCheck::TargetsCaller: return kErrorInvalid;
    }
    return kErrorInvalid;
}

bool hypercall_domain_stopped(LifecycleState state) {
    return state == LifecycleState::Created || state == LifecycleState::Paused || state == LifecycleState::Shutdown;
}
