#include "kernel/passthrough/host_address_width.hpp"

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "kernel/passthrough/host_physical_policy.hpp"
#include "kernel/x86/cpu_access.hpp"

#include "tests/unit/fake_cpu.hpp"

namespace {

// EPYC (Milan): 48 address bits, SME with the C-bit at 47 (8000_001Fh EBX 0x0000b16f:
// C-bit 47, PhysAddrReduction 5).
FakeCpu epyc(bool sme) {
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = {0x10, 0, 0, 0};
    cpu.leaves[{7, 0}] = {0, 0, 0, 0};
    cpu.leaves[{0x80000000, 0}] = {0x80000023, 0, 0, 0};
    cpu.leaves[{0x80000008, 0}] = {0x3030, 0, 0, 0};
    if (sme) cpu.leaves[{0x8000001f, 0}] = {0x0001000f, 0x0000b16f, 0, 0};
    return cpu;
}

// Ice Lake server: 52 address bits, TME-MK with 6 KeyID bits activated.
FakeCpu icelake(bool tme, u64 keyid_bits) {
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = {0x1b, 0, 0, 0};
    cpu.leaves[{7, 0}] = {0, 0, tme ? 1u << 13 : 0u, 0};
    cpu.leaves[{0x80000000, 0}] = {0x80000008, 0, 0, 0};
    cpu.leaves[{0x80000008, 0}] = {0x3934, 0, 0, 0};
    if (tme) cpu.msrs[Msr::TmeActivate] = keyid_bits << 32 | 0x3;  // locked, enabled
    return cpu;
}

TEST(HostAddressWidth, MaxPhyAddrWithoutEncryption) {
    EXPECT_EQ(host_address_width(epyc(false)).bits, 48u);
    EXPECT_EQ(host_address_width(icelake(false, 0)).bits, 52u);
    // No leaf 8000_0008h: 36 bits.
    FakeCpu old;
    old.leaves[{0x80000000, 0}] = {0x80000004, 0, 0, 0};
    EXPECT_EQ(host_address_width(old).bits, 36u);
}

TEST(HostAddressWidth, SmeStopsBelowTheCBit) {
    const HostAddressWidth w = host_address_width(epyc(true));
    EXPECT_EQ(w.maxphyaddr, 48u);
    EXPECT_EQ(w.c_bit, 47u);
    EXPECT_EQ(w.bits, 47u);
    // SME leaf present but SME not supported: the C-bit field means nothing.
    FakeCpu cpu = epyc(false);
    cpu.leaves[{0x8000001f, 0}] = {0x0, 0x0000b16f, 0, 0};
    EXPECT_EQ(host_address_width(cpu).bits, 48u);
}

TEST(HostAddressWidth, TmeKeyIdBitsComeOffTheTop) {
    const HostAddressWidth w = host_address_width(icelake(true, 6));
    EXPECT_EQ(w.keyid_bits, 6u);
    EXPECT_EQ(w.bits, 46u);
    EXPECT_EQ(host_address_width(icelake(true, 0)).bits, 52u);
    // Without TME in CPUID the MSR is never read (FakeCpu would complain).
    FakeCpu no_tme = icelake(false, 0);
    EXPECT_EQ(host_address_width(no_tme).keyid_bits, 0u);
}

TEST(HostPhysicalPolicyLimit, NothingPassesAtOrAboveTheLimit) {
    HostPhysicalPolicy p;
    ASSERT_TRUE(p.add_ram(0x100000, 0x80000000));
    // Default: 2^52.
    EXPECT_EQ(p.physical_limit(), HostPhysicalPolicy::kPhysicalLimit);
    const PhysAddr c_bit = 1ull << 47;
    EXPECT_TRUE(p.allowed(c_bit | 0x200000, (c_bit | 0x200000) + 0x1000));
    p.set_physical_limit(1ull << host_address_width(epyc(true)).bits);
    // RAM at 2 MiB seen through the C-bit: another view of host RAM, refused.
    EXPECT_FALSE(p.allowed(c_bit | 0x200000, (c_bit | 0x200000) + 0x1000));
    EXPECT_FALSE(p.allowed(c_bit - 0x1000, c_bit + 0x1000));
    EXPECT_TRUE(p.allowed(c_bit - 0x1000, c_bit));
    EXPECT_TRUE(p.allowed(0xfe000000, 0xfe001000));
    // A limit past 2^52 stays 2^52.
    p.set_physical_limit(1ull << 60);
    EXPECT_EQ(p.physical_limit(), HostPhysicalPolicy::kPhysicalLimit);
}

}  // namespace
