// Every MSR class (attack=msrs): a read sweep of the three architectural ranges that the
// MSR permission map of AMD-V covers (APM vol. 2 15.11: 0-1FFFh, C0000000h-C0001FFFh,
// C0010000h-C0011FFFh), each either #GP or a value, then writes of MSRs that would give a
// guest the host (SVM and VMX control, SMM, microcode, MTRRs, the APIC base, the TSC,
// performance counters): each must be #GP or stay the guest's own, and the host and the
// other domains go on. Virtualization instructions stay #UD after the EFER.SVME attempt.
#include "tests/guests/attack.hpp"

namespace {

struct Range {
    uint32_t first, last;
};
constexpr Range kRanges[] = {{0, 0x1fff}, {0xc0000000, 0xc0001fff}, {0xc0010000, 0xc0011fff}};

struct Write {
    uint32_t msr;
    uint64_t value;
    const char* what;
};

const Write kWrites[] = {
    {0x10, 0, "TSC (the guest's own: the secret keeper's TSC must go on)"},
    {0x1b, 0, "APIC base: APIC off"},
    {0x1b, 0xfed00900, "APIC base: moved"},
    {0x3a, 0x5, "FEATURE_CONTROL: lock, VMXON outside SMX"},
    {0x48, 1, "SPEC_CTRL.IBRS"},
    {0x49, 1, "PRED_CMD.IBPB"},
    {0x79, 0x100000, "BIOS_UPDT_TRIG: a microcode update from guest memory"},
    {0x8b, 0, "BIOS_SIGN_ID"},
    {0x1a0, 0, "MISC_ENABLE"},
    {0x1d9, 1, "DEBUGCTL.LBR"},
    {0x200, 0x6, "MTRR PhysBase0: write-back at 0"},
    {0x201, 0xff800, "MTRR PhysMask0"},
    {0x250, 0, "MTRR fix64K_00000: uncached"},
    {0x2ff, 0, "MTRR defType: all uncached"},
    {0x38f, 0xf, "PERF_GLOBAL_CTRL"},
    {0x480, 0, "VMX_BASIC"},
    {0x481, 0, "VMX_PINBASED_CTLS"},
    {0x482, 0, "VMX_PROCBASED_CTLS"},
    {0x483, 0, "VMX_EXIT_CTLS"},
    {0x484, 0, "VMX_ENTRY_CTLS"},
    {0x485, 0, "VMX_MISC"},
    {0x486, 0, "VMX_CR0_FIXED0"},
    {0x487, 0, "VMX_CR0_FIXED1"},
    {0x488, 0, "VMX_CR4_FIXED0"},
    {0x489, 0, "VMX_CR4_FIXED1"},
    {0x48a, 0, "VMX_VMCS_ENUM"},
    {0x48b, 0, "VMX_PROCBASED_CTLS2"},
    {0x48c, 0, "VMX_EPT_VPID_CAP"},
    {0x48d, 0, "VMX_TRUE_PINBASED_CTLS"},
    {0x48e, 0, "VMX_TRUE_PROCBASED_CTLS"},
    {0x48f, 0, "VMX_TRUE_EXIT_CTLS"},
    {0x490, 0, "VMX_TRUE_ENTRY_CTLS"},
    {0x491, 0, "VMX_VMFUNC"},
    {0x6e0, 1, "TSC_DEADLINE"},
    {0x808, 0, "x2APIC TPR"},
    {0x830, 0x4403f, "x2APIC ICR: an INIT to all"},
    {0xc0010000, 0x530076, "PerfEvtSel0: count cycles"},
    {0xc0010015, 0, "HWCR"},
    {0xc001001f, 0, "NB_CFG"},
    {0xc0010111, 0x30000, "SMM_BASE"},
    {0xc0010112, 0, "SMM_ADDR (TSEG base)"},
    {0xc0010113, 0, "SMM_MASK: TSEG off"},
    {0xc0010114, 0x8, "VM_CR: LOCK"},
    {0xc0010114, 0x10, "VM_CR: SVMDIS"},
    {0xc0010117, 0x1000, "VM_HSAVE_PA: a host save area in guest memory"},
    {0xc0010118, 0, "SVM_KEY"},
    {0xc0011020, 0, "LS_CFG"},
    {0xc0011029, 0, "DE_CFG"},
};

constexpr uint32_t kEfer = 0xc0000080;
constexpr uint64_t kEferSvme = 1ull << 12;

void run_vmrun() { asm volatile(".byte 0x0f, 0x01, 0xd8" ::"a"(0) : "memory"); }
void run_vmxon() {
    static uint64_t region __attribute__((aligned(8)));
    asm volatile(".byte 0xf3, 0x0f, 0xc7, 0x30" ::"a"(&region) : "memory");  // VMXON [EAX]
}

}  // namespace

