#include "kernel/vm/msr_policy.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/vm/control_register_writes.hpp"
#include "kernel/vm/msr_rules.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

// IA32_MISC_ENABLE as a guest sees it (SDM vol. 4, table 2-2): fast strings on, branch
// trace and PEBS unavailable, XD not disabled. Linux's verify_cpu reads it on Intel CPUs
// (to clear XD_DISABLE) before it has an IDT, so a #GP there would be a triple fault.
// Writes are accepted and dropped: nothing the guest may change here changes anything.
constexpr u64 kGuestMiscEnable = (1ull << 0) | (1ull << 11) | (1ull << 12);

void log_unknown_once(Vcpu& vcpu, u32 index, bool write) {
    Domain& d = *vcpu.domain;
    if (!d.note_unknown_msr(index)) return;
    log_warn("%s: vcpu%u %s unknown MSR %#x at rip %#llx: #GP injected (logged once)", d.name, vcpu.index,
             write ? "wrote" : "read", index, (unsigned long long)vcpu.regs.rip);
}

}  // namespace

MsrResult guest_read_msr(Vcpu& vcpu, u32 index, u64& value) {
    bool ok = false;
    if (vcpu.domain->platform->read_msr(vcpu, index, value, ok))
        return ok ? MsrResult::Ok : MsrResult::GeneralProtection;
    if (index == msr_index(Msr::MiscEnable)) {
        value = kGuestMiscEnable;
        return MsrResult::Ok;
    }
    if (index == msr_index(Msr::BiosSignId)) {
        value = 0;  // no microcode update loaded
        return MsrResult::Ok;
    }
    // MSRs whose guest values the backend keeps (EFER, PAT and the TSC, which is the host's
    // plus the vCPU's offset, on both; on VMX also the SYSCALL/SYSENTER MSRs, which SVM
    // passes through because VMLOAD/VMSAVE switch them).
    if (vcpu.backend->read_guest_msr(static_cast<Msr>(index), value)) return MsrResult::Ok;
    log_unknown_once(vcpu, index, false);
    return MsrResult::GeneralProtection;
}

MsrResult guest_write_msr(Vcpu& vcpu, u32 index, u64 value) {
    bool ok = false;
    if (vcpu.domain->platform->write_msr(vcpu, index, value, ok))
        return ok ? MsrResult::Ok : MsrResult::GeneralProtection;
    switch (index) {
        case msr_index(Msr::MiscEnable):
        case msr_index(Msr::BiosSignId): return MsrResult::Ok;  // see kGuestMiscEnable
        case msr_index(Msr::Efer):
            // Its rules (reserved bits, LME only while paging is off, LMA the CPU's) are
            // those of the control registers (kernel/vm/control_register_writes.cpp).
            return write_guest_efer(vcpu, value) ? MsrResult::Ok : MsrResult::GeneralProtection;
        case msr_index(Msr::Pat):
            if (!valid_pat(value)) return MsrResult::GeneralProtection;
            break;
        case msr_index(Msr::Lstar):
        case msr_index(Msr::Cstar):
        case msr_index(Msr::KernelGsBase):
        case msr_index(Msr::SysenterEsp):
        case msr_index(Msr::SysenterEip):
            // Addresses: a non-canonical one raises #GP (SDM vol. 4, WRMSR).
            if (!is_canonical(value)) return MsrResult::GeneralProtection;
            break;
        default: break;
    }
    if (vcpu.backend->write_guest_msr(static_cast<Msr>(index), value)) return MsrResult::Ok;
    log_unknown_once(vcpu, index, true);
    return MsrResult::GeneralProtection;
}
