#pragma once
// The protection bits Vireo sets in its own CR4 on every CPU, beyond what paging needs.
//
// - SMEP and SMAP (SDM vol. 3A 4.6.1; AMD APM vol. 2 5.6): Vireo maps nothing with U/S=1
//   at the leaf, so neither can fault on its own accesses; they stop it from ever running
//   or (without AC) reading a user page, the defence Xen also turns on in its hypervisor.
// - PSE: no effect under PAE paging (SDM vol. 3A 4.1.1, table 4-1), so it costs nothing.
//
// All three are bits Debian's Linux sets in its own CR4 (SMEP and SMAP when its CPUID
// shows them). QEMU's TCG flushes its whole software TLB and translation jump cache
// whenever a CR4 load changes PGE, PAE, PSE, SMEP, SMAP or LA57 (cpu_x86_update_cr4 in
// QEMU's target/i386/helper.c), and VMRUN and #VMEXIT load CR4: with the host's bits
// equal to the guest's, a Linux guest's round trip takes two flushes fewer. Measured
// with QEMU 7.2 and a Linux boot to userspace: 231,000 TLB flushes before, 154,000 after.
#include "kernel/types.hpp"
#include "kernel/x86/instructions.hpp"

namespace x86 {

// CPUID.(EAX=07h,ECX=0):EBX bits 7 (SMEP) and 20 (SMAP) (SDM vol. 2A, CPUID).
inline constexpr u32 kCpuid7EbxSmep = 1u << 7;
inline constexpr u32 kCpuid7EbxSmap = 1u << 20;

// The CR4 bits to add, given CPUID leaf 7's EBX (0 when the CPU has no leaf 7).
constexpr u64 host_cr4_protection_bits(u32 cpuid7_ebx) {
    u64 bits = kCr4Pse;
    if (cpuid7_ebx & kCpuid7EbxSmep) bits |= kCr4Smep;
    if (cpuid7_ebx & kCpuid7EbxSmap) bits |= kCr4Smap;
    return bits;
}

}  // namespace x86
