#include "kernel/vm/cpuid_policy.hpp"

#include <string.h>

#include "kernel/vm/control_register_rules.hpp"

namespace {

constexpr u32 bit(u32 n) { return 1u << n; }

// Leaf 1 ECX and EDX (Intel SDM vol. 2A, CPUID, tables 3-10 and 3-11): features that are
// plain instructions or architectural state VMRUN/VM entry already switches. Left out,
// for now: MONITOR/MWAIT, VMX, SMX, PCID, x2APIC, TSC-deadline, XSAVE/OSXSAVE/AVX/F16C/FMA
// (no XSAVE state handling yet), APIC, MTRR, MCE/MCA, HTT, debug store and thermal.
constexpr u32 kLeaf1Ecx =
    bit(0) | bit(1) | bit(9) | bit(13) | bit(19) | bit(20) | bit(22) | bit(23) | bit(25) | bit(30);
constexpr u32 kLeaf1EcxHypervisor = bit(31);
constexpr u32 kLeaf1Edx = bit(0) | bit(1) | bit(2) | bit(3) | bit(4) | bit(5) | bit(6) | bit(8) | bit(11) | bit(13) |
                          bit(15) | bit(16) | bit(17) | bit(19) | bit(23) | bit(24) | bit(25) | bit(26);
// Leaf 7.0 EBX: FSGSBASE, BMI1, SMEP, BMI2, ERMS, RDSEED, ADX, SMAP, CLFLUSHOPT, CLWB, SHA.
constexpr u32 kLeaf7Ebx =
    bit(0) | bit(3) | bit(7) | bit(8) | bit(9) | bit(18) | bit(19) | bit(20) | bit(23) | bit(24) | bit(29);
// Leaf 8000_0001h (AMD APM vol. 3, E.4.2): LAHF/SAHF, LZCNT, SSE4A, misaligned SSE,
// PREFETCHW; SYSCALL, NX, MMX extensions, 1 GiB pages, long mode. SVM is hidden.
constexpr u32 kExt1Ecx = bit(0) | bit(5) | bit(6) | bit(7) | bit(8);
constexpr u32 kExt1Edx = bit(11) | bit(20) | bit(22) | bit(26) | bit(29);
constexpr u32 kExt7EdxInvariantTsc = bit(8);

// Migratable domains (set_migratable): of leaves 1, 7.0 and 8000_0001h only the features
// that both Intel (SDM vol. 2A, CPUID, tables 3-8 "Information Returned by CPUID", 3-10
// and 3-11 "Feature Information") and AMD (APM vol. 3, appendix E "Obtaining Processor
// Information Via the CPUID Instruction", E.3.2 Fn0000_0001_ECX/EDX, E.3.6
// Fn0000_0007_EBX_x0, E.4.2 Fn8000_0001_ECX/EDX) define, at the same bit, for the same
// thing. ANDed with what the policy gives anyway, so a feature the host lacks or Vireo
// does not offer stays clear; a feature added to the policy later stays hidden from
// migratable domains until it is added here too. Left out as one vendor's only: SSE4A,
// misaligned SSE, XOP, FMA4, TBM, AMD's MMX extensions and 3DNow! (AMD); DTES64, DS-CPL,
// EST, TM2, xTPR, PDCM, DCA, PSN, DS, ACPI, SS, TM, PBE (Intel); SVM and VMX are hidden
// from every guest. MONITOR/MWAIT is defined by both but hidden from every guest.
//
// Leaf 1 ECX: SSE3 (0), PCLMULQDQ (1), SSSE3 (9), FMA (12), CMPXCHG16B (13), SSE4.1 (19),
// SSE4.2 (20), x2APIC (21), MOVBE (22), POPCNT (23), TSC-deadline (24), AES (25),
// XSAVE (26), OSXSAVE (27), AVX (28), F16C (29), RDRAND (30), and bit 31, which both
// leave to hypervisors. x2APIC and TSC-deadline are the virtual local APIC's, not the
// host's (the virtual PC offers them on either vendor); PCID (17) is defined by both
// (on AMD's newer CPUs) but not offered yet.
constexpr u32 kMigratableLeaf1Ecx = bit(0) | bit(1) | bit(9) | bit(12) | bit(13) | bit(17) | bit(19) | bit(20) |
                                    bit(21) | bit(22) | bit(23) | bit(24) | bit(25) | bit(26) | bit(27) | bit(28) |
                                    bit(29) | bit(30) | bit(31);
// Leaf 1 EDX: FPU (0), VME (1), DE (2), PSE (3), TSC (4), MSR (5), PAE (6), CMPXCHG8B (8),
// APIC (9), SYSENTER/SYSEXIT (11), PGE (13), CMOV (15), PAT (16), PSE-36 (17),
// CLFLUSH (19), MMX (23), FXSR (24), SSE (25), SSE2 (26). SYSENTER's bit means the same on
// both, but AMD raises #UD for it in long mode: a 64-bit guest uses SYSCALL there.
constexpr u32 kMigratableLeaf1Edx = bit(0) | bit(1) | bit(2) | bit(3) | bit(4) | bit(5) | bit(6) | bit(8) | bit(9) |
                                    bit(11) | bit(13) | bit(15) | bit(16) | bit(17) | bit(19) | bit(23) | bit(24) |
                                    bit(25) | bit(26);
// Leaf 7.0 EBX: FSGSBASE (0), BMI1 (3), AVX2 (5), SMEP (7), BMI2 (8), ERMS (9),
// INVPCID (10), RDSEED (18), ADX (19), SMAP (20), CLFLUSHOPT (23), CLWB (24), SHA (29).
// AVX-512, which both define where a CPU has it, needs XSAVE state Vireo does not handle
// yet.
constexpr u32 kMigratableLeaf7Ebx = bit(0) | bit(3) | bit(5) | bit(7) | bit(8) | bit(9) | bit(10) | bit(18) | bit(19) |
                                    bit(20) | bit(23) | bit(24) | bit(29);
// Leaf 7.0 ECX and EDX: Vireo offers none of their features to any guest yet.
constexpr u32 kMigratableLeaf7Ecx = 0;
constexpr u32 kMigratableLeaf7Edx = 0;
// Leaf 8000_0001h ECX: LAHF/SAHF in 64-bit mode (0), LZCNT (5; AMD's ABM, which also
// names POPCNT, reported in leaf 1 by both), PREFETCHW (8). EDX: SYSCALL/SYSRET (11;
// Intel has them in 64-bit mode only, where a 64-bit guest uses them), NX (20),
// 1 GiB pages (26), RDTSCP (27; not offered yet), long mode (29). AMD's copies of leaf
// 1's EDX bits in 8000_0001h EDX are reserved on Intel, and left out.
constexpr u32 kMigratableExt1Ecx = bit(0) | bit(5) | bit(8);
constexpr u32 kMigratableExt1Edx = bit(11) | bit(20) | bit(26) | bit(27) | bit(29);

constexpr u32 kMaxBasicLeaf = 0xd;
constexpr u32 kLeaf1EcxXsave = bit(26), kLeaf1EcxOsxsave = bit(27), kLeaf1EcxAvx = bit(28);
constexpr u32 kLeaf7EbxAvx2 = bit(5);
constexpr u32 kLeaf1EdxApic = bit(9), kLeaf1EcxX2apic = bit(21), kLeaf1EcxTscDeadline = bit(24);
constexpr u64 kCr4Osxsave = 1ull << 18;
constexpr u64 kXcr0Avx = 4;
// XSAVE layout (SDM vol. 1, 13.4): 512-byte legacy region + 64-byte header, then the AVX
// (YMM_Hi128) component of 256 bytes at offset 576.
constexpr u32 kXsaveLegacyAndHeader = 576, kXsaveAvxSize = 256;
constexpr u32 kMaxExtendedLeaf = 0x80000008;

// KVM's paravirtual interface (Linux's Documentation/virt/kvm/x86/cpuid.rst): its
// signature, and of its features (KVM_CPUID_FEATURES EAX):
//  - the clock, KVM_FEATURE_CLOCKSOURCE2 (bit 3, MSRs 0x4b564d00/01) with
//    KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (bit 24: the records' PVCLOCK_TSC_STABLE_BIT may
//    be trusted);
//  - KVM_FEATURE_PV_EOI (bit 6, MSR 0x4b564d04: kernel/vm/devices/pc/pv_eoi.hpp);
//  - KVM_FEATURE_STEAL_TIME (bit 5, MSR 0x4b564d03: kernel/vm/devices/pc/steal_time.hpp),
//    and on it KVM_FEATURE_PV_TLB_FLUSH (bit 9: a preempted vCPU's record takes the
//    flush request);
//  - KVM_FEATURE_PV_SEND_IPI (bit 11, hypercall 10: kernel/vm/devices/apic/kvm_pv_ipi.hpp).
// Linux touches the other interfaces (async page faults, PV unhalt, ...) only where a bit
// says so. PV unhalt's KVM_HC_KICK_CPU is number 5, Vireo's domain_info: not offered.
constexpr u32 kKvmCpuidBase = 0x40000100;
constexpr char kKvmSignature[13] = "KVMKVMKVM\0\0\0";
constexpr u32 kKvmFeatures = bit(3) | bit(5) | bit(6) | bit(9) | bit(11) | bit(24);

u32 signature_dword(const char (&signature)[13], usize i) {
    u32 v;
    memcpy(&v, signature + 4 * i, 4);
    return v;
}
u32 signature_dword(usize i) { return signature_dword(kVireoCpuidSignature, i); }

u32 min(u32 a, u32 b) { return a < b ? a : b; }

// Smallest n with 2^n >= count: the APIC-ID shift for a level of `count` CPUs.
u32 id_shift(u32 count) {
    u32 n = 0;
    while ((1u << n) < count) ++n;
    return n;
}

}  // namespace

