#include "kernel/vm/hypercalls.hpp"

#include "kernel/control/control_hypercalls.hpp"
#include "kernel/control/hypercall_table.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace {

using namespace hypercall;

i64 console_write(Vcpu& vcpu, u64 address, u64 length) {
    if (length > kConsoleWriteMax) return kErrorTooBig;
    char text[kConsoleWriteMax];
    WalkFault fault;
    if (!read_guest_linear(vcpu, address, text, usize(length), fault)) return kErrorFault;
    domain_console_write(*vcpu.domain, text, usize(length));
    return i64(length);
}

// A domain with the virtual PC has its local APICs for timers and vCPU start-up: the
// hypercall versions would bypass them (an interrupt the APIC never saw, a vCPU started
// while its APIC waits for a SIPI), so they are refused there.
i64 set_timer(Vcpu& vcpu, u64 microseconds, u64 vector) {
    if (vcpu.domain->platform->has_local_apics()) return kErrorInvalid;
    if (microseconds > kMaxTimerMicroseconds || vector < 32 || vector > 255) return kErrorInvalid;
    return vcpu.domain->platform->set_vcpu_timer(vcpu, microseconds, u8(vector)) ? 0 : kErrorInvalid;
}

i64 domain_info(Vcpu& vcpu, u64 address) {
    const Domain& d = *vcpu.domain;
    const DomainInfo info{d.id, vcpu.index, d.vcpu_count, 0, d.memory.layout_size()};
    WalkFault fault;
    return write_guest_linear(vcpu, address, &info, sizeof(info), fault) ? 0 : kErrorFault;
}

i64 vcpu_start(Vcpu& vcpu, u64 index, u64 eip, u64 esp) {
    if (vcpu.domain->platform->has_local_apics()) return kErrorInvalid;
    Domain& d = *vcpu.domain;
    if (index >= d.vcpu_count || eip > 0xffffffffull || esp > 0xffffffffull) return kErrorInvalid;
    Vcpu& target = d.vcpus[index];
    const GuestEntryState entry{GuestCpuMode::Protected32, eip, 0, 0, 0, esp};
    return scheduler_start_vcpu(target, entry) ? 0 : kErrorBusy;
}

}  // namespace

bool handle_hypercall(Vcpu& vcpu) { return handle_hypercall(vcpu, vcpu.backend->control_state()); }

bool handle_hypercall(Vcpu& vcpu, const GuestControlState& control) {
    GuestRegisters& r = vcpu.regs;
    const bool wide = control.mode == GuestCpuMode::Long64;
    auto arg = [&](Gpr g) { return wide ? r[g] : (r[g] & 0xffffffffull); };
    const u64 number = arg(Gpr::Rax);
    const u64 args[5] = {arg(Gpr::Rbx), arg(Gpr::Rcx), arg(Gpr::Rdx), arg(Gpr::Rsi), arg(Gpr::Rdi)};
    Domain& d = *vcpu.domain;
    const HypercallCheck check = hypercall_check(number, control.cpl, d.privileged, d.id, args[0]);
    i64 result;
    if (check != HypercallCheck::Allowed) {
        result = hypercall_check_error(check);
    } else {
        switch (number) {
            case kVersion: hypercall_constant_answer(number, result); break;
            case kConsoleWrite: result = console_write(vcpu, args[0], args[1]); break;
            case kSetTimer: result = set_timer(vcpu, args[0], args[1]); break;
            case kYield: result = 0; break;
            case kShutdown: domain_shutdown(d, i64(i32(args[0]))); return false;
            case kDomainInfo: result = domain_info(vcpu, args[0]); break;
            case kVcpuStart: result = vcpu_start(vcpu, args[0], args[1], args[2]); break;
            case kDomainsAlive: result = domains_running(); break;
            case kKvmSendIpi: result = d.platform->kvm_send_ipi(vcpu, args[0], args[1], args[2], args[3], wide); break;
            default: result = control_hypercall(vcpu, number, args); break;
        }
    }
    r[Gpr::Rax] = wide ? u64(result) : (u64(result) & 0xffffffffull);
    return true;
}
