#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/apic/apic_message.hpp"
#include "kernel/vm/devices/passthrough/pci_bar.hpp"
#include "kernel/vm/devices/passthrough/pci_bus_scan.hpp"
#include "kernel/vm/devices/passthrough/pci_capabilities.hpp"
#include "kernel/vm/devices/passthrough/pci_config_ports.hpp"
#include "kernel/vm/devices/passthrough/pci_ecam_window.hpp"
#include "tests/unit/fake_pci_bus.hpp"

namespace {

// A configuration space that records each access and answers reads with a pattern of
// its address, so that a test sees which function, offset and size a front produced.
class RecordingSpace final : public PciConfigSpace {
public:
    struct Access {
        bool write;
        PciBdf bdf;
        u16 offset;
        u8 size;
        u32 value;
    };

    u32 config_read(PciBdf bdf, u16 offset, u8 size) override {
        accesses.push_back(Access{false, bdf, offset, size, 0});
        // Byte n of the dword at `offset & ~3` reads as (offset & ~3) + n.
        u32 value = 0;
        for (u32 i = 0; i < size; ++i) value |= ((offset + i) & 0xffu) << (8 * i);
        return value;
    }
    void config_write(PciBdf bdf, u16 offset, u8 size, u32 value) override {
        accesses.push_back(Access{true, bdf, offset, size, value});
    }