int attack_msrs() {
    uint32_t readable = 0, faulted = 0, other = 0;
    uint32_t printed = 0;
    for (const Range& r : kRanges) {
        uint32_t run_first = 0;
        bool in_run = false;
        for (uint32_t msr = r.first;; ++msr) {
            uint64_t value = 0;
            const int vector = try_rdmsr(msr, value);
            if (vector == 13) {
                ++faulted;
            } else if (vector == -1) {
                ++readable;
            } else {
                ++other;
                print("MSR %#x read raised vector %d\n", msr, vector);
            }
            // The readable MSRs, as ranges: what a guest sees (docs, and a change shows).
            const bool ok = vector == -1;
            if (ok && !in_run) run_first = msr, in_run = true;
            if (in_run && (!ok || msr == r.last)) {
                const uint32_t run_last = ok ? msr : msr - 1;
                if (printed++ < 48) print("readable MSRs %#x-%#x\n", run_first, run_last);
                in_run = false;
            }
            if (msr == r.last) break;
        }
    }
    CHECK(other == 0, "MSR read sweep: %u readable, %u #GP, %u any other vector", readable, faulted, other);
    uint64_t hsave = 0;
    const int hsave_vector = try_rdmsr(0xc0010117, hsave);
    CHECK(hsave_vector == 13 || hsave == 0, "VM_HSAVE_PA shows no host address (%s %#llx)",
          hsave_vector == 13 ? "#GP, not" : "reads", hsave_vector == 13 ? 0ull : hsave);

    for (const Write& w : kWrites) {
        uint64_t before = 0, after = 0;
        const int read_before = try_rdmsr(w.msr, before);
        const int vector = try_wrmsr(w.msr, w.value);
        const int read_after = try_rdmsr(w.msr, after);
        if (vector == -1)
            print("MSR %#x %s: write accepted, reads %s%#llx\n", w.msr, w.what, read_after == -1 ? "" : "(#GP) ",
                  after);
        CHECK(vector == -1 || vector == 13, "MSR %#x (%s) write: %s (vector %d)", w.msr, w.what,
              vector == 13 ? "#GP" : "accepted", vector);
        // Put back what was there, so the rest of the guest runs as before.
        if (vector == -1 && read_before == -1) try_wrmsr(w.msr, before);
    }

    // EFER.SVME: whatever the write did, the guest has no SVM (APM vol. 2 15.4: VMRUN
    // is #UD with EFER.SVME clear; CPUID hides SVM and VMX).
    uint64_t efer = 0;
    try_rdmsr(kEfer, efer);
    const int svme = try_wrmsr(kEfer, efer | kEferSvme);
    uint64_t efer_after = 0;
    try_rdmsr(kEfer, efer_after);
    print("EFER.SVME write: %s, EFER now %#llx\n", svme == -1 ? "accepted" : "#GP", efer_after);
    CHECK(svme == -1 || svme == 13, "EFER.SVME write is #GP or accepted (vector %d)", svme);
    int vector = try_instruction(run_vmrun, 3);
    CHECK(vector == 6, "VMRUN after the EFER.SVME write is #UD (vector %d)", vector);
    vector = try_instruction(run_vmxon, 4);
    CHECK(vector == 6, "VMXON after the FEATURE_CONTROL write is #UD (vector %d)", vector);
    try_wrmsr(kEfer, efer);
    return finish("attack-msrs");
}
