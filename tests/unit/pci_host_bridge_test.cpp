#include "kernel/vm/devices/pc/pci_host_bridge.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u16 kAddr = PciHostBridge::kConfigAddressPort;
constexpr u16 kData = PciHostBridge::kConfigDataPort;

class FakePlatform final : public PlatformControl {
public:
    void request_power_off() override { ++power_offs; }
    void request_reset() override { ++resets; }
    int power_offs = 0;
    int resets = 0;
};

struct Fixture {
    FakePlatform platform;
    ResetControl reset_control{platform};
    PciHostBridge bridge{reset_control};

    u32 read(u32 bus, u32 dev, u32 fn, u32 reg, u8 size = 4) {
        bridge.port_write(kAddr, 4, address(bus, dev, fn, reg));
        return bridge.port_read(u16(kData + (reg & 3)), size);
    }
    void write(u32 bus, u32 dev, u32 fn, u32 reg, u8 size, u32 value) {
        bridge.port_write(kAddr, 4, address(bus, dev, fn, reg));
        bridge.port_write(u16(kData + (reg & 3)), size, value);
    }
    static u32 address(u32 bus, u32 dev, u32 fn, u32 reg) {
        return PciHostBridge::kConfigEnable | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
    }
};

TEST(PciHostBridge, ConfigAddressLatchesDwordWrites) {
    // Linux's pci_check_type1: outl(0x80000000, 0xCF8) must read back as written.
    Fixture f;
    f.bridge.port_write(kAddr, 4, 0x80000000);
    EXPECT_EQ(f.bridge.port_read(kAddr, 4), 0x80000000u);
    f.bridge.port_write(kAddr, 4, 0x8012345c);
    EXPECT_EQ(f.bridge.port_read(kAddr, 4), 0x8012345cu);
    // Reserved bits 30:24 and bits 1:0 read as 0.
    f.bridge.port_write(kAddr, 4, 0xffffffff);
    EXPECT_EQ(f.bridge.port_read(kAddr, 4), 0x80fffffcu);
    EXPECT_EQ(f.bridge.config_address(), 0x80fffffcu);
}

TEST(PciHostBridge, NarrowAccessesToConfigAddressPassThrough) {
    // pci_check_type1 starts with outb(0x01, 0xCFB); pci_check_type2 writes bytes to 0xCF8
    // and 0xCFA and expects to read back 0 there on a type 2 host, which this is not.
    Fixture f;
    f.bridge.port_write(kAddr, 4, 0x80000000);
    f.bridge.port_write(kAddr + 3, 1, 0x01);
    f.bridge.port_write(kAddr, 1, 0x00);
    f.bridge.port_write(kAddr, 2, 0x1234);
    EXPECT_EQ(f.bridge.port_read(kAddr, 4), 0x80000000u);
    EXPECT_EQ(f.bridge.port_read(kAddr, 1), 0xffu);
    EXPECT_EQ(f.bridge.port_read(kAddr + 2, 1), 0xffu);
    EXPECT_EQ(f.bridge.port_read(kAddr + 2, 2), 0xffffu);
    EXPECT_EQ(f.platform.resets, 0);
}

TEST(PciHostBridge, HostBridgeHeader) {
    Fixture f;
    EXPECT_EQ(f.read(0, 0, 0, 0x00), 0x12378086u);  // device:vendor
    EXPECT_EQ(f.read(0, 0, 0, 0x04), 0x02800006u);  // status:command
    EXPECT_EQ(f.read(0, 0, 0, 0x08), 0x06000002u);  // class 06/00/00, revision 02
    EXPECT_EQ(f.read(0, 0, 0, 0x0c), 0x00000000u);  // header type 0, single function
    for (u32 reg = 0x10; reg < 0x28; reg += 4) EXPECT_EQ(f.read(0, 0, 0, reg), 0u) << reg;  // no BARs
    EXPECT_EQ(f.read(0, 0, 0, 0x34), 0u);                                                   // no capabilities
}

TEST(PciHostBridge, SanityCheckLinuxUses) {
    // pci_sanity_check: a 16-bit read of PCI_CLASS_DEVICE (0x0A) finds the host bridge.
    Fixture f;
    EXPECT_EQ(f.read(0, 0, 0, 0x0a, 2), 0x0600u);
    EXPECT_EQ(f.read(0, 0, 0, 0x00, 2), 0x8086u);
    EXPECT_EQ(f.read(0, 0, 0, 0x02, 2), 0x1237u);
}

TEST(PciHostBridge, PartialAccessesPickTheRightBytes) {
    Fixture f;
    EXPECT_EQ(f.read(0, 0, 0, 0x00, 1), 0x86u);
    EXPECT_EQ(f.read(0, 0, 0, 0x01, 1), 0x80u);
    EXPECT_EQ(f.read(0, 0, 0, 0x02, 1), 0x37u);
    EXPECT_EQ(f.read(0, 0, 0, 0x03, 1), 0x12u);
    EXPECT_EQ(f.read(0, 0, 0, 0x0b, 1), 0x06u);
    EXPECT_EQ(f.read(0, 0, 0, 0x06, 2), 0x0280u);
    // A word at 0xCFF runs past the data port: the byte beyond reads as ones.
    f.bridge.port_write(kAddr, 4, Fixture::address(0, 0, 0, 0));
    EXPECT_EQ(f.bridge.port_read(kData + 3, 2), 0xff12u);
}

