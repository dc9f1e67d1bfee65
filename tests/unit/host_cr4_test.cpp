// The protection bits Vireo adds to its own CR4 (kernel/x86/host_cr4.hpp): PSE always,
// SMEP and SMAP only where CPUID leaf 7 shows them (a CR4 bit the CPU lacks is #GP).
#include "kernel/x86/host_cr4.hpp"

#include <gtest/gtest.h>

namespace {

TEST(HostCr4, PseAloneWithoutLeafSevenFeatures) { EXPECT_EQ(x86::host_cr4_protection_bits(0), x86::kCr4Pse); }

TEST(HostCr4, SmepAndSmapFollowCpuid) {
    EXPECT_EQ(x86::host_cr4_protection_bits(x86::kCpuid7EbxSmep), x86::kCr4Pse | x86::kCr4Smep);
    EXPECT_EQ(x86::host_cr4_protection_bits(x86::kCpuid7EbxSmap), x86::kCr4Pse | x86::kCr4Smap);
    EXPECT_EQ(x86::host_cr4_protection_bits(~0u), x86::kCr4Pse | x86::kCr4Smep | x86::kCr4Smap);
}

TEST(HostCr4, OtherLeafSevenBitsAddNothing) {
    const u32 others = ~(x86::kCpuid7EbxSmep | x86::kCpuid7EbxSmap);
    EXPECT_EQ(x86::host_cr4_protection_bits(others), x86::kCr4Pse);
}

}  // namespace
