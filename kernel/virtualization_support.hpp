// "Does this processor support virtualization?" — decided from CPUID and MSRs read
// through CpuAccess, so every answer (present, absent, disabled by firmware) is unit
// tested with a fake CPU.
//   AMD-V: CPUID 8000_0001h ECX[2] (SVM), disabled when VM_CR.SVMDIS is set
//          (AMD APM vol. 2, 15.4 "Enabling SVM").
//   VT-x:  CPUID 01h ECX[5] (VMX), disabled when IA32_FEATURE_CONTROL is locked with
//          "VMXON outside SMX" clear (Intel SDM vol. 3, 23.7 "Enabling and entering
//          VMX operation").
// Vireo gives guests their memory through nested paging only (no shadow page tables),
// so an extension without it (NPT: CPUID 8000_000Ah EDX[0]; EPT: secondary processor-
// based control bit 1, SDM A.3.3) cannot run guests either, and says so.
#pragma once

#include "kernel/types.hpp"
#include "kernel/x86/cpu_access.hpp"

enum class VirtualizationVendor : u8 { None, AmdSvm, IntelVmx };
enum class VirtualizationStatus : u8 { Usable, NotSupported, DisabledByFirmware, NoNestedPaging };

struct SvmFeatures {
    u32 revision;         // CPUID 8000_000Ah EAX[7:0]
    u32 asid_count;       // EBX
    bool nested_paging;   // EDX[0]
    bool nrip_save;       // EDX[3]
    bool vmcb_clean;      // EDX[5]
    bool flush_by_asid;   // EDX[6]
    bool decode_assists;  // EDX[7]
    bool vgif;            // EDX[16]
};

struct VirtualizationSupport {
    VirtualizationVendor vendor = VirtualizationVendor::None;
    VirtualizationStatus status = VirtualizationStatus::NotSupported;
    bool firmware_lock = false;  // VM_CR.LOCK / FEATURE_CONTROL.LOCK as found
    SvmFeatures svm = {};
    bool vmx_ept = false;                 // secondary control "enable EPT" may be 1
    bool vmx_unrestricted_guest = false;  // secondary control "unrestricted guest" may be 1
    // Nested page tables may use 1 GiB leaves: NPT walks take the host's page sizes
    // (CPUID 80000001H:EDX.Page1GB[26], AMD APM vol. 2 15.25.1); EPT says so in
    // IA32_VMX_EPT_VPID_CAP bit 17 (Intel SDM vol. 3D A.10).
    bool nested_1gib_pages = false;
};

VirtualizationSupport detect_virtualization(const CpuAccess& cpu);

// One plain sentence for the console, e.g. why Vireo cannot run here.
const char* describe_virtualization(const VirtualizationSupport& support);
const char* virtualization_mode_name(VirtualizationVendor vendor);  // "SVM" / "VMX"