TEST(PciHostBridge, AbsentDevicesReadAllOnes) {
    Fixture f;
    EXPECT_EQ(f.read(0, 1, 0, 0x00), 0xffffffffu);
    EXPECT_EQ(f.read(0, 31, 7, 0x00), 0xffffffffu);
    EXPECT_EQ(f.read(0, 0, 1, 0x00), 0xffffffffu);  // device 0 has one function
    EXPECT_EQ(f.read(1, 0, 0, 0x00), 0xffffffffu);  // no bus 1
    EXPECT_EQ(f.read(255, 0, 0, 0x00, 2), 0xffffu);
    EXPECT_EQ(f.read(0, 3, 0, 0x0e, 1), 0xffu);
}

TEST(PciHostBridge, DisabledAddressReadsAllOnes) {
    Fixture f;
    f.bridge.port_write(kAddr, 4, 0x00000000);  // enable bit clear: no configuration cycle
    EXPECT_EQ(f.bridge.port_read(kData, 4), 0xffffffffu);
    f.bridge.port_write(kData, 4, 0);
    EXPECT_EQ(f.read(0, 0, 0, 0x04), 0x02800006u);
}

TEST(PciHostBridge, ReadOnlyFieldsHold) {
    Fixture f;
    for (u32 reg = 0; reg < 0x100; reg += 4) f.write(0, 0, 0, reg, 4, 0);
    EXPECT_EQ(f.read(0, 0, 0, 0x00), 0x12378086u);
    EXPECT_EQ(f.read(0, 0, 0, 0x04), 0x02800006u);
    EXPECT_EQ(f.read(0, 0, 0, 0x08), 0x06000002u);
    f.write(0, 0, 0, 0x10, 4, 0xffffffff);  // BAR sizing finds nothing
    EXPECT_EQ(f.read(0, 0, 0, 0x10), 0u);
    f.write(0, 0, 0, 0x0c, 4, 0xffffffff);
    EXPECT_EQ(f.read(0, 0, 0, 0x0c), 0x0000f800u);  // only the latency timer's top bits
}

TEST(PciHostBridge, CommandRegisterWritableBits) {
    Fixture f;
    f.write(0, 0, 0, 0x04, 2, 0xffff);
    EXPECT_EQ(f.read(0, 0, 0, 0x04, 2), 0x0146u);  // SERR# and parity enables; MAE/BME stay on
    f.write(0, 0, 0, 0x05, 1, 0x00);
    EXPECT_EQ(f.read(0, 0, 0, 0x04, 2), 0x0046u);
    f.write(0, 0, 0, 0x06, 2, 0xffff);  // status: nothing to clear
    EXPECT_EQ(f.read(0, 0, 0, 0x06, 2), 0x0280u);
}

TEST(PciHostBridge, WritesToAbsentDevicesAreDropped) {
    Fixture f;
    f.write(0, 1, 0, 0x04, 4, 0xffffffff);
    f.write(1, 0, 0, 0x04, 4, 0xffffffff);
    EXPECT_EQ(f.read(0, 0, 0, 0x04), 0x02800006u);
}

TEST(PciHostBridge, ByteAtCf9IsTheResetControlRegister) {
    Fixture f;
    f.bridge.port_write(ResetControl::kPort, 1, 0x02);
    EXPECT_EQ(f.bridge.port_read(ResetControl::kPort, 1), 0x02u);
    EXPECT_EQ(f.platform.resets, 0);
    f.bridge.port_write(ResetControl::kPort, 1, 0x06);
    EXPECT_EQ(f.platform.resets, 1);
    // A dword write at 0xCF8 is CONFIG_ADDRESS, whatever its second byte holds.
    f.bridge.port_write(kAddr, 4, 0x80000600);
    EXPECT_EQ(f.platform.resets, 1);
    EXPECT_EQ(f.bridge.port_read(kAddr, 4), 0x80000600u);
}

TEST(PciHostBridge, ResetRestoresPowerOnState) {
    Fixture f;
    f.write(0, 0, 0, 0x04, 2, 0x0140);
    f.bridge.reset();
    EXPECT_EQ(f.bridge.config_address(), 0u);
    EXPECT_EQ(f.read(0, 0, 0, 0x04), 0x02800006u);
}

TEST(PciHostBridge, PortsOutsideTheBridge) {
    Fixture f;
    EXPECT_EQ(f.bridge.port_read(0xcf7, 4), 0xffffffffu);
    EXPECT_EQ(f.bridge.port_read(0xd00, 1), 0xffu);
    f.bridge.port_write(0xd00, 4, 0);
    f.bridge.port_write(0xcf7, 4, 0x80000000);
    EXPECT_EQ(f.bridge.config_address(), 0u);
}

}  // namespace