void CpuidPolicy::init(const CpuAccess& host, u32 vcpu_count, u64 xcr0_supported) {
    host_ = &host;
    xcr0_supported_ = xcr0_supported;
    vcpu_count_ = vcpu_count ? vcpu_count : 1;
    max_basic_ = min(host.cpuid(0).eax, kMaxBasicLeaf);
    const u32 host_extended = host.cpuid(0x80000000).eax;
    max_extended_ = host_extended >= 0x80000000 ? min(host_extended, kMaxExtendedLeaf) : 0x80000000;
    for (u32 leaf = 0; leaf < 3; ++leaf) host_basic_[leaf] = leaf <= max_basic_ ? host.cpuid(leaf) : CpuidResult{};
    host_leaf7_ = max_basic_ >= 7 ? host.cpuid(7, 0) : CpuidResult{};
    for (u32 i = 0; i < 9; ++i)
        host_extended_[i] = 0x80000000 + i <= max_extended_ ? host.cpuid(0x80000000 + i) : CpuidResult{};
    refresh_shared_answers();
}

void CpuidPolicy::refresh_shared_answers() {
    for (u32 leaf = 0; leaf < kSharedBasic; ++leaf)
        shared_basic_[leaf] = (kSharedBasicLeaves >> leaf) & 1 ? query(leaf, 0, 0, 0) : CpuidResult{};
    for (u32 i = 0; i < kSharedExtended; ++i) shared_extended_[i] = query(0x80000000 + i, 0, 0, 0);
    for (u32 i = 0; i < 4; ++i) shared_hypervisor_[i] = query((i < 2 ? 0x40000000 : 0x40000100 - 2) + i, 0, 0, 0);
}

