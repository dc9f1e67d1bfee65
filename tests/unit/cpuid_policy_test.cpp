#include "kernel/vm/cpuid_policy.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <utility>

namespace {

// A host CPU described by its CPUID leaves; the policy must never read an MSR.
class FakeHostCpu final : public CpuAccess {
public:
    std::map<std::pair<u32, u32>, CpuidResult> leaves;

    CpuidResult cpuid(u32 leaf, u32 subleaf) const override {
        auto it = leaves.find({leaf, subleaf});
        return it == leaves.end() ? CpuidResult{} : it->second;
    }
    u64 read_msr(Msr msr) const override {
        ADD_FAILURE() << "the CPUID policy read an MSR: " << std::hex << msr_index(msr);
        return 0;
    }
    void write_msr(Msr msr, u64) override { ADD_FAILURE() << "the CPUID policy wrote an MSR: " << msr_index(msr); }
};

constexpr u32 bit(u32 n) { return 1u << n; }

// Leaf 1 ECX (SDM vol. 2A, table 3-10) and EDX (table 3-11).
constexpr u32 kEcxSse3 = bit(0), kEcxMonitor = bit(3), kEcxVmx = bit(5), kEcxSmx = bit(6), kEcxSsse3 = bit(9),
              kEcxFma = bit(12), kEcxPcid = bit(17), kEcxSse41 = bit(19), kEcxSse42 = bit(20), kEcxX2apic = bit(21),
              kEcxPopcnt = bit(23), kEcxTscDeadline = bit(24), kEcxXsave = bit(26), kEcxOsxsave = bit(27),
              kEcxAvx = bit(28), kEcxF16c = bit(29), kEcxHypervisor = bit(31);
constexpr u32 kEdxFpu = bit(0), kEdxTsc = bit(4), kEdxPae = bit(6), kEdxCx8 = bit(8), kEdxSse2 = bit(26);
// Leaf 7.0 EBX: AVX2 (5), AVX-512F (16) need XSAVE state.
constexpr u32 k7EbxAvx2 = bit(5), k7EbxAvx512f = bit(16);
// AMD APM vol. 3, E.4.2: 8000_0001h ECX bit 2 is SVM; EDX bit 29 long mode.
constexpr u32 kExtEcxSvm = bit(2), kExtEdxLongMode = bit(29), kExtEdxNx = bit(20);
// 8000_0007h EDX bit 8: invariant TSC.
constexpr u32 kInvariantTsc = bit(8);

CpuidResult vendor(const char (&name)[13], u32 max_leaf) {
    CpuidResult r{max_leaf, 0, 0, 0};
    memcpy(&r.ebx, name, 4);
    memcpy(&r.edx, name + 4, 4);
    memcpy(&r.ecx, name + 8, 4);
    return r;
}

// An AMD host that reports every feature bit, so whatever the guest sees off is masked.
FakeHostCpu everything_host(u32 max_basic = 0x10, u32 max_extended = 0x80000023) {
    FakeHostCpu cpu;
    cpu.leaves[{0, 0}] = vendor("AuthenticAMD", max_basic);
    // Family 19h model 1 stepping 1; host APIC ID 0x0b, 64 logical CPUs, CLFLUSH 8 * 8 bytes, brand 0x12.
    cpu.leaves[{1, 0}] = {0x00a00f11, 0x0b400812, 0xffffffff, 0xffffffff};
    cpu.leaves[{7, 0}] = {2, 0xffffffff, 0xffffffff, 0xffffffff};
    cpu.leaves[{0xb, 0}] = {1, 2, 0x100, 0x0b};
    cpu.leaves[{0xb, 1}] = {7, 64, 0x201, 0x0b};
    cpu.leaves[{0xd, 0}] = {0x207, 0x340, 0x988, 0};
    cpu.leaves[{0x80000000, 0}] = {max_extended, 0x68747541, 0x444d4163, 0x69746e65};
    cpu.leaves[{0x80000001, 0}] = {0x00a00f11, 0x20000000, 0xffffffff, 0xffffffff};
    cpu.leaves[{0x80000002, 0}] = {0x20444d41, 0x43595045, 0x31303720, 0x36312033};
    cpu.leaves[{0x80000007, 0}] = {0, 0, 0, 0xffffffff};
    cpu.leaves[{0x80000008, 0}] = {0x3030, 0xffffffff, 0x0000703f, 0};
    cpu.leaves[{0x8000000a, 0}] = {1, 0x8000, 0, 0xffffffff};
    return cpu;
}

// A host that reports no optional feature at all.
FakeHostCpu bare_host() {
    FakeHostCpu cpu;
    cpu.leaves[{0, 0}] = vendor("GenuineIntel", 0xb);
    cpu.leaves[{1, 0}] = {0x000306c3, 0x00000800, 0, 0};
    cpu.leaves[{0x80000000, 0}] = {0x80000008, 0, 0, 0};
    cpu.leaves[{0x80000008, 0}] = {0x3027, 0, 0, 0};
    return cpu;
}

CpuidPolicy policy_for(const FakeHostCpu& host, u32 vcpus) {
    CpuidPolicy p;
    p.init(host, vcpus);
    return p;
}

bool all_zero(const CpuidResult& r) { return r.eax == 0 && r.ebx == 0 && r.ecx == 0 && r.edx == 0; }

TEST(CpuidPolicy, VirtualizationExtensionsAreHidden) {
    const FakeHostCpu host = everything_host();
    const CpuidPolicy p = policy_for(host, 1);
    EXPECT_FALSE(p.query(1, 0, 0, 0).ecx & kEcxVmx);
    EXPECT_FALSE(p.query(1, 0, 0, 0).ecx & kEcxSmx);
    const CpuidResult ext = p.query(0x80000001, 0, 0, 0);
    EXPECT_FALSE(ext.ecx & kExtEcxSvm);
    // SVM's own leaf is not there either.
    EXPECT_TRUE(all_zero(p.query(0x8000000a, 0, 0, 0)));
    // The features a guest kernel needs still are.
    EXPECT_TRUE(ext.edx & kExtEdxLongMode);
    EXPECT_TRUE(ext.edx & kExtEdxNx);
}

TEST(CpuidPolicy, HypervisorBitIsSet) {
    const FakeHostCpu everything = everything_host(), bare = bare_host();
    EXPECT_TRUE(policy_for(everything, 1).query(1, 0, 0, 0).ecx & kEcxHypervisor);
    EXPECT_TRUE(policy_for(bare, 4).query(1, 0, 3, 0).ecx & kEcxHypervisor);
}

TEST(CpuidPolicy, HypervisorLeaves) {
    const FakeHostCpu host = everything_host();
    const CpuidPolicy p = policy_for(host, 2);
    const CpuidResult r = p.query(0x40000000, 0, 0, 0);
    EXPECT_EQ(r.eax, 0x40000001u);
    EXPECT_EQ(r.eax, kVireoCpuidMaxLeaf);
    char signature[13] = {};
    memcpy(signature, &r.ebx, 4);
    memcpy(signature + 4, &r.ecx, 4);
    memcpy(signature + 8, &r.edx, 4);
    EXPECT_STREQ(signature, "VireoVireoHV");
    // Same answer for every vCPU and subleaf.
    const CpuidResult other = p.query(0x40000000, 5, 1, 0);
    EXPECT_EQ(other.ebx, r.ebx);
    EXPECT_EQ(other.edx, r.edx);

    // Interface version 0.1, as the version hypercall reports ((major << 16) | minor).
    const CpuidResult version = p.query(0x40000001, 0, 0, 0);
    EXPECT_EQ(version.eax, 0x00000001u);
    EXPECT_EQ(version.ebx, 0u);
    EXPECT_EQ(version.ecx, 0u);
    EXPECT_EQ(version.edx, 0u);

    for (u32 leaf : {0x40000002u, 0x40000003u, 0x40000010u, 0x40000100u, 0x4fffffffu, 0x7fffffffu})
        EXPECT_TRUE(all_zero(p.query(leaf, 0, 0, 0))) << std::hex << leaf;
}

// KVM's signature one block up (Linux's kvm_cpuid_base() steps through the 0x100 blocks),
// with the features the virtual PC serves, for the virtual PC only.
TEST(CpuidPolicy, KvmLeavesForTheVirtualPc) {
    const FakeHostCpu host = everything_host();
    CpuidPolicy p = policy_for(host, 2);
    EXPECT_TRUE(all_zero(p.query(0x40000100, 0, 0, 0))) << "no virtual PC: no kvmclock MSRs";
    p.set_local_apic(true);
    const CpuidResult r = p.query(0x40000100, 0, 1, 0);
    EXPECT_EQ(r.eax, 0x40000101u);
    char signature[13] = {};
    memcpy(signature, &r.ebx, 4);
    memcpy(signature + 4, &r.ecx, 4);
    memcpy(signature + 8, &r.edx, 4);
    EXPECT_EQ(memcmp(signature, "KVMKVMKVM\0\0\0", 12), 0);
    const CpuidResult features = p.query(0x40000101, 0, 0, 0);
    EXPECT_EQ(features.eax, (1u << 3) | (1u << 5) | (1u << 6) | (1u << 9) | (1u << 11) | (1u << 24))
        << "KVM_FEATURE_CLOCKSOURCE2, STEAL_TIME, PV_EOI, PV_TLB_FLUSH, PV_SEND_IPI and CLOCKSOURCE_STABLE_BIT";
    EXPECT_EQ(features.eax & (1u << 7), 0u) << "no PV_UNHALT: its KVM_HC_KICK_CPU is Vireo's call 5";
    EXPECT_EQ(features.edx, 0u) << "no hints";
    EXPECT_EQ(p.query(0x40000000, 0, 0, 0).eax, kVireoCpuidMaxLeaf) << "Vireo's own leaves stay first";
    EXPECT_TRUE(all_zero(p.query(0x40000102, 0, 0, 0)));
}

TEST(CpuidPolicy, BasicLeavesAboveTheCappedMaximumAreZero) {
    const FakeHostCpu host = everything_host(0x10);
    const CpuidPolicy p = policy_for(host, 1);
    const CpuidResult leaf0 = p.query(0, 0, 0, 0);
    const u32 max = leaf0.eax;
    EXPECT_EQ(max, p.max_basic_leaf());
    EXPECT_LT(max, 0x10u) << "capped below the host's";
    EXPECT_GE(max, 0xbu) << "the topology leaf stays visible";
    // The vendor passes through.
    char name[13] = {};
    memcpy(name, &leaf0.ebx, 4);
    memcpy(name + 4, &leaf0.edx, 4);
    memcpy(name + 8, &leaf0.ecx, 4);
    EXPECT_STREQ(name, "AuthenticAMD");
    for (u32 leaf = max + 1; leaf <= 0x20; ++leaf) EXPECT_TRUE(all_zero(p.query(leaf, 0, 0, 0))) << std::hex << leaf;
    EXPECT_TRUE(all_zero(p.query(0xd, 0, 0, 0))) << "XSAVE state enumeration is hidden";
    EXPECT_TRUE(all_zero(p.query(0x3fffffff, 0, 0, 0)));
}

TEST(CpuidPolicy, HostMaximumBelowTheCapIsKept) {
    FakeHostCpu host = everything_host(7);
    const CpuidPolicy p = policy_for(host, 2);
    EXPECT_EQ(p.query(0, 0, 0, 0).eax, 7u);
    EXPECT_EQ(p.max_basic_leaf(), 7u);
    EXPECT_TRUE(all_zero(p.query(0xb, 0, 0, 0))) << "leaf 0xb is past this host's maximum";
    EXPECT_TRUE(all_zero(p.query(0xb, 1, 1, 0)));
    EXPECT_FALSE(all_zero(p.query(1, 0, 0, 0)));
}

TEST(CpuidPolicy, ExtendedLeavesAboveTheCappedMaximumAreZero) {
    const FakeHostCpu host = everything_host(0x10, 0x80000023);
    const CpuidPolicy p = policy_for(host, 1);
    const u32 max = p.query(0x80000000, 0, 0, 0).eax;
    EXPECT_EQ(max, p.max_extended_leaf());
    EXPECT_GE(max, 0x80000008u);
    EXPECT_LT(max, 0x8000000au) << "the SVM leaf is past the guest's maximum";
    for (u32 leaf = max + 1; leaf <= 0x80000030; ++leaf)
        EXPECT_TRUE(all_zero(p.query(leaf, 0, 0, 0))) << std::hex << leaf;
    EXPECT_TRUE(all_zero(p.query(0xc0000000, 0, 0, 0)));
    EXPECT_TRUE(all_zero(p.query(0xffffffff, 0, 0, 0)));
    // The brand string passes through.
    const CpuidResult brand = p.query(0x80000002, 0, 0, 0);
    EXPECT_EQ(brand.eax, 0x20444d41u);
    EXPECT_EQ(brand.edx, 0x36312033u);
}

TEST(CpuidPolicy, HostWithFewExtendedLeaves) {
    FakeHostCpu host = everything_host(0x10, 0x80000004);
    CpuidPolicy p = policy_for(host, 1);
    EXPECT_EQ(p.query(0x80000000, 0, 0, 0).eax, 0x80000004u);
    EXPECT_TRUE(all_zero(p.query(0x80000007, 0, 0, 0)));
    EXPECT_TRUE(all_zero(p.query(0x80000008, 0, 0, 0)));

    // No extended leaves at all (EAX of 8000_0000h below 8000_0000h).
    host.leaves[{0x80000000, 0}] = {0, 0, 0, 0};
    p = policy_for(host, 1);
    EXPECT_LE(p.query(0x80000000, 0, 0, 0).eax, 0x80000000u);
    EXPECT_TRUE(all_zero(p.query(0x80000001, 0, 0, 0)));
    EXPECT_TRUE(all_zero(p.query(0x80000008, 0, 0, 0)));
}

TEST(CpuidPolicy, Leaf1ApicIdAndLogicalProcessorCount) {
    const FakeHostCpu host = everything_host();
    for (u32 vcpus : {1u, 2u, 3u, 8u}) {
        const CpuidPolicy p = policy_for(host, vcpus);
        for (u32 index = 0; index < vcpus; ++index) {
            const CpuidResult r = p.query(1, 0, index, 0);
            EXPECT_EQ(r.ebx >> 24, index) << "initial APIC ID, " << vcpus << " vCPUs";
            EXPECT_EQ((r.ebx >> 16) & 0xff, vcpus) << "logical processors per package";
            EXPECT_EQ((r.ebx >> 8) & 0xff, 8u) << "CLFLUSH line size from the host";
            EXPECT_EQ(r.eax, 0x00a00f11u) << "family, model and stepping from the host";
        }
    }
}

TEST(CpuidPolicy, Leaf0bTopology) {
    const FakeHostCpu host = everything_host();
    struct Case {
        u32 vcpus, core_shift;
    };
    for (const Case c : {Case{1, 0}, Case{2, 1}, Case{3, 2}, Case{8, 3}}) {
        const CpuidPolicy p = policy_for(host, c.vcpus);
        for (u32 index = 0; index < c.vcpus; ++index) {
            SCOPED_TRACE(testing::Message() << c.vcpus << " vCPUs, vCPU " << index);
            // Level 0: SMT, one thread per core.
            const CpuidResult smt = p.query(0xb, 0, index, 0);
            EXPECT_EQ(smt.eax & 0x1f, 0u);
            EXPECT_EQ(smt.ebx & 0xffff, 1u);
            EXPECT_EQ(smt.ecx & 0xff, 0u) << "level number echoes ECX";
            EXPECT_EQ((smt.ecx >> 8) & 0xff, 1u) << "level type SMT";
            EXPECT_EQ(smt.edx, index) << "x2APIC ID";
            // Level 1: cores, all vCPUs in one package.
            const CpuidResult core = p.query(0xb, 1, index, 0);
            EXPECT_EQ(core.eax & 0x1f, c.core_shift);
            EXPECT_EQ(core.ebx & 0xffff, c.vcpus);
            EXPECT_EQ(core.ecx & 0xff, 1u);
            EXPECT_EQ((core.ecx >> 8) & 0xff, 2u) << "level type core";
            EXPECT_EQ(core.edx, index);
            EXPECT_EQ(core.edx >> (core.eax & 0x1f), 0u) << "same package for every vCPU";
            EXPECT_GE(1u << (core.eax & 0x1f), c.vcpus);
            // The x2APIC ID matches leaf 1's initial APIC ID.
            EXPECT_EQ(p.query(1, 0, index, 0).ebx >> 24, core.edx);
            // Level 2 and beyond: invalid, with the level number echoed.
            for (u32 level : {2u, 3u, 0xffu}) {
                const CpuidResult none = p.query(0xb, level, index, 0);
                EXPECT_EQ(none.eax, 0u) << level;
                EXPECT_EQ(none.ebx, 0u) << level;
                EXPECT_EQ(none.ecx & 0xff, level) << level;
                EXPECT_EQ((none.ecx >> 8) & 0xff, 0u) << "level type invalid, level " << level;
                EXPECT_EQ(none.edx, index);
            }
        }
    }
}

TEST(CpuidPolicy, Leaf0bLevelTypeIsInvalidForLargeSubleaves) {
    // ECX[7:0] echoes the level number and ECX[15:8] is the level type; a subleaf above
    // 255 is just as invalid and must not read back as type 1 (SMT) or 2 (core).
    const FakeHostCpu host = everything_host();
    const CpuidPolicy p = policy_for(host, 4);
    for (u32 level : {0x100u, 0x101u, 0x201u, 0xffffffffu}) {
        const CpuidResult r = p.query(0xb, level, 2, 0);
        EXPECT_EQ((r.ecx >> 8) & 0xff, 0u) << std::hex << level;
        EXPECT_EQ(r.ecx & 0xff, level & 0xff) << std::hex << level;
        EXPECT_EQ(r.ebx & 0xffff, 0u) << std::hex << level;
    }
}

TEST(CpuidPolicy, Leaf80000008CoreCount) {
    const FakeHostCpu host = everything_host();
    for (u32 vcpus : {1u, 2u, 3u, 8u}) {
        const CpuidResult r = policy_for(host, vcpus).query(0x80000008, 0, 0, 0);
        EXPECT_EQ(r.ecx & 0xff, vcpus - 1) << "NC: cores per package minus one";
        EXPECT_EQ(r.eax & 0xffff, 0x3030u) << "address sizes from the host";
    }
}

TEST(CpuidPolicy, InvariantTscPassesThroughOnlyWhenTheHostHasIt) {
    FakeHostCpu host = everything_host();
    EXPECT_TRUE(policy_for(host, 1).query(0x80000007, 0, 0, 0).edx & kInvariantTsc);
    EXPECT_EQ(policy_for(host, 1).query(0x80000007, 0, 0, 0).edx, kInvariantTsc) << "only that bit of the host's";
    host.leaves[{0x80000007, 0}] = {0, 0, 0, 0xffffffff & ~kInvariantTsc};
    EXPECT_EQ(policy_for(host, 1).query(0x80000007, 0, 0, 0).edx, 0u);
    const FakeHostCpu bare = bare_host();
    EXPECT_FALSE(policy_for(bare, 1).query(0x80000007, 0, 0, 0).edx & kInvariantTsc);
}

TEST(CpuidPolicy, UnsupportedFeaturesHiddenEvenWhenTheHostHasThem) {
    const FakeHostCpu host = everything_host();
    const CpuidPolicy p = policy_for(host, 2);
    for (u64 cr4 : {0ull, ~0ull}) {  // whatever the guest's CR4 says
        const CpuidResult r = p.query(1, 0, 0, cr4);
        EXPECT_FALSE(r.ecx & kEcxXsave);
        EXPECT_FALSE(r.ecx & kEcxOsxsave);
        EXPECT_FALSE(r.ecx & kEcxAvx);
        EXPECT_FALSE(r.ecx & kEcxFma);
        EXPECT_FALSE(r.ecx & kEcxF16c);
        EXPECT_FALSE(r.ecx & kEcxX2apic);
        EXPECT_FALSE(r.ecx & kEcxMonitor);
        EXPECT_FALSE(r.ecx & kEcxPcid);
        EXPECT_FALSE(r.ecx & kEcxTscDeadline);
        const CpuidResult l7 = p.query(7, 0, 0, cr4);
        EXPECT_FALSE(l7.ebx & k7EbxAvx2);
        EXPECT_FALSE(l7.ebx & k7EbxAvx512f);
    }
    // Plain instruction-set features stay.
    const CpuidResult r = p.query(1, 0, 0, 0);
    for (u32 feature : {kEcxSse3, kEcxSsse3, kEcxSse41, kEcxSse42, kEcxPopcnt}) EXPECT_TRUE(r.ecx & feature) << feature;
    for (u32 feature : {kEdxFpu, kEdxTsc, kEdxPae, kEdxCx8, kEdxSse2}) EXPECT_TRUE(r.edx & feature) << feature;
}

TEST(CpuidPolicy, NothingAppearsThatTheHostLacks) {
    const FakeHostCpu host = bare_host();
    const CpuidPolicy p = policy_for(host, 1);
    const CpuidResult r = p.query(1, 0, 0, 0);
    EXPECT_EQ(r.ecx, kEcxHypervisor);
    EXPECT_EQ(r.edx, 0u);
    EXPECT_EQ(p.query(7, 0, 0, 0).ebx, 0u);
    const CpuidResult ext = p.query(0x80000001, 0, 0, 0);
    EXPECT_EQ(ext.ecx, 0u);
    EXPECT_EQ(ext.edx, 0u);
}

// Migratable domains (AMD APM vol. 3, E.4.2; Intel SDM vol. 2A, CPUID): SSE4A (8000_0001h
// ECX bit 6), misaligned SSE (7) and AMD's MMX extensions (EDX bit 22) are AMD's only.
constexpr u32 kExtEcxLahf = bit(0), kExtEcxLzcnt = bit(5), kExtEcxSse4a = bit(6), kExtEcxMisalignSse = bit(7),
              kExtEcxPrefetchw = bit(8);
constexpr u32 kExtEdxSyscall = bit(11), kExtEdxMmxExt = bit(22), kExtEdxPage1g = bit(26);
constexpr u32 k7EbxBmi1 = bit(3), k7EbxSmep = bit(7), k7EbxSmap = bit(20), k7EbxSha = bit(29);
constexpr u64 kXcr0X87SseAvx = 7;

CpuidPolicy migratable_policy_for(const FakeHostCpu& host, u32 vcpus, u64 xcr0_supported = 0) {
    CpuidPolicy p;
    p.init(host, vcpus, xcr0_supported);
    p.set_migratable(true);
    return p;
}

TEST(CpuidPolicy, MigratableHidesVendorOnlyFeaturesAndKeepsSharedOnes) {
    const FakeHostCpu host = everything_host();
    CpuidPolicy host_policy;
    host_policy.init(host, 1, kXcr0X87SseAvx);
    const CpuidPolicy migratable = migratable_policy_for(host, 1, kXcr0X87SseAvx);
    EXPECT_FALSE(host_policy.migratable());
    EXPECT_TRUE(migratable.migratable());
    // A host domain sees the AMD-only ones as before.
    const CpuidResult host_ext = host_policy.query(0x80000001, 0, 0, 0);
    EXPECT_TRUE(host_ext.ecx & kExtEcxSse4a);
    EXPECT_TRUE(host_ext.ecx & kExtEcxMisalignSse);
    EXPECT_TRUE(host_ext.edx & kExtEdxMmxExt);
    const CpuidResult ext = migratable.query(0x80000001, 0, 0, 0);
    EXPECT_FALSE(ext.ecx & kExtEcxSse4a);
    EXPECT_FALSE(ext.ecx & kExtEcxMisalignSse);
    EXPECT_FALSE(ext.edx & kExtEdxMmxExt);
    for (u32 feature : {kExtEcxLahf, kExtEcxLzcnt, kExtEcxPrefetchw}) EXPECT_TRUE(ext.ecx & feature) << feature;
    for (u32 feature : {kExtEdxSyscall, kExtEdxNx, kExtEdxPage1g, kExtEdxLongMode})
        EXPECT_TRUE(ext.edx & feature) << feature;
    EXPECT_EQ(ext.eax, host_ext.eax);  // the family and model stay the host's
    // Shared features stay, in leaf 1 and 7.0 alike.
    const CpuidResult leaf1 = migratable.query(1, 0, 0, 0);
    for (u32 feature : {kEcxSse3, kEcxSsse3, kEcxSse41, kEcxSse42, kEcxPopcnt, kEcxXsave, kEcxAvx, kEcxHypervisor})
        EXPECT_TRUE(leaf1.ecx & feature) << feature;
    EXPECT_EQ(leaf1.edx, host_policy.query(1, 0, 0, 0).edx);
    const CpuidResult leaf7 = migratable.query(7, 0, 0, 0);
    for (u32 feature : {k7EbxAvx2, k7EbxBmi1, k7EbxSmep, k7EbxSmap, k7EbxSha})
        EXPECT_TRUE(leaf7.ebx & feature) << feature;
    // Never more than a host domain sees, and the same CR4 and EFER rules follow.
    for (u32 leaf : {1u, 7u, 0x80000001u}) {
        const CpuidResult a = migratable.query(leaf, 0, 0, 0), b = host_policy.query(leaf, 0, 0, 0);
        EXPECT_EQ(a.ecx & ~b.ecx, 0u) << std::hex << leaf;
        EXPECT_EQ(a.edx & ~b.edx, 0u) << std::hex << leaf;
        EXPECT_EQ(a.ebx & ~b.ebx, 0u) << std::hex << leaf;
    }
    EXPECT_EQ(migratable.cr4_allowed(), host_policy.cr4_allowed());
    EXPECT_EQ(migratable.efer_allowed(), host_policy.efer_allowed());
}

TEST(CpuidPolicy, MigratableKeepsTheVirtualApicsFeatures) {
    const FakeHostCpu host = bare_host();
    CpuidPolicy p = migratable_policy_for(host, 2);
    p.set_local_apic(true);
    const CpuidResult r = p.query(1, 0, 0, 0);
    EXPECT_TRUE(r.ecx & kEcxX2apic);
    EXPECT_TRUE(r.ecx & kEcxTscDeadline);
    EXPECT_TRUE(r.edx & bit(9));  // APIC
}

TEST(CpuidPolicy, AFeatureTheHostLacksStaysClearEitherWay) {
    FakeHostCpu host = everything_host();
    host.leaves[{1, 0}].ecx &= ~kEcxSse42;
    host.leaves[{7, 0}].ebx &= ~k7EbxSha;
    host.leaves[{0x80000001, 0}].ecx &= ~kExtEcxLzcnt;
    for (bool migratable : {false, true}) {
        CpuidPolicy p;
        p.init(host, 1);
        p.set_migratable(migratable);
        EXPECT_FALSE(p.query(1, 0, 0, 0).ecx & kEcxSse42) << migratable;
        EXPECT_TRUE(p.query(1, 0, 0, 0).ecx & kEcxSse41) << migratable;
        EXPECT_FALSE(p.query(7, 0, 0, 0).ebx & k7EbxSha) << migratable;
        EXPECT_FALSE(p.query(0x80000001, 0, 0, 0).ecx & kExtEcxLzcnt) << migratable;
    }
    const FakeHostCpu bare = bare_host();
    const CpuidPolicy p = migratable_policy_for(bare, 1);
    EXPECT_EQ(p.query(1, 0, 0, 0).ecx, kEcxHypervisor);
    EXPECT_EQ(p.query(1, 0, 0, 0).edx, 0u);
    EXPECT_TRUE(all_zero(p.query(7, 0, 0, 0)));
    EXPECT_EQ(p.query(0x80000001, 0, 0, 0).ecx, 0u);
    EXPECT_EQ(p.query(0x80000001, 0, 0, 0).edx, 0u);
}

constexpr u64 kCr4Osxsave = 1ull << 18;

// A restored domain (domain_create's kCreateCpuidLimit) sees only the features it was
// given where it started, although this host has more; OSXSAVE still follows its CR4, and
// XSAVE state that a hidden feature would use leaves XCR0.
TEST(CpuidPolicy, AFeatureLimitHidesWhatTheDomainWasNotGiven) {
    const FakeHostCpu host = everything_host();
    CpuidPolicy p;
    p.init(host, 1, kXcr0X87SseAvx);
    p.set_migratable(true);
    const CpuidResult leaf1 = p.query(1, 0, 0, 0), leaf7 = p.query(7, 0, 0, 0), ext1 = p.query(0x80000001, 0, 0, 0);
    ASSERT_TRUE(leaf1.ecx & kEcxAvx);
    ASSERT_TRUE(leaf7.ebx & k7EbxSha);
    hypercall::CpuidFeatureLimit limit{
        leaf1.ecx, leaf1.edx, leaf7.ebx & ~k7EbxSha, leaf7.ecx, leaf7.edx, ext1.ecx & ~kExtEcxLzcnt, ext1.edx, 0};
    CpuidPolicy same = p;
    same.set_feature_limit(limit);
    EXPECT_EQ(same.query(1, 0, 0, 0).ecx, leaf1.ecx);
    EXPECT_EQ(same.query(7, 0, 0, 0).ebx, leaf7.ebx & ~k7EbxSha);
    EXPECT_EQ(same.query(0x80000001, 0, 0, 0).ecx, ext1.ecx & ~kExtEcxLzcnt);
    EXPECT_EQ(same.query(0x80000001, 0, 0, 0).edx, ext1.edx);
    EXPECT_TRUE(same.query(1, 0, 0, kCr4Osxsave).ecx & kEcxOsxsave);
    EXPECT_TRUE(same.query(1, 0, 0, 0).ecx & kEcxHypervisor);
    EXPECT_EQ(same.xcr0_supported(), kXcr0X87SseAvx);

    limit.leaf1_ecx &= ~kEcxAvx;
    CpuidPolicy no_avx = p;
    no_avx.set_feature_limit(limit);
    EXPECT_FALSE(no_avx.query(1, 0, 0, 0).ecx & kEcxAvx);
    EXPECT_FALSE(no_avx.query(7, 0, 0, 0).ebx & k7EbxAvx2);
    EXPECT_EQ(no_avx.xcr0_supported(), kXcr0X87SseAvx & ~4ull);
    EXPECT_EQ(no_avx.query(0xd, 0, 0, 0).ecx, 576u);

    limit.leaf1_ecx &= ~kEcxXsave;
    CpuidPolicy no_xsave = p;
    no_xsave.set_feature_limit(limit);
    EXPECT_FALSE(no_xsave.query(1, 0, 0, kCr4Osxsave).ecx & (kEcxXsave | kEcxOsxsave));
    EXPECT_EQ(no_xsave.xcr0_supported(), 0u);
    EXPECT_FALSE(no_xsave.cr4_allowed() & kCr4Osxsave);
}

// domain_cpuid's answer: vCPU 0 as at reset, whatever CR4 and XCR0 the guest set since.
TEST(CpuidPolicy, AtResetIsVcpu0WithOsxsaveClearAndX87Only) {
    const FakeHostCpu host = everything_host();
    CpuidPolicy p;
    p.init(host, 4, kXcr0X87SseAvx);
    const CpuidResult leaf1 = p.at_reset(1, 0);
    EXPECT_TRUE(leaf1.ecx & kEcxXsave);
    EXPECT_FALSE(leaf1.ecx & kEcxOsxsave);
    EXPECT_EQ(leaf1.ebx >> 24, 0u);           // vCPU 0's APIC ID
    EXPECT_EQ(p.at_reset(0xd, 0).ebx, 576u);  // legacy region and header: x87 only
    EXPECT_EQ(p.at_reset(0x80000001, 0).edx, p.query(0x80000001, 0, 0, ~0ull, 7).edx);
}

// The exit fast path's table (kernel/vm/exit_fast_path.hpp) answers exactly as query does,
// and only for the leaves that depend on nothing of the vCPU asking, after every change.
TEST(CpuidPolicy, SharedAnswersAreQuerysAndOnlyForLeavesEveryVcpuSeesAlike) {
    FakeHostCpu host = everything_host();
    CpuidPolicy p;
    p.init(host, 4, 0x7);
    auto check = [&](const char* when) {
        const u32 leaves[] = {0,          1,          2,          3,          4,          5,          6,
                              7,          0xa,        0xb,        0xd,        0xe,        0xf,        0x10,
                              0x40000000, 0x40000001, 0x40000002, 0x40000100, 0x40000101, 0x40000102, 0x80000000,
                              0x80000001, 0x80000004, 0x80000007, 0x80000008, 0x80000009, 0x8000001e};
        for (const u32 leaf : leaves) {
            CpuidResult r{};
            const bool shared = p.shared_answer(leaf, r);
            const bool per_vcpu = leaf == 1 || leaf == 4 || leaf == 7 || leaf == 0xb || leaf == 0xd;
            const bool known = leaf < 0x10 || (leaf >= 0x40000000 && leaf <= 0x40000001) ||
                               (leaf >= 0x40000100 && leaf <= 0x40000101) || (leaf >= 0x80000000 && leaf <= 0x80000008);
            EXPECT_EQ(shared, known && !per_vcpu) << when << std::hex << " leaf " << leaf;
            if (!shared) continue;
            for (u32 vcpu = 0; vcpu < 4; ++vcpu) {
                const CpuidResult q = p.query(leaf, 0, vcpu, 1ull << 18, 0x7);
                EXPECT_TRUE(q.eax == r.eax && q.ebx == r.ebx && q.ecx == r.ecx && q.edx == r.edx)
                    << when << std::hex << " leaf " << leaf << " vcpu " << vcpu;
            }
        }
    };
    check("after init");
    p.set_local_apic(true);
    CpuidResult kvm{};
    ASSERT_TRUE(p.shared_answer(0x40000101, kvm));
    EXPECT_NE(kvm.eax, 0u);  // KVM's features, for the virtual PC
    check("with a local APIC");
    p.set_migratable(true);
    check("migratable");
    hypercall::CpuidFeatureLimit limit{};
    p.set_feature_limit(limit);
    check("limited");
}

}  // namespace
