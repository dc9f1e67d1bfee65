#include "kernel/virtualization_support.hpp"

namespace {

constexpr u32 kCpuid1EcxVmx = 1u << 5;
constexpr u32 kCpuidExtEcxSvm = 1u << 2;

bool vendor_is(const CpuidResult& leaf0, const char (&name)[13]) {
    const u32 ebx = u32(name[0]) | u32(name[1]) << 8 | u32(name[2]) << 16 | u32(name[3]) << 24;
    const u32 edx = u32(name[4]) | u32(name[5]) << 8 | u32(name[6]) << 16 | u32(name[7]) << 24;
    const u32 ecx = u32(name[8]) | u32(name[9]) << 8 | u32(name[10]) << 16 | u32(name[11]) << 24;
    return leaf0.ebx == ebx && leaf0.edx == edx && leaf0.ecx == ecx;
}

bool has_svm(const CpuAccess& cpu) {
    const u32 max_extended = cpu.cpuid(0x80000000).eax;
    return max_extended >= 0x80000001 && (cpu.cpuid(0x80000001).ecx & kCpuidExtEcxSvm);
}

bool has_vmx(const CpuAccess& cpu) { return cpu.cpuid(0).eax >= 1 && (cpu.cpuid(1).ecx & kCpuid1EcxVmx); }

VirtualizationSupport check_svm(const CpuAccess& cpu) {
    VirtualizationSupport s;
    s.vendor = VirtualizationVendor::AmdSvm;
    const u64 vm_cr = cpu.read_msr(Msr::VmCr);
    s.firmware_lock = (vm_cr & msr_bits::kVmCrLock) != 0;
    s.status =
        (vm_cr & msr_bits::kVmCrSvmDisable) ? VirtualizationStatus::DisabledByFirmware : VirtualizationStatus::Usable;
    if (cpu.cpuid(0x80000000).eax >= 0x8000000a) {
        const CpuidResult leaf = cpu.cpuid(0x8000000a);
        s.svm = {leaf.eax & 0xff,
                 leaf.ebx,
                 (leaf.edx & (1u << 0)) != 0,
                 (leaf.edx & (1u << 3)) != 0,
                 (leaf.edx & (1u << 5)) != 0,
                 (leaf.edx & (1u << 6)) != 0,
                 (leaf.edx & (1u << 7)) != 0,
                 (leaf.edx & (1u << 16)) != 0};
    }
    if (s.status == VirtualizationStatus::Usable && !s.svm.nested_paging)
        s.status = VirtualizationStatus::NoNestedPaging;
    s.nested_1gib_pages = cpu.cpuid(0x80000000).eax >= 0x80000001 && (cpu.cpuid(0x80000001).edx & (1u << 26));
    return s;
}

VirtualizationSupport check_vmx(const CpuAccess& cpu) {
    VirtualizationSupport s;
    s.vendor = VirtualizationVendor::IntelVmx;
    const u64 control = cpu.read_msr(Msr::FeatureControl);
    s.firmware_lock = (control & msr_bits::kFeatureControlLock) != 0;
    // Locked without the outside-SMX enable: VMXON would #GP until the next reset.
    // Unlocked: Vireo sets the enable and the lock itself (vmx/vmx_root.cpp).
    const bool disabled = s.firmware_lock && !(control & msr_bits::kFeatureControlVmxOutsideSmx);
    s.status = disabled ? VirtualizationStatus::DisabledByFirmware : VirtualizationStatus::Usable;
    // The capability MSRs' high halves say which controls may be 1 (SDM A.3.2, A.3.3);
    // the secondary-controls MSR exists only when bit 63 of the primary one is set.
    constexpr u64 kActivateSecondaryControls = 1ull << (32 + 31);
    if (cpu.read_msr(Msr::VmxProcbasedCtls) & kActivateSecondaryControls) {
        const u64 secondary = cpu.read_msr(Msr::VmxProcbasedCtls2);
        s.vmx_ept = (secondary & (1ull << (32 + 1))) != 0;
        s.vmx_unrestricted_guest = (secondary & (1ull << (32 + 7))) != 0;
        // The EPT/VPID capability MSR exists when EPT (or VPID) may be enabled (SDM A.10).
        if (s.vmx_ept) s.nested_1gib_pages = (cpu.read_msr(Msr::VmxEptVpidCap) & (1ull << 17)) != 0;
    }
    if (s.status == VirtualizationStatus::Usable && !s.vmx_ept) s.status = VirtualizationStatus::NoNestedPaging;
    return s;
}

}  // namespace

VirtualizationSupport detect_virtualization(const CpuAccess& cpu) {
    const bool svm = has_svm(cpu);
    const bool vmx = has_vmx(cpu);
    if (svm && vmx) {
        // No real CPU has both; an emulator might. Follow the vendor string.
        return vendor_is(cpu.cpuid(0), "GenuineIntel") ? check_vmx(cpu) : check_svm(cpu);
    }
    if (svm) return check_svm(cpu);
    if (vmx) return check_vmx(cpu);
    return {};
}

const char* virtualization_mode_name(VirtualizationVendor vendor) {
    switch (vendor) {
        case VirtualizationVendor::AmdSvm: return "SVM";
        case VirtualizationVendor::IntelVmx: return "VMX";
        case VirtualizationVendor::None: break;
    }
    return "none";
}

const char* describe_virtualization(const VirtualizationSupport& s) {
    switch (s.status) {
        case VirtualizationStatus::Usable:
            return s.vendor == VirtualizationVendor::AmdSvm ? "AMD-V (SVM) is supported and enabled"
                                                            : "Intel VT-x (VMX) is supported and enabled";
        case VirtualizationStatus::DisabledByFirmware:
            if (s.vendor == VirtualizationVendor::AmdSvm)
                return s.firmware_lock
                           ? "AMD-V (SVM) is disabled by the firmware (VM_CR.SVMDIS=1, locked): enable SVM / "
                             "virtualization in the BIOS or UEFI setup"
                           : "AMD-V (SVM) is disabled (VM_CR.SVMDIS=1): enable SVM / virtualization in the BIOS or "
                             "UEFI setup";
            return "Intel VT-x (VMX) is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMXON "
                   "outside SMX): enable VT-x / virtualization in the BIOS or UEFI setup";
        case VirtualizationStatus::NoNestedPaging:
            return s.vendor == VirtualizationVendor::AmdSvm
                       ? "AMD-V (SVM) is present but without nested paging (NPT), which Vireo needs to run guests"
                       : "Intel VT-x (VMX) is present but without EPT, which Vireo needs to run guests";
        case VirtualizationStatus::NotSupported: break;
    }
    return "this processor supports neither AMD-V (SVM) nor Intel VT-x (VMX) in CPUID; Vireo needs one of them "
           "to run guests";
}