    std::vector<Access> accesses;
};

constexpr u16 kAddr = PciConfigPorts::kAddressPort;
constexpr u16 kData = PciConfigPorts::kDataPort;

u32 config_address(u32 bus, u32 device, u32 function, u32 reg) {
    return PciConfigPorts::kEnable | bus << 16 | device << 11 | function << 8 | (reg & 0xfc);
}

// --- 0xCF8/0xCFC ------------------------------------------------------------------------------

TEST(PciConfigPorts, AddressLatchTakesOnlyDwords) {
    RecordingSpace space;
    PciConfigPorts ports(space);
    ports.port_write(kAddr, 4, 0x80000000);
    EXPECT_EQ(ports.port_read(kAddr, 4), 0x80000000u);
    // Reserved bits 30:28 and 1:0 read 0; 27:24 (AMD's extended register) stay.
    ports.port_write(kAddr, 4, 0xffffffff);
    EXPECT_EQ(ports.port_read(kAddr, 4), 0x8ffffffcu);
    // Narrow accesses to 0xCF8-0xCFB are no latch access (Linux's pci_check_type1 writes
    // a byte to 0xCFB first).
    ports.port_write(kAddr, 4, 0x80000000);
    ports.port_write(kAddr + 3, 1, 0x01);
    ports.port_write(kAddr, 1, 0x00);
    ports.port_write(kAddr, 2, 0x1234);
    ports.port_write(kAddr + 2, 2, 0x1234);
    EXPECT_EQ(ports.port_read(kAddr, 4), 0x80000000u);
    EXPECT_EQ(ports.port_read(kAddr, 1), 0xffu);
    EXPECT_EQ(ports.port_read(kAddr + 2, 2), 0xffffu);
    EXPECT_TRUE(space.accesses.empty());
}

TEST(PciConfigPorts, DataPortBytesAddressTheDword) {
    RecordingSpace space;
    PciConfigPorts ports(space);
    ports.port_write(kAddr, 4, config_address(3, 4, 5, 0x43));
    EXPECT_EQ(ports.port_read(kData, 4), 0x43424140u);
    ASSERT_EQ(space.accesses.size(), 1u);
    EXPECT_EQ(space.accesses[0].bdf, (PciBdf{3, 4, 5}));
    EXPECT_EQ(space.accesses[0].offset, 0x40);
    EXPECT_EQ(space.accesses[0].size, 4);
    EXPECT_EQ(ports.port_read(kData + 1, 1), 0x41u);
    EXPECT_EQ(space.accesses.back().offset, 0x41);
    EXPECT_EQ(ports.port_read(kData + 2, 2), 0x4342u);
    EXPECT_EQ(space.accesses.back().offset, 0x42);
    EXPECT_EQ(space.accesses.back().size, 2);
    // A word at 0xCFD is bytes 1-2 of the dword.
    EXPECT_EQ(ports.port_read(kData + 1, 2), 0x4241u);
    // A dword at 0xCFE covers 0xCFE-0xD01: the two bytes past 0xCFF read ones.
    EXPECT_EQ(ports.port_read(kData + 2, 4), 0xffff4342u);
    ports.port_write(kData + 3, 1, 0xab);
    EXPECT_TRUE(space.accesses.back().write);
    EXPECT_EQ(space.accesses.back().offset, 0x43);
    EXPECT_EQ(space.accesses.back().value, 0xabu);
    ports.port_write(kData + 2, 2, 0x12345678);
    EXPECT_EQ(space.accesses.back().offset, 0x42);
    EXPECT_EQ(space.accesses.back().value, 0x5678u);
}

TEST(PciConfigPorts, WithoutTheEnableBitNothingIsAddressed) {
    RecordingSpace space;
    PciConfigPorts ports(space);
    ports.port_write(kAddr, 4, config_address(0, 1, 0, 0) & ~PciConfigPorts::kEnable);
    EXPECT_EQ(ports.port_read(kData, 4), 0xffffffffu);
    EXPECT_EQ(ports.port_read(kData + 2, 2), 0xffffu);
    ports.port_write(kData, 4, 0);
    EXPECT_TRUE(space.accesses.empty());
}

TEST(PciConfigPorts, ResetControlPortIsNotPartOfIt) {
    RecordingSpace space;
    PciConfigPorts ports(space);
    ports.port_write(kAddr, 4, config_address(0, 0, 0, 0));
    ports.port_write(PciConfigPorts::kResetControlPort, 1, 0x06);
    EXPECT_EQ(ports.port_read(PciConfigPorts::kResetControlPort, 1), 0xffu);
    EXPECT_TRUE(space.accesses.empty());
    EXPECT_EQ(ports.config_address(), config_address(0, 0, 0, 0));
}

TEST(PciConfigPorts, ExtendedRegisterBits) {
    RecordingSpace space;
    PciConfigPorts ports(space);
    ports.port_write(kAddr, 4, config_address(0, 2, 0, 0x04) | 0x01000000);  // register 0x104
    ports.port_read(kData, 4);
    EXPECT_EQ(space.accesses.back().offset, 0x104);
}

// --- ECAM -----------------------------------------------------------------------------------

TEST(PciEcamWindow, OffsetsDecodeFromTheStartBus) {
    RecordingSpace space;
    PciEcamWindow ecam(space, 0x10, 0x1f);
    EXPECT_EQ(ecam.size(), 16u << 20);
    const u64 offset = (2ull << 20) | (3 << 15) | (4 << 12) | 0x104;
    EXPECT_EQ(ecam.read(offset, 4), 0x07060504u);
    EXPECT_EQ(space.accesses.back().bdf, (PciBdf{0x12, 3, 4}));
    EXPECT_EQ(space.accesses.back().offset, 0x104);
    EXPECT_EQ(ecam.read(offset + 2, 1), 0x06u);
    ecam.write(offset + 2, 2, 0xbeef);
    EXPECT_TRUE(space.accesses.back().write);
    EXPECT_EQ(space.accesses.back().offset, 0x106);
    EXPECT_EQ(space.accesses.back().size, 2);
    EXPECT_EQ(space.accesses.back().value, 0xbeefu);
}

TEST(PciEcamWindow, QwordsSplitAndOtherAccessesFail) {
    RecordingSpace space;
    PciEcamWindow ecam(space, 0, 0);
    EXPECT_EQ(ecam.read(0x10, 8), 0x1716151413121110ull);
    ecam.write(0x18, 8, 0x1122334455667788ull);
    ASSERT_GE(space.accesses.size(), 2u);
    EXPECT_EQ(space.accesses[space.accesses.size() - 2].offset, 0x18);
    EXPECT_EQ(space.accesses[space.accesses.size() - 2].value, 0x55667788u);
    EXPECT_EQ(space.accesses.back().offset, 0x1c);
    EXPECT_EQ(space.accesses.back().value, 0x11223344u);
    space.accesses.clear();
    EXPECT_EQ(ecam.read(0x13, 2), 0xffffu);          // crosses a dword
    EXPECT_EQ(ecam.read(1u << 20, 4), 0xffffffffu);  // past the window
    ecam.write(1u << 20, 4, 0);
    EXPECT_TRUE(space.accesses.empty());
}

// --- Capabilities, scan, BARs -----------------------------------------------------------------

TEST(PciCapabilities, FindsAndStopsOnBadLists) {
    fake_pci::Bus bus;
    fake_pci::Function& f = bus.add(PciBdf{0, 1, 0});
    f.ids(0x1234, 1, 0);
    f.capability(0x80, pci_config::kCapabilityMsi);
    f.capability(0x60, 0x10);
    f.capability(0x48, pci_config::kCapabilityMsix);
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, pci_config::kCapabilityMsi), 0x80);
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, pci_config::kCapabilityMsix), 0x48);
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, 0x01), 0);
    // A loop (0x48 -> 0x60 -> 0x80 -> 0x48) ends the walk after a bounded number of reads.
    f.set(0x80, 1, 0x99);
    f.set(0x81, 1, 0x48);
    const usize before = bus.reads;
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, pci_config::kCapabilityMsi), 0);
    EXPECT_LE(bus.reads - before, kMaxCapabilities + 2);
    // A pointer into the header ends it too; so does a cleared status bit.
    f.set(0x34, 1, 0x10);
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, pci_config::kCapabilityMsix), 0);
    f.set(0x34, 1, 0x48);
    f.set(0x06, 2, 0);
    EXPECT_EQ(pci_find_capability(bus, PciBdf{0, 1, 0}, pci_config::kCapabilityMsix), 0);
}

