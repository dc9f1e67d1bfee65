// What CPUID tells a guest. Built per domain from the host's CPUID: leaves pass through
// with every feature Vireo does not implement for guests masked off, the virtualization
// extensions hidden, the topology made to match the domain's vCPUs, and the hypervisor
// leaves 0x40000000.. saying "Vireo". A migratable domain (DomainCreateArgs'
// kCreateMigratableCpuid, xl's cpuid = 'migratable') sees of leaves 1, 7.0 and 8000_0001h
// only the features AMD and Intel both define, so that it can be saved on one vendor's
// CPU and restored on the other's. Pure logic, unit-tested with a fake CPU.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "kernel/x86/cpu_access.hpp"

// "VireoVireoHV" in EBX, ECX, EDX of leaf 0x40000000.
inline constexpr char kVireoCpuidSignature[13] = "VireoVireoHV";
inline constexpr u32 kVireoCpuidMaxLeaf = 0x40000001;

class CpuidPolicy {
public:
    // `xcr0_supported`: the XCR0 bits guests may enable (x87, SSE, AVX; 0 hides XSAVE).
    void init(const CpuAccess& host, u32 vcpu_count, u64 xcr0_supported = 0);
    // `guest_cr4` feeds the bits CPUID reports from CR4 (OSXSAVE); `guest_xcr0` the XSAVE
    // area size for the components the guest has enabled (leaf 0xD).
    CpuidResult query(u32 leaf, u32 subleaf, u32 vcpu_index, u64 guest_cr4, u64 guest_xcr0 = 1) const;

    // A domain with a virtual local APIC (kernel/platform/pc_platform.cpp) sees APIC, x2APIC
    // and the TSC-deadline timer in leaf 1.
    void set_local_apic(bool present) {
        local_apic_ = present;
        refresh_shared_answers();
    }
    // Leaves 1, 7.0 and 8000_0001h keep only the features both vendors define with the
    // same meaning (cpuid_policy.cpp, kMigratable*): what the host has of those, and
    // nothing it lacks. The vendor string, family, model, caches and brand stay the host's.
    void set_migratable(bool migratable) {
        migratable_ = migratable;
        refresh_shared_answers();
    }
    bool migratable() const { return migratable_; }
    // Leaves 1, 7.0 and 8000_0001h show no feature outside `limit` (domain_create's
    // kCreateCpuidLimit: the features a restored domain was given where it started). XSAVE
    // or AVX left out also leave the XCR0 bits guests may set. After init.
    void set_feature_limit(const hypercall::CpuidFeatureLimit& limit);
    // The XCR0 bits this domain's guests may set (XSETBV): init's, less what the limit hides.
    u64 xcr0_supported() const { return xcr0_supported_; }
    // What vCPU 0 sees for a leaf right after reset: CR4 = 0 (OSXSAVE clear) and XCR0 = 1
    // (leaf 0Dh's EBX for x87 alone). Independent of what the guest has done since, so a
    // domain's answers can be compared with another's (the domain_cpuid hypercall).
    CpuidResult at_reset(u32 leaf, u32 subleaf) const { return query(leaf, subleaf, 0, 0, 1); }
    // What the guest may set in CR4 and EFER: the bits of the features its CPUID offers
    // (kernel/vm/control_register_rules.hpp); and its MAXPHYADDR.
    u64 cr4_allowed() const;
    u64 efer_allowed() const;
    u8 max_physical_bits() const;
    u32 max_basic_leaf() const { return max_basic_; }
    u32 max_extended_leaf() const { return max_extended_; }
    // query's answer for `leaf` when it depends on nothing of the vCPU asking (index, CR4,
    // XCR0, its APIC) nor on a subleaf, from a table kept with the policy: the exit fast
    // path's (kernel/vm/exit_fast_path.hpp). False for the others (1, 4, 7, 0Bh, 0Dh and
    // unknown leaves), which query answers.
    bool shared_answer(u32 leaf, CpuidResult& out) const {
        const u32 extended = leaf - 0x80000000u, hypervisor = leaf - 0x40000000u, kvm = leaf - 0x40000100u;
        if (leaf < kSharedBasic && ((kSharedBasicLeaves >> leaf) & 1))
            out = shared_basic_[leaf];
        else if (extended < kSharedExtended)
            out = shared_extended_[extended];
        else if (hypervisor < 2)
            out = shared_hypervisor_[hypervisor];
        else if (kvm < 2)
            out = shared_hypervisor_[2 + kvm];
        else
            return false;
        return true;
    }

private:
    static constexpr u32 kSharedBasic = 16;
    // Leaves 0-15 but 1, 4, 7, 0Bh and 0Dh.
    static constexpr u32 kSharedBasicLeaves =
        0xffffu & ~((1u << 1) | (1u << 4) | (1u << 7) | (1u << 0xb) | (1u << 0xd));
    static constexpr u32 kSharedExtended = 9;  // 8000_0000h-8000_0008h
    // After every change of the policy (init and the setters).
    void refresh_shared_answers();

    const CpuAccess* host_ = nullptr;
    u32 vcpu_count_ = 1;
    u32 max_basic_ = 0;
    u32 max_extended_ = 0;
    u64 xcr0_supported_ = 0;
    bool local_apic_ = false;
    bool migratable_ = false;
    bool limited_ = false;
    hypercall::CpuidFeatureLimit limit_{};
    // The host leaves that depend on neither the subleaf nor the CPU asking (leaf 1's
    // APIC ID is replaced), read once: a host CPUID at each guest CPUID would cost an
    // exit of its own under a hypervisor, and tens of cycles or more on hardware.
    CpuidResult host_basic_[3];     // leaves 0, 1, 2
    CpuidResult host_leaf7_;        // leaf 7, subleaf 0
    CpuidResult host_extended_[9];  // leaves 8000_0000h..8000_0008h
    CpuidResult shared_basic_[kSharedBasic] = {};
    CpuidResult shared_extended_[kSharedExtended] = {};
    CpuidResult shared_hypervisor_[4] = {};  // 4000_0000h-4000_0001h, 4000_0100h-4000_0101h
};
