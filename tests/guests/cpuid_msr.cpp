// CPUID and MSR policies as a guest sees them: virtualization hidden, Vireo's leaves
// present, unknown MSRs raising #GP, EFER and PAT behaving architecturally.
#include "tests/guests/lib/guest.hpp"

namespace {
constexpr uint32_t kVmCr = 0xc0010114, kEfer = 0xc0000080, kPat = 0x277, kUnknown = 0xc0011234;
}

int guest_main(uint32_t magic, uint32_t) {
    CHECK(magic == 0x2badb002, "entered with the multiboot magic in EAX (%#x)", magic);
    const Cpuid hv = cpuid(0x40000000);
    char signature[13];
    memcpy(signature, &hv.ebx, 4);
    memcpy(signature + 4, &hv.ecx, 4);
    memcpy(signature + 8, &hv.edx, 4);
    signature[12] = 0;
    CHECK(memcmp_equal(signature, "VireoVireoHV"), "leaf 0x40000000 says '%s'", signature);
    CHECK(hv.eax >= 0x40000001, "hypervisor leaves up to %#x", hv.eax);
    CHECK(cpuid(1).ecx & (1u << 31), "CPUID.1:ECX.hypervisor is set");
    CHECK(!(cpuid(1).ecx & (1u << 5)), "VMX is hidden");
    CHECK(!(cpuid(0x80000001).ecx & (1u << 2)), "SVM is hidden");
    CHECK(cpuid(0x8000000a).eax == 0 && cpuid(0x8000000a).edx == 0, "the SVM leaf is empty");
    CHECK(((cpuid(1).ebx >> 24) & 0xff) == 0, "initial APIC ID of vCPU 0 is 0");
    CHECK(cpuid(0x4fffffff).eax == 0, "an unknown hypervisor leaf is all zeros");

    uint64_t value = 0;
    CHECK(try_rdmsr(kUnknown, value) == 13, "reading an unknown MSR raises #GP");
    CHECK(try_wrmsr(kUnknown, 1) == 13, "writing an unknown MSR raises #GP");
    CHECK(try_rdmsr(kVmCr, value) == 13, "VM_CR does not exist for the guest");
    CHECK(try_rdmsr(kEfer, value) == -1 && !(value & (1u << 12)), "EFER reads without SVME (%#llx)", value);
    CHECK(try_wrmsr(kEfer, value | (1u << 12)) == 13, "setting EFER.SVME raises #GP");
    CHECK(try_wrmsr(kEfer, value | (1u << 11)) == -1, "setting EFER.NXE works");
    CHECK(try_rdmsr(kEfer, value) == -1 && (value & (1u << 11)), "and reads back (%#llx)", value);
    CHECK(try_wrmsr(kPat, 0x0007040600070406ull) == -1, "writing a valid PAT works");
    CHECK(try_wrmsr(kPat, 0x0007040600070402ull) == 13, "a PAT entry of reserved type 2 raises #GP");
    CHECK(try_rdmsr(kPat, value) == -1 && value == 0x0007040600070406ull, "PAT reads back %#llx", value);
    // WRMSR to IA32_TSC sets the guest's TSC (SDM vol. 3B 17.17): RDTSC and RDMSR go on
    // from the value written, and the other domains' time is not touched.
    constexpr uint32_t kTsc = 0x10;
    constexpr uint64_t kFar = 1ull << 50;
    CHECK(try_wrmsr(kTsc, kFar) == -1, "WRMSR to IA32_TSC is allowed");
    const uint64_t after = rdtsc();
    CHECK(after >= kFar && after - kFar < (1ull << 40), "RDTSC goes on from the value written (%#llx)", after);
    CHECK(try_rdmsr(kTsc, value) == -1 && value >= after, "RDMSR of IA32_TSC agrees (%#llx)", value);
    CHECK(try_wrmsr(kTsc, 0) == -1 && rdtsc() < kFar, "and it can be set back");
    return finish("cpuid_msr");
}