TEST(PciBusScan, FollowsBridgesOnceEach) {
    fake_pci::Bus bus;
    bus.add(PciBdf{0, 0, 0}).ids(0x8086, 1, 0);
    // Two bridges to bus 1 and one back to bus 0 from bus 1; one unconfigured.
    fake_pci::Function& b1 = bus.add(PciBdf{0, 1, 0});
    b1.ids(0x8086, 2, 1);
    b1.set(0x18, 4, 0x00020100);
    fake_pci::Function& b2 = bus.add(PciBdf{0, 2, 0});
    b2.ids(0x8086, 2, 1);
    b2.set(0x18, 4, 0x00010100);
    fake_pci::Function& back = bus.add(PciBdf{1, 0, 0});
    back.ids(0x8086, 2, 1);
    back.set(0x18, 4, 0x00000001);
    fake_pci::Function& unconfigured = bus.add(PciBdf{0, 3, 0});
    unconfigured.ids(0x8086, 2, 1);
    // Behind bus 1: a bridge to bus 2 with a multi-function device.
    fake_pci::Function& b3 = bus.add(PciBdf{1, 5, 0});
    b3.ids(0x8086, 2, 1);
    b3.set(0x18, 4, 0x00020201);
    bus.add(PciBdf{2, 0, 0}).ids(0x10ec, 3, 0x80);
    bus.add(PciBdf{2, 0, 3}).ids(0x10ec, 3, 0);
    // Function 1 of a single-function device is not looked at.
    bus.add(PciBdf{2, 1, 0}).ids(0x10ec, 3, 0);
    bus.add(PciBdf{2, 1, 1}).ids(0x10ec, 3, 0);

    PciFunctionFound found[16];
    const PciScanResult r = pci_scan_buses(bus, nullptr, 0, found, 16);
    EXPECT_EQ(r.count, 9u);
    EXPECT_EQ(r.dropped, 0u);
    EXPECT_EQ(found[0].bdf, (PciBdf{0, 0, 0}));
    EXPECT_EQ(found[1].header_type, 1);
    EXPECT_EQ(found[4].bdf, (PciBdf{1, 0, 0}));
    EXPECT_EQ(found[6].bdf, (PciBdf{2, 0, 0}));
    EXPECT_EQ(found[7].bdf, (PciBdf{2, 0, 3}));
    EXPECT_EQ(found[8].bdf, (PciBdf{2, 1, 0}));

    const PciScanResult small = pci_scan_buses(bus, nullptr, 0, found, 4);
    EXPECT_EQ(small.count, 4u);
    EXPECT_EQ(small.dropped, 5u);
    EXPECT_EQ(small.first_dropped, (PciBdf{1, 0, 0}));

    // Other root buses.
    const u8 roots[] = {2};
    EXPECT_EQ(pci_scan_buses(bus, roots, 1, found, 16).count, 3u);
}

