// Picks the vCPU backend for this machine's virtualization extension.
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/percpu.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/virtualization_support.hpp"
#include "kernel/x86/hardware_cpu.hpp"

VcpuBackend* create_svm_vcpu_backend(Vcpu& vcpu, const VcpuArchState& boot, const char** error);
VcpuBackend* create_vmx_vcpu_backend(Vcpu& vcpu, const VcpuArchState& boot, const char** error);

u32 vmx_free_vpids();
void vmx_flush_nested_tlb_here();

void nested_tlb_flush_this_cpu() {
    HardwareCpu cpu;
    if (detect_virtualization(cpu).vendor == VirtualizationVendor::IntelVmx)
        vmx_flush_nested_tlb_here();
    else
        this_cpu().last_vcpu_uid = 0;  // SvmVcpu::run flushes when it sees another vCPU
}

u32 vcpu_free_hardware_tags() {
    HardwareCpu cpu;
    return detect_virtualization(cpu).vendor == VirtualizationVendor::IntelVmx ? vmx_free_vpids() : 0;
}

void vcpu_reset(Vcpu& vcpu, const GuestEntryState& entry) {
    vcpu.backend->reset(vcpu, boot_arch_state(entry));
    vcpu.exit_instructions.clear();
    vcpu.misc_enable = kGuestMiscEnableReset;
    ioreq_vcpu_reset(vcpu);
}

VcpuBackend* create_vcpu_backend(Vcpu& vcpu, const GuestEntryState& entry, const char** error) {
    HardwareCpu cpu;
    const VcpuArchState boot = boot_arch_state(entry);
    switch (detect_virtualization(cpu).vendor) {
        case VirtualizationVendor::AmdSvm: return create_svm_vcpu_backend(vcpu, boot, error);
        case VirtualizationVendor::IntelVmx: return create_vmx_vcpu_backend(vcpu, boot, error);
        case VirtualizationVendor::None: break;
    }
    *error = "no virtualization extension";
    return nullptr;
}
