#include "kernel/passthrough/host_address_width.hpp"

#include "kernel/x86/cpu_access.hpp"

namespace {

constexpr u32 kExtendedMaxLeaf = 0x80000000;
constexpr u32 kAddressSizesLeaf = 0x80000008;
constexpr u32 kEncryptedMemoryLeaf = 0x8000001f;  // AMD APM vol. 3, E.4.17
constexpr u32 kStructuredFeaturesLeaf = 7;
constexpr u32 kDefaultMaxPhyAddr = 36;  // SDM vol. 3A 4.1.4, without CPUID 8000_0008h
constexpr u32 kArchitecturalMaxPhyAddr = 52;
constexpr u32 kSmeSupported = 1u << 0;   // 8000_001Fh EAX[0]
constexpr u32 kCBitMask = 0x3f;          // 8000_001Fh EBX[5:0]
constexpr u32 kTmeSupported = 1u << 13;  // 7.0 ECX[13]
constexpr u32 kTmeKeyIdBitsShift = 32;   // IA32_TME_ACTIVATE[35:32]
constexpr u64 kTmeKeyIdBitsMask = 0xf;

}  // namespace

HostAddressWidth host_address_width(const CpuAccess& cpu) {
    HostAddressWidth w;
    const u32 max_extended = cpu.cpuid(kExtendedMaxLeaf, 0).eax;
    w.maxphyaddr = kDefaultMaxPhyAddr;
    if (max_extended >= kAddressSizesLeaf) {
        const u32 reported = cpu.cpuid(kAddressSizesLeaf, 0).eax & 0xff;
        if (reported != 0) w.maxphyaddr = reported;
    }
    if (w.maxphyaddr > kArchitecturalMaxPhyAddr) w.maxphyaddr = kArchitecturalMaxPhyAddr;
    w.bits = w.maxphyaddr;
    if (max_extended >= kEncryptedMemoryLeaf) {
        const CpuidResult sme = cpu.cpuid(kEncryptedMemoryLeaf, 0);
        if (sme.eax & kSmeSupported) {
            w.c_bit = sme.ebx & kCBitMask;
            if (w.c_bit != 0 && w.c_bit < w.bits) w.bits = w.c_bit;
        }
    }
    // Leaf 7 exists when the basic leaves reach it (SDM vol. 2A, CPUID).
    if (cpu.cpuid(0, 0).eax >= kStructuredFeaturesLeaf && (cpu.cpuid(kStructuredFeaturesLeaf, 0).ecx & kTmeSupported)) {
        w.keyid_bits = u32((cpu.read_msr(Msr::TmeActivate) >> kTmeKeyIdBitsShift) & kTmeKeyIdBitsMask);
        // The KeyIDs are taken from the top of MAXPHYADDR.
        const u32 top = w.maxphyaddr > w.keyid_bits ? w.maxphyaddr - w.keyid_bits : 0;
        if (top < w.bits) w.bits = top;
    }
    return w;
}