TEST(PciBar, ProbeFindsKindsAndSizesAndRestores) {
    fake_pci::Bus bus;
    const PciBdf bdf{0, 1, 0};
    fake_pci::Function& f = bus.add(bdf);
    f.ids(0x1234, 1, 0);
    f.set(0x04, 2, 0x0007, 0x0547);
    f.memory_bar(0, 0xfe000000, 0x1000);
    f.memory_bar(1, 0x1000000000ull, 0x10000000, true);
    f.io_bar(3, 0xc040, 0x40);
    f.set(0x10 + 4 * 4, 4, 0x8 | 0xe0000000, 0xf0000000);  // prefetchable, 256 MiB
    PciBar bars[6];
    pci_probe_bars(bus, bdf, 6, bars);
    EXPECT_EQ(bars[0].kind, PciBarKind::Memory32);
    EXPECT_EQ(bars[0].size, 0x1000u);
    EXPECT_EQ(bars[1].kind, PciBarKind::Memory64);
    EXPECT_EQ(bars[1].base, 0x1000000000ull);
    EXPECT_EQ(bars[1].size, 0x10000000u);
    EXPECT_EQ(bars[2].kind, PciBarKind::Upper64);
    EXPECT_EQ(bars[3].kind, PciBarKind::Io);
    EXPECT_EQ(bars[3].base, 0xc040u);
    EXPECT_EQ(bars[3].size, 0x40u);
    EXPECT_EQ(bars[4].kind, PciBarKind::Memory32);
    EXPECT_TRUE(bars[4].prefetchable);
    EXPECT_EQ(bars[4].base, 0xe0000000u);
    EXPECT_EQ(bars[4].size, 0x10000000u);
    EXPECT_EQ(bars[5].kind, PciBarKind::Unused);
    // Decoding was off while sizing, and everything is back.
    EXPECT_EQ(bus.writes.front().offset, pci_config::kCommand);
    EXPECT_EQ(bus.writes.front().value, 0x0004u);
    EXPECT_EQ(f.get(0x04, 2), 0x0007u);
    EXPECT_EQ(f.get(0x10, 4), 0xfe000000u);
    EXPECT_EQ(f.get(0x18, 4), 0x10u);
    EXPECT_EQ(f.get(0x1c, 4), 0xc041u);
}

// --- MSI decoding -----------------------------------------------------------------------------

TEST(MsiDecoding, FieldsOfAddressAndData) {
    EXPECT_TRUE(msi_address_is_interrupt(0xfee00000));
    EXPECT_TRUE(msi_address_is_interrupt(0xfeeff00c));
    EXPECT_FALSE(msi_address_is_interrupt(0xfed00000));
    EXPECT_FALSE(msi_address_is_interrupt(0x1fee00000ull));
    // Destination 0x12, physical, no hint; vector 0x31, lowest priority, edge.
    ApicMessage m = message_from_msi(0xfee12000, 0x0131);
    EXPECT_EQ(m.destination, 0x12u);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Physical);
    EXPECT_EQ(m.vector, 0x31);
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::LowestPriority);
    EXPECT_FALSE(m.level_triggered);
    EXPECT_FALSE(m.x2apic_destination);
    // Logical with the redirection hint; NMI; level, asserted.
    m = message_from_msi(0xfee0f00c, 0xc400);
    EXPECT_EQ(m.destination, 0x0fu);
    EXPECT_EQ(m.destination_mode, ApicDestinationMode::Logical);
    EXPECT_EQ(m.delivery_mode, ApicDeliveryMode::Nmi);
    EXPECT_TRUE(m.level_triggered);
    EXPECT_TRUE(m.level_asserted);
}

}  // namespace
