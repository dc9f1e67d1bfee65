// Names of VMX exit reasons and VM-instruction errors, for log lines (Intel SDM vol. 3D,
// appendix C, and vol. 3C, 31.4).
#include "vmx/vmcs.hpp"

namespace vmx {

const char* exit_reason_name(u32 basic_reason) {
    static const char* const kNames[] = {"exception or NMI",
                                         "external interrupt",
                                         "triple fault",
                                         "INIT signal",
                                         "start-up IPI",
                                         "I/O SMI",
                                         "other SMI",
                                         "interrupt window",
                                         "NMI window",
                                         "task switch",
                                         "CPUID",
                                         "GETSEC",
                                         "HLT",
                                         "INVD",
                                         "INVLPG",
                                         "RDPMC",
                                         "RDTSC",
                                         "RSM",
                                         "VMCALL",
                                         "VMCLEAR",
                                         "VMLAUNCH",
                                         "VMPTRLD",
                                         "VMPTRST",
                                         "VMREAD",
                                         "VMRESUME",
                                         "VMWRITE",
                                         "VMXOFF",
                                         "VMXON",
                                         "control-register access",
                                         "MOV DR",
                                         "I/O instruction",
                                         "RDMSR",
                                         "WRMSR",
                                         "VM-entry failure: invalid guest state",
                                         "VM-entry failure: MSR loading",
                                         "reserved (35)",
                                         "MWAIT",
                                         "monitor trap flag",
                                         "reserved (38)",
                                         "MONITOR",
                                         "PAUSE",
                                         "VM-entry failure: machine check",
                                         "reserved (42)",
                                         "TPR below threshold",
                                         "APIC access",
                                         "virtualized EOI",
                                         "GDTR/IDTR access",
                                         "LDTR/TR access",
                                         "EPT violation",
                                         "EPT misconfiguration",
                                         "INVEPT",
                                         "RDTSCP",
                                         "VMX-preemption timer",
                                         "INVVPID",
                                         "WBINVD",
                                         "XSETBV",
                                         "APIC write",
                                         "RDRAND",
                                         "INVPCID",
                                         "VMFUNC",
                                         "ENCLS",
                                         "RDSEED",
                                         "page-modification log full",
                                         "XSAVES",
                                         "XRSTORS"};
    return basic_reason < sizeof(kNames) / sizeof(kNames[0]) ? kNames[basic_reason] : "unknown";
}

const char* instruction_error_name(u32 error) {
    switch (error) {
        case 2: return "VMCLEAR with invalid physical address";
        case 4: return "VMLAUNCH with non-clear VMCS";
        case 5: return "VMRESUME with non-launched VMCS";
        case 7: return "VM entry with invalid control field(s)";
        case 8: return "VM entry with invalid host-state field(s)";
        case 9: return "VMPTRLD with invalid physical address";
        case 11: return "VMPTRLD with incorrect VMCS revision identifier";
        case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
        case 13: return "VMWRITE to read-only VMCS component";
        case 26: return "VM entry with events blocked by MOV SS";
        default: return "see Intel SDM vol. 3C, 31.4";
    }
}

}  // namespace vmx
