#include "kernel/vm/devices/pc/reset_control.hpp"

#include <gtest/gtest.h>

namespace {

class FakePlatform final : public PlatformControl {
public:
    void request_power_off() override { ++power_offs; }
    void request_reset() override { ++resets; }
    int power_offs = 0;
    int resets = 0;
};

TEST(ResetControl, LinuxRebootPciSequence) {
    // native_machine_emergency_restart, BOOT_CF9: read, write |2, then |6 (warm) or |0xE (cold).
    for (u8 code : {0x06, 0x0e}) {
        FakePlatform platform;
        ResetControl rc(platform);
        const u8 cf9 = u8(rc.port_read(ResetControl::kPort, 1)) & u8(~code);
        rc.port_write(ResetControl::kPort, 1, cf9 | 0x02);
        EXPECT_EQ(platform.resets, 0);
        rc.port_write(ResetControl::kPort, 1, cf9 | code);
        EXPECT_EQ(platform.resets, 1) << int(code);
        EXPECT_EQ(platform.power_offs, 0);
    }
}

TEST(ResetControl, SysRstAloneDoesNotReset) {
    FakePlatform platform;
    ResetControl rc(platform);
    rc.port_write(ResetControl::kPort, 1, ResetControl::kSysRst | ResetControl::kFullRst);
    EXPECT_EQ(platform.resets, 0);
    EXPECT_EQ(rc.port_read(ResetControl::kPort, 1), u32(ResetControl::kSysRst | ResetControl::kFullRst));
}

TEST(ResetControl, EachRstCpuWriteResetsAgain) {
    // RST_CPU clears itself once the reset is requested: a guest that writes 0x06 again
    // (the FADT RESET_REG path, retried by Linux) resets again.
    FakePlatform platform;
    ResetControl rc(platform);
    rc.port_write(ResetControl::kPort, 1, 0x06);
    EXPECT_EQ(rc.port_read(ResetControl::kPort, 1), 0x02u);
    rc.port_write(ResetControl::kPort, 1, 0x06);
    EXPECT_EQ(platform.resets, 2);
    rc.port_write(ResetControl::kPort, 1, 0x04);  // a soft reset is still a reset here
    EXPECT_EQ(platform.resets, 3);
}

TEST(ResetControl, ReservedBitsReadZero) {
    FakePlatform platform;
    ResetControl rc(platform);
    rc.port_write(ResetControl::kPort, 1, 0xf1);
    EXPECT_EQ(rc.port_read(ResetControl::kPort, 1), 0u);
    EXPECT_EQ(rc.port_read(ResetControl::kPort, 2), 0xff00u);
    EXPECT_EQ(rc.port_read(0xcf8, 1), 0xffu);
    rc.port_write(0xcf8, 1, 0x06);
    EXPECT_EQ(platform.resets, 0);
    rc.port_write(ResetControl::kPort, 1, 0x0a);
    rc.reset();
    EXPECT_EQ(rc.port_read(ResetControl::kPort, 1), 0u);
}

}  // namespace
