// KVM's paravirtual send-IPI hypercall (KVM_HC_SEND_IPI, number 10), as Debian's stock
// Linux makes it once CPUID 0x40000101 shows KVM_FEATURE_PV_SEND_IPI (bit 11): Linux's
// arch/x86/kernel/kvm.c (__send_ipi_mask); the interface is Linux's
// Documentation/virt/kvm/x86/hypercalls.rst.
//
// One hypercall sends an IPI to up to 128 vCPUs (64 in a 32-bit guest), instead of one
// trapped ICR write per destination:
//   RBX, RCX: a bitmap of APIC IDs, bit n naming APIC ID min + n (RCX's bits go on
//             after RBX's: min + 64 + n, or min + 32 + n for a 32-bit guest);
//   RDX: min, the lowest APIC ID of the bitmap (its low 32 bits; IDs past 2^32 - 1
//        name nothing);
//   RSI: the ICR's low word: the vector and the delivery mode (fixed or NMI).
// The result is how many local APICs took the IPI, or -22 (KVM_EINVAL) for an ICR with
// a logical destination, a shorthand or another delivery mode. APIC IDs no vCPU has are
// skipped, as KVM does. The IPI reaches the named local APICs as a physical fixed (or
// NMI) IPI from the ICR would, over the same bus (apic_bus.hpp), so it wakes a halted vCPU.
//
// Pure: host-tested (tests/unit/kvm_pv_ipi_test.cpp).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_bus.hpp"

inline constexpr u32 kKvmHcSendIpi = 10;  // KVM_HC_SEND_IPI (include/uapi/linux/kvm_para.h)
inline constexpr i64 kKvmEinval = -22;    // -KVM_EINVAL

// `wide`: the caller runs in 64-bit mode (its bitmap words are 64 bits). `source_index`:
// the sending vCPU's index on the bus.
i64 kvm_pv_send_ipi(ApicBus& bus, u64 bitmap_low, u64 bitmap_high, u64 min, u64 icr, bool wide, u32 source_index);
