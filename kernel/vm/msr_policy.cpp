#include "kernel/vm/msr_policy.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/vm/control_register_writes.hpp"
#include "kernel/vm/msr_rules.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

// IA32_MISC_ENABLE (SDM vol. 4, table 2-2; reset value kGuestMiscEnableReset). Linux's
// verify_cpu reads it on Intel CPUs (to clear XD_DISABLE) before it has an IDT, so a #GP
// there would be a triple fault. The bits that only enable or disable a performance
// feature keep what the guest writes (fast strings, automatic thermal control, Enhanced
// SpeedStep, xTPR messages); the others are read-only or name features Vireo does not
// offer (limit CPUID, XD disable, MONITOR): a write that changes one is #GP.
constexpr u64 kMiscEnableWritable = (1ull << 0) | (1ull << 3) | (1ull << 16) | (1ull << 23);

// Machine-check architecture (SDM vol. 3B 16.3.1): IA32_MCG_CAP says no banks and no
// MCG_CTL, so nothing is ever logged; IA32_MCG_STATUS reads 0.
constexpr u32 kMcgCap = 0x179, kMcgStatus = 0x17a;

// AMD's legacy performance counters (APM vol. 2 13.2.1): PerfEvtSel0-3 and PerfCtr0-3
// exist on every AMD64 CPU, and guests program them unconditionally. With no counters
// offered they read 0 and writes are dropped, as KVM does without a virtual PMU.
constexpr u32 kAmdPerfFirst = 0xc0010000, kAmdPerfLast = 0xc0010007;
bool amd_legacy_perf_msr(const Vcpu& vcpu, u32 index) {
    return vcpu.backend->is_svm() && index >= kAmdPerfFirst && index <= kAmdPerfLast;
}

// AMD model-specific configuration Linux reads on every AMD CPU (arch/x86/kernel/cpu/amd.c)
// (BKDG for family 10h-17h): NB_CFG (0xC001001F) reads 0; DE_CFG (0xC0011029) reads with
// bit 1 set, "LFENCE is dispatch serializing", which Linux otherwise tries to set itself.
// Writes are dropped: nothing there is the guest's to change.
constexpr u32 kAmdNbCfg = 0xc001001f, kAmdDeCfg = 0xc0011029;
constexpr u64 kDeCfgLfenceSerializing = 1ull << 1;
bool amd_configuration_msr(const Vcpu& vcpu, u32 index, u64& value) {
    if (!vcpu.backend->is_svm() || (index != kAmdNbCfg && index != kAmdDeCfg)) return false;
    value = index == kAmdDeCfg ? kDeCfgLfenceSerializing : 0;
    return true;
}

void log_unknown_once(Vcpu& vcpu, u32 index, bool write) {
    Domain& d = *vcpu.domain;
    const Domain::MsrNote note = d.note_unknown_msr(index);
    if (note == Domain::MsrNote::Silent) return;
    log_warn("%s: vcpu%u %s unknown MSR %#x at rip %#llx: #GP injected (%s)", d.name, vcpu.index,
             write ? "wrote" : "read", index, (unsigned long long)vcpu.regs.rip,
             note == Domain::MsrNote::Log ? "logged once" : "logged once; its further unknown MSRs are not logged");
}

}  // namespace

MsrResult guest_read_msr(Vcpu& vcpu, u32 index, u64& value) {
    bool ok = false;
    if (vcpu.domain->platform->read_msr(vcpu, index, value, ok))
        return ok ? MsrResult::Ok : MsrResult::GeneralProtection;
    if (index == msr_index(Msr::MiscEnable)) {
        value = vcpu.misc_enable;
        return MsrResult::Ok;
    }
    if (index == kMcgCap || index == kMcgStatus || amd_legacy_perf_msr(vcpu, index)) {
        value = 0;
        return MsrResult::Ok;
    }
    if (amd_configuration_msr(vcpu, index, value)) return MsrResult::Ok;
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
    u64 ignored = 0;
    if (amd_legacy_perf_msr(vcpu, index) || amd_configuration_msr(vcpu, index, ignored)) return MsrResult::Ok;
    switch (index) {
        case msr_index(Msr::MiscEnable):
            if ((value ^ vcpu.misc_enable) & ~kMiscEnableWritable) return MsrResult::GeneralProtection;
            vcpu.misc_enable = value;
            return MsrResult::Ok;
        case msr_index(Msr::BiosSignId): return MsrResult::Ok;  // a microcode update: nothing to load
        case kMcgCap: return MsrResult::GeneralProtection;      // read-only
        case kMcgStatus: return value == 0 ? MsrResult::Ok : MsrResult::GeneralProtection;
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
