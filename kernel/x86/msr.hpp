// Model-specific registers Vireo uses, as a typed enumeration: an MSR index can never be
// passed where a value belongs, and every access names the register it means.
#pragma once

#include "kernel/types.hpp"

enum class Msr : u32 {
    Tsc = 0x10,                // IA32_TIME_STAMP_COUNTER, SDM vol. 3, 17.17
    ApicBase = 0x1b,           // Intel SDM vol. 3, 11.4.4
    FeatureControl = 0x3a,     // IA32_FEATURE_CONTROL, SDM vol. 3, 23.7
    Pat = 0x277,               // SDM vol. 3, 11.12.2
    BiosSignId = 0x8b,         // IA32_BIOS_SIGN_ID: microcode revision, SDM vol. 3, 10.11.7
    MiscEnable = 0x1a0,        // IA32_MISC_ENABLE, SDM vol. 4, table 2-2
    TmeActivate = 0x982,       // IA32_TME_ACTIVATE, SDM vol. 4, table 2-2 (with CPUID.7.0:ECX[13])
    VmxBasic = 0x480,          // SDM vol. 3, A.1
    VmxPinbasedCtls = 0x481,   // SDM vol. 3, A.3.1
    VmxProcbasedCtls = 0x482,  // SDM vol. 3, A.3.2
    VmxExitCtls = 0x483,       // SDM vol. 3, A.4
    VmxEntryCtls = 0x484,
    VmxMisc = 0x485,       // SDM vol. 3, A.6      // SDM vol. 3, A.5
    VmxCr0Fixed0 = 0x486,  // SDM vol. 3, A.7
    VmxCr0Fixed1 = 0x487,
    VmxCr4Fixed0 = 0x488,  // SDM vol. 3, A.8
    VmxCr4Fixed1 = 0x489,
    VmxProcbasedCtls2 = 0x48b,    // SDM vol. 3, A.3.3
    VmxEptVpidCap = 0x48c,        // SDM vol. 3, A.10
    VmxTruePinbasedCtls = 0x48d,  // SDM vol. 3, A.3.1 (when VMX_BASIC bit 55 is set)
    VmxTrueProcbasedCtls = 0x48e,
    VmxTrueExitCtls = 0x48f,
    VmxTrueEntryCtls = 0x490,
    SysenterCs = 0x174,
    SysenterEsp = 0x175,
    SysenterEip = 0x176,
    Star = 0xc0000081,
    Lstar = 0xc0000082,
    Cstar = 0xc0000083,
    Sfmask = 0xc0000084,
    X2ApicBase = 0x800,  // x2APIC register block, SDM vol. 3, 11.12.1
    Efer = 0xc0000080,   // AMD APM vol. 2, 3.1.7
    FsBase = 0xc0000100,
    GsBase = 0xc0000101,
    KernelGsBase = 0xc0000102,
    TscAux = 0xc0000103,     // read by RDTSCP (AMD APM vol. 3, RDTSCP)
    VmCr = 0xc0010114,       // AMD APM vol. 2, 15.30.1
    VmHsavePa = 0xc0010117,  // AMD APM vol. 2, 15.30.4
};

constexpr u32 msr_index(Msr msr) { return static_cast<u32>(msr); }

// Bits of the MSRs above.
namespace msr_bits {
inline constexpr u64 kEferSce = 1ull << 0;
inline constexpr u64 kEferLme = 1ull << 8;
inline constexpr u64 kEferNxe = 1ull << 11;
inline constexpr u64 kEferSvme = 1ull << 12;  // APM vol. 2, 15.4

inline constexpr u64 kApicBaseBsp = 1ull << 8;
inline constexpr u64 kApicBaseX2Apic = 1ull << 10;
inline constexpr u64 kApicBaseEnable = 1ull << 11;
inline constexpr u64 kApicBaseAddressMask = 0xffffff000ull;

inline constexpr u64 kFeatureControlLock = 1ull << 0;  // SDM vol. 3, 23.7
inline constexpr u64 kFeatureControlVmxInSmx = 1ull << 1;
inline constexpr u64 kFeatureControlVmxOutsideSmx = 1ull << 2;

inline constexpr u64 kVmCrLock = 1ull << 3;  // APM vol. 2, 15.30.1
inline constexpr u64 kVmCrSvmDisable = 1ull << 4;
}  // namespace msr_bits