CpuidResult CpuidPolicy::query(u32 leaf, u32 subleaf, u32 vcpu_index, u64 guest_cr4, u64 guest_xcr0) const {
    const bool xsave = xcr0_supported_ != 0;
    const bool avx = (xcr0_supported_ & kXcr0Avx) != 0;
    if (leaf >= 0x40000000 && leaf < 0x80000000) {
        if (leaf == 0x40000000) return {kVireoCpuidMaxLeaf, signature_dword(0), signature_dword(1), signature_dword(2)};
        if (leaf == 0x40000001) return {0x00000001, 0, 0, 0};  // interface version 0.1
        // KVM's leaves one block up, where Linux's kvm_cpuid_base() looks for them (it
        // steps through 0x40000000-0x4000ff00), as Xen places Viridian's beside its own:
        // for the virtual PC, whose platform serves the MSRs they name.
        if (local_apic_ && leaf == kKvmCpuidBase)
            return {kKvmCpuidBase + 1, signature_dword(kKvmSignature, 0), signature_dword(kKvmSignature, 1),
                    signature_dword(kKvmSignature, 2)};
        if (local_apic_ && leaf == kKvmCpuidBase + 1) return {kKvmFeatures, 0, 0, 0};  // no hints
        return {};
    }
    const bool extended = leaf >= 0x80000000;
    if ((!extended && leaf > max_basic_) || (extended && leaf > max_extended_)) return {};  // AMD: zeros

    // Leaf 4 (cache parameters) is the only one read from the host each time, per subleaf.
    const CpuidResult host = leaf < 3    ? host_basic_[leaf]
                             : leaf == 4 ? host_->cpuid(4, subleaf)
                             : leaf == 7 ? host_leaf7_
                             : extended  ? host_extended_[leaf - 0x80000000]
                                         : CpuidResult{};
    CpuidResult r{};
    switch (leaf) {
        case 0: return {max_basic_, host.ebx, host.ecx, host.edx};
        case 1:
            // EBX: initial APIC ID, logical processors per package, CLFLUSH line size.
            r.eax = host.eax;
            r.ebx = (vcpu_index << 24) | (min(vcpu_count_, 255) << 16) | (host.ebx & 0xff00);
            r.ecx = (host.ecx & kLeaf1Ecx) | kLeaf1EcxHypervisor;
            if (xsave) r.ecx |= kLeaf1EcxXsave | ((guest_cr4 & kCr4Osxsave) ? kLeaf1EcxOsxsave : 0);
            if (avx) r.ecx |= host.ecx & kLeaf1EcxAvx;
            r.edx = host.edx & kLeaf1Edx;
            if (local_apic_) {
                r.edx |= kLeaf1EdxApic;
                r.ecx |= kLeaf1EcxX2apic | kLeaf1EcxTscDeadline;
            }
            if (migratable_) {
                r.ecx &= kMigratableLeaf1Ecx;
                r.edx &= kMigratableLeaf1Edx;
            }
            if (limited_) {
                // OSXSAVE follows the guest's CR4 (and is clear once the limit hid XSAVE).
                r.ecx &= limit_.leaf1_ecx | kLeaf1EcxOsxsave | kLeaf1EcxHypervisor;
                r.edx &= limit_.leaf1_edx;
            }
            return r;
        case 2:
        case 4: return host;  // cache descriptors
        case 7:
            if (subleaf == 0) r.ebx = host.ebx & (kLeaf7Ebx | (avx ? kLeaf7EbxAvx2 : 0));
            if (migratable_) {
                r.ebx &= kMigratableLeaf7Ebx;
                r.ecx &= kMigratableLeaf7Ecx;
                r.edx &= kMigratableLeaf7Edx;
            }
            if (limited_) {
                r.ebx &= limit_.leaf7_ebx;
                r.ecx &= limit_.leaf7_ecx;
                r.edx &= limit_.leaf7_edx;
            }
            return r;
        case 0xd:
            // XSAVE components (SDM vol. 1, 13.2): x87, SSE and AVX only.
            if (!xsave) return r;
            if (subleaf == 0) {
                r.eax = u32(xcr0_supported_);
                r.ebx = kXsaveLegacyAndHeader + ((guest_xcr0 & kXcr0Avx) ? kXsaveAvxSize : 0);
                r.ecx = kXsaveLegacyAndHeader + (avx ? kXsaveAvxSize : 0);
            } else if (subleaf == 2 && avx) {
                r.eax = kXsaveAvxSize;
                r.ebx = kXsaveLegacyAndHeader;
            }
            return r;
        case 0xb:
            // Topology (SDM vol. 3, 9.9.1): one thread per core, vcpu_count cores.
            r.edx = vcpu_index;
            if (subleaf == 0) {
                r.eax = 0;
                r.ebx = 1;
                r.ecx = (1u << 8) | subleaf;
            } else if (subleaf == 1) {
                r.eax = id_shift(vcpu_count_);
                r.ebx = vcpu_count_;
                r.ecx = (2u << 8) | subleaf;
            } else {
                r.ecx = subleaf & 0xff;  // level number in ECX[7:0]; ECX[15:8] = 0: invalid level
            }
            return r;
        case 0x80000000: return {max_extended_, host.ebx, host.ecx, host.edx};
        case 0x80000001:
            r.eax = host.eax;
            r.ecx = host.ecx & kExt1Ecx;
            r.edx = host.edx & kExt1Edx;
            if (migratable_) {
                r.ecx &= kMigratableExt1Ecx;
                r.edx &= kMigratableExt1Edx;
            }
            if (limited_) {
                r.ecx &= limit_.ext1_ecx;
                r.edx &= limit_.ext1_edx;
            }
            return r;
        case 0x80000002:
        case 0x80000003:
        case 0x80000004:
        case 0x80000005:
        case 0x80000006: return host;  // brand string and cache information
        case 0x80000007: r.edx = host.edx & kExt7EdxInvariantTsc; return r;
        case 0x80000008:
            r.eax = host.eax & 0xffff;  // physical and linear address sizes
            r.ecx = vcpu_count_ - 1;    // cores per package - 1
            return r;
        default: return {};
    }
}

void CpuidPolicy::set_feature_limit(const hypercall::CpuidFeatureLimit& limit) {
    limit_ = limit;
    limited_ = true;
    // The XSAVE components follow the features that use them (SDM vol. 1, 13.2): none
    // without XSAVE, no AVX state without AVX.
    if (!(limit.leaf1_ecx & kLeaf1EcxXsave)) xcr0_supported_ = 0;
    if (!(limit.leaf1_ecx & kLeaf1EcxAvx)) xcr0_supported_ &= ~kXcr0Avx;
    refresh_shared_answers();
}

u64 CpuidPolicy::cr4_allowed() const {
    const CpuidResult leaf7 = query(7, 0, 0, 0);
    return guest_cr4_allowed(query(1, 0, 0, 0).ecx, leaf7.ebx, leaf7.ecx);
}

u64 CpuidPolicy::efer_allowed() const { return guest_efer_allowed(query(0x80000001, 0, 0, 0).edx); }

u8 CpuidPolicy::max_physical_bits() const {
    const u8 bits = u8(query(0x80000008, 0, 0, 0).eax);
    return bits ? bits : 36;  // without the leaf: 36 (SDM vol. 3A 4.1.4)
}
