#include "kernel/passthrough/host_physical_policy.hpp"

#include <gtest/gtest.h>

namespace {

// QEMU's pc machine with 2 GiB: RAM [0, 0x9fc00) and [1 MiB, 0x7ffe0000); the HPET and
// the IOAPIC are the hypervisor's.
HostPhysicalPolicy qemu_pc() {
    HostPhysicalPolicy p;
    EXPECT_TRUE(p.add_ram(0, 0x9fc00));
    EXPECT_TRUE(p.add_ram(0x100000, 0x7ffe0000));
    EXPECT_TRUE(p.deny(0xfed00000, 0xfed00400, "the HPET"));
    EXPECT_TRUE(p.deny(0xfec00000, 0xfec00100, "an I/O APIC"));
    return p;
}

TEST(HostPhysicalPolicy, DevicesPassRamAndHypervisorDevicesDoNot) {
    const HostPhysicalPolicy p = qemu_pc();
    EXPECT_TRUE(p.allowed(0xfebf0000, 0xfebf1000));  // a BAR
    EXPECT_TRUE(p.allowed(0xa0000, 0xc0000));        // VGA window
    EXPECT_TRUE(p.allowed(0xf0000, 0x100000));       // BIOS
    EXPECT_TRUE(p.allowed(0x800000000, 0x800200000));
    EXPECT_FALSE(p.allowed(0x200000, 0x201000));  // the hypervisor's image
    EXPECT_FALSE(p.allowed(0x7ffdf000, 0x7ffe0000));
    EXPECT_FALSE(p.allowed(0xfed00000, 0xfed01000));
    EXPECT_FALSE(p.allowed(0xfec00000, 0xfec00004));
    EXPECT_STREQ(p.denied_what(0xfed00010), "the HPET");
    EXPECT_STREQ(p.denied_what(0x300000), "RAM");
    EXPECT_EQ(p.denied_what(0xfebf0000), nullptr);
}

TEST(HostPhysicalPolicy, PartialPagesCountWhole) {
    const HostPhysicalPolicy p = qemu_pc();
    EXPECT_FALSE(p.allowed(0x9f000, 0xa0000));  // RAM up to 0x9fc00, then the EBDA
    EXPECT_FALSE(p.allowed(0x9ffff, 0xa0000));
    EXPECT_TRUE(p.allowed(0xa0000, 0xa0001));
    EXPECT_FALSE(p.allowed(0xfebff000, 0xfec00001));  // the last byte touches the IOAPIC's page
    // A large block is allowed only when nothing inside is denied.
    EXPECT_FALSE(p.allowed(0xfec00000 - 0x100000, 0xfec00000 + 0x100000));
    EXPECT_TRUE(p.allowed(0xfe000000, 0xfe200000));
}

TEST(HostPhysicalPolicy, NonsenseAndOverflowAllowNothing) {
    HostPhysicalPolicy p = qemu_pc();
    EXPECT_FALSE(p.allowed(0x1000, 0x1000));
    EXPECT_FALSE(p.allowed(HostPhysicalPolicy::kPhysicalLimit - 0x1000, HostPhysicalPolicy::kPhysicalLimit + 0x1000));
    for (usize i = 0; i < HostPhysicalPolicy::kMaxRanges; ++i)
        p.add_ram(0x100000000ull + i * 0x2000, 0x100001000ull + i * 0x2000);
    EXPECT_FALSE(p.allowed(0xfebf0000, 0xfebf1000));  // lost a range: nothing passes
}

}  // namespace
