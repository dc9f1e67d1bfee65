// Intel VT-x root mode on one CPU (Intel SDM vol. 3, 23.7 "Enabling and Entering VMX
// Operation", 23.8 "Restrictions on VMX Operation", A.1 "Basic VMX Information").
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/root_mode.hpp"
#include "kernel/x86/hardware_cpu.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

// VMXON reports failure in RFLAGS: CF=1 VMfailInvalid, ZF=1 VMfailValid (SDM 30.2).
bool vmxon(PhysAddr region) {
    u8 failed;
    asm volatile("vmxon %1; setbe %0" : "=qm"(failed) : "m"(region) : "cc", "memory");
    return !failed;
}

}  // namespace

bool vmx_enter_root_mode(PerCpu& cpu, const char** error) {
    HardwareCpu hw;
    const VirtualizationSupport support = detect_virtualization(hw);
    if (support.vendor != VirtualizationVendor::IntelVmx || support.status != VirtualizationStatus::Usable) {
        *error = describe_virtualization(support);
        return false;
    }
    // Firmware left IA32_FEATURE_CONTROL unlocked: enable VMXON outside SMX and lock it,
    // as the SDM (23.7) expects system software to do.
    const u64 control = x86::rdmsr(Msr::FeatureControl);
    if (!(control & msr_bits::kFeatureControlLock))
        x86::wrmsr(Msr::FeatureControl,
                   control | msr_bits::kFeatureControlLock | msr_bits::kFeatureControlVmxOutsideSmx);

    const u64 basic = x86::rdmsr(Msr::VmxBasic);
    const u32 revision = u32(basic & 0x7fffffff);
    const u64 region_size = (basic >> 32) & 0x1fff;
    if (region_size == 0 || region_size > kPageSize) {
        *error = "IA32_VMX_BASIC reports an unusable VMXON region size";
        return false;
    }
    // CR0 and CR4 must respect the fixed bits in VMX operation (SDM A.7, A.8).
    const u64 cr0 = (x86::read_cr0() | x86::rdmsr(Msr::VmxCr0Fixed0)) & x86::rdmsr(Msr::VmxCr0Fixed1);
    const u64 cr4 = (x86::read_cr4() | x86::kCr4Vmxe | x86::rdmsr(Msr::VmxCr4Fixed0)) & x86::rdmsr(Msr::VmxCr4Fixed1);
    x86::write_cr0(cr0);
    x86::write_cr4(cr4);

    const PhysAddr region = frame_alloc(1);
    if (region == kNoPhysFrame) {
        *error = "out of memory for the VMXON region";
        return false;
    }
    *phys_to_virt<u32>(region) = revision;  // SDM 24.11.5: revision identifier first
    if (!vmxon(region)) {
        frame_free(region);
        *error = "VMXON failed";
        return false;
    }
    cpu.root_mode_area = region;
    cpu.root_mode = RootMode::Vmx;
    log_debug("vmx: root mode on (VMXON region %#llx, VMCS revision %#x)", (unsigned long long)region, revision);
    return true;
}
