// Virtualization instructions (attack=virtualization): a guest sees neither AMD-V nor
// VT-x (CPUID hides both), so each of their instructions is #UD, as on a CPU without
// them: SVM's (APM vol. 2 15.4, VMRUN and the others raise #UD when EFER.SVME is clear),
// VMX's (SDM vol. 3C 23.8 / 31.3: #UD outside VMX operation, VMXON #UD without CR4.VMXE),
// SMX's GETSEC (#UD with CR4.SMXE clear) and the other vendor's hypercall instruction.
#include "tests/guests/attack.hpp"

namespace {

uint64_t g_region __attribute__((aligned(4096)));

}  // namespace

int attack_virtualization() {
    struct Case {
        const char* name;
        int vector;
    };
    uint32_t eax = uint32_t(reinterpret_cast<uintptr_t>(&g_region)), ecx = eax;
    const Case cases[] = {
        {"VMRUN", PROBE(".byte 0x0f, 0x01, 0xd8",
                        : "+a"(eax)
                        :
                        : "memory")},
        {"VMLOAD", PROBE(".byte 0x0f, 0x01, 0xda",
                         : "+a"(eax)
                         :
                         : "memory")},
        {"VMSAVE", PROBE(".byte 0x0f, 0x01, 0xdb",
                         : "+a"(eax)
                         :
                         : "memory")},
        {"STGI", PROBE(".byte 0x0f, 0x01, 0xdc",
                       :
                       :
                       : "memory")},
        {"CLGI", PROBE(".byte 0x0f, 0x01, 0xdd",
                       :
                       :
                       : "memory")},
        {"SKINIT", PROBE(".byte 0x0f, 0x01, 0xde",
                         : "+a"(eax)
                         :
                         : "memory")},
        {"INVLPGA", PROBE(".byte 0x0f, 0x01, 0xdf",
                          : "+a"(eax), "+c"(ecx)
                          :
                          : "memory")},
        {"VMXON", PROBE(".byte 0xf3, 0x0f, 0xc7, 0x30",
                        : "+a"(eax)
                        :
                        : "memory")},
        {"VMXOFF", PROBE(".byte 0x0f, 0x01, 0xc4",
                         :
                         :
                         : "memory")},
        {"VMLAUNCH", PROBE(".byte 0x0f, 0x01, 0xc2",
                           :
                           :
                           : "memory")},
        {"VMRESUME", PROBE(".byte 0x0f, 0x01, 0xc3",
                           :
                           :
                           : "memory")},
        {"VMPTRLD", PROBE(".byte 0x0f, 0xc7, 0x30",
                          : "+a"(eax)
                          :
                          : "memory")},
        {"VMPTRST", PROBE(".byte 0x0f, 0xc7, 0x38",
                          : "+a"(eax)
                          :
                          : "memory")},
        {"VMCLEAR", PROBE(".byte 0x66, 0x0f, 0xc7, 0x30",
                          : "+a"(eax)
                          :
                          : "memory")},
        {"VMREAD", PROBE(".byte 0x0f, 0x78, 0xc1",
                         : "+a"(eax), "+c"(ecx)
                         :
                         : "memory")},
        {"VMWRITE", PROBE(".byte 0x0f, 0x79, 0xc1",
                          : "+a"(eax), "+c"(ecx)
                          :
                          : "memory")},
        {"INVEPT", PROBE(".byte 0x66, 0x0f, 0x38, 0x80, 0x01",
                         : "+a"(eax), "+c"(ecx)
                         :
                         : "memory")},
        {"INVVPID", PROBE(".byte 0x66, 0x0f, 0x38, 0x81, 0x01",
                          : "+a"(eax), "+c"(ecx)
                          :
                          : "memory")},
        {"VMFUNC", PROBE(".byte 0x0f, 0x01, 0xd4",
                         : "+a"(eax), "+c"(ecx)
                         :
                         : "memory")},
        {"GETSEC", PROBE(".byte 0x0f, 0x37",
                         : "+a"(eax)
                         :
                         : "ebx", "ecx", "edx", "memory")},
    };
    for (const Case& c : cases) CHECK(c.vector == 6, "%s raises #UD (vector %d)", c.name, c.vector);
    // The other vendor's hypercall instruction is #UD on this CPU (SDM VMCALL; APM VMMCALL).
    uint32_t number = 0;
    const int other = g_intel ? PROBE(".byte 0x0f, 0x01, 0xd9",
                                      : "+a"(number)
                                      :
                                      : "memory")
                              : PROBE(".byte 0x0f, 0x01, 0xc1",
                                      : "+a"(number)
                                      :
                                      : "memory");
    print("%s on this CPU: vector %d, EAX %#x\n", g_intel ? "VMMCALL" : "VMCALL", other, number);
    CHECK(call_hypervisor(hypercall::kVersion) == int32_t(hypercall::kVersionValue), "the hypercall still works");
    return finish("attack-virtualization");
}
