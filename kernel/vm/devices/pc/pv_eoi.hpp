// KVM's paravirtual end of interrupt (PV EOI), as Debian's stock Linux drives it once
// CPUID 0x40000101 shows KVM_FEATURE_PV_EOI (bit 6): Linux's arch/x86/kernel/kvm.c
// (kvm_guest_apic_eoi_write); the interface is Linux's Documentation/virt/kvm/x86/msr.rst
// (MSR_KVM_PV_EOI_EN) and cpuid.rst.
//
// Each vCPU names a 4-byte word of its RAM with MSR_KVM_PV_EOI_EN. When the hypervisor
// sets bit 0 of that word, the guest may end its interrupt by clearing the bit (with one
// test-and-clear instruction) instead of writing the local APIC's EOI register, which
// exits. The hypervisor looks at the word at the next exit and does the EOI itself.
//
// Vireo arms the word only at an entry that hands the vCPU a vector of its local APIC
// while nothing else is in service or requested and the vector is edge-triggered (as
// KVM's apic_sync_pv_eoi_to_guest): then the guest's next EOI can only be that vector's,
// and doing it at the next exit delays nothing, since any other interrupt makes the vCPU
// exit first. Every exit takes the arming back (take), whatever the guest did.
//
// Pure: the word goes through GuestPhysicalMemory. Host-tested
// (tests/unit/pv_eoi_test.cpp).
#pragma once

#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

class StateWriter;
class StateReader;

class PvEoi {
public:
    static constexpr u32 kMsr = 0x4b564d04;  // MSR_KVM_PV_EOI_EN
    static constexpr u64 kEnable = 1;        // bit 0; bit 1 reserved, bits 63:2 the address
    static constexpr u32 kMaxVcpus = 64;

    static bool handles_msr(u32 index) { return index == kMsr; }

    // RDMSR: the last value written.
    u64 msr_read(u32 vcpu) const { return vcpu < kMaxVcpus ? msr_[vcpu] : 0; }
    // WRMSR: false (#GP) for a set reserved bit 1, or, enabling, for a word that is not
    // 4 bytes of the guest's RAM (as KVM's kvm_lapic_set_pv_eoi refuses them).
    bool msr_write(u32 vcpu, u64 value, GuestPhysicalMemory& memory);
    bool enabled(u32 vcpu) const { return vcpu < kMaxVcpus && (msr_[vcpu] & kEnable); }

    // Sets bit 0 of the vCPU's word: the guest may skip the EOI write of the vector it is
    // handed now. False when the word could not be written (nothing armed).
    bool arm(u32 vcpu, GuestPhysicalMemory& memory);
    bool armed(u32 vcpu) const { return vcpu < kMaxVcpus && armed_[vcpu]; }
    // At an exit: clears bit 0 if it is still set and ends the arming. True when the
    // guest had cleared it, that is, ended its interrupt without the EOI write: the
    // caller does the local APIC's EOI for it.
    bool take(u32 vcpu, GuestPhysicalMemory& memory);

    // The domain's reset: PV EOI off on every vCPU, as at power-on.
    void reset();

    // Save and restore (the pc_state::kPvEoi record): each vCPU's MSR value. Nothing is
    // armed in a saved state: each exit ends the arming, and a vCPU is saved after one.
    struct State {
        u64 msr[kMaxVcpus];
    };
    void save(StateWriter& out, u32 vcpus) const;
    // False for a value no WRMSR could have left (bit 1 set).
    bool load(StateReader& in, u32 vcpus, State& out) const;
    void restore(const State& state, u32 vcpus);

private:
    static u64 word_address(u64 msr) { return msr & ~u64(3); }

    u64 msr_[kMaxVcpus] = {};
    bool armed_[kMaxVcpus] = {};
};
