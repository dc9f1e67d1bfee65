#include "kernel/vm/devices/passthrough/pci_passthrough.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "tests/unit/fake_pci_bus.hpp"

namespace {

constexpr PciBdf kHost{0, 0, 0};
constexpr PciBdf kMsiDevice{0, 2, 0};
constexpr PciBdf kMsixDevice{0, 3, 0};
constexpr PciBdf kLoopDevice{0, 4, 0};
constexpr PciBdf kBridge{0, 0x1e, 0};
constexpr PciBdf kBehind{1, 0, 0};
constexpr PciBdf kBehindFn1{1, 0, 1};
constexpr PciBdf kAbsent{0, 9, 0};

constexpr u16 kMsiCap = 0x50;    // 64-bit, per-vector masking, 4 vectors capable
constexpr u16 kMsixCap = 0x70;   // 8 entries, table in BAR 1 at 0, PBA in BAR 1 at 0x800
constexpr u16 kMsi32Cap = 0x60;  // behind the bridge: 32-bit, no masking

constexpr u64 kMsixBar = 0xfe001000;
constexpr u64 kTable = kMsixBar;
constexpr u64 kPba = kMsixBar + 0x800;

constexpr u64 kGuestAddress = 0xfee01000;  // dom0's APIC ID 1, physical
constexpr u32 kGuestData = 0x0041;         // vector 0x41, fixed, edge

void build_machine(fake_pci::Bus& bus) {
    bus.add(kHost).ids(0x8086, 0x1237, 0);

    fake_pci::Function& msi = bus.add(kMsiDevice);
    msi.ids(0x8086, 0x10d3, 0);
    msi.set(0x04, 2, 0x0007, 0x0547);  // I/O, memory, bus master
    msi.memory_bar(0, 0xfebf0000, 0x4000);
    msi.memory_bar(2, 0x800000000ull, 0x100000, true);
    msi.io_bar(4, 0xc000, 0x20);
    msi.capability(kMsiCap, pci_config::kCapabilityMsi);
    msi.set(kMsiCap + 2, 2, 0x0184, 0x0071);  // per-vector masking, 64-bit, MMC 4
    msi.set(kMsiCap + 4, 4, 0, 0xfffffffc);
    msi.set(kMsiCap + 8, 4, 0, 0xffffffff);
    msi.set(kMsiCap + 0xc, 4, 0, 0xffff);
    msi.set(kMsiCap + 0x10, 4, 0, 0xf);
    msi.set(kMsiCap + 0x14, 4, 0);

    fake_pci::Function& msix = bus.add(kMsixDevice);
    msix.ids(0x1af4, 0x1041, 0);
    msix.set(0x04, 2, 0x0006, 0x0547);
    msix.memory_bar(0, 0xfe000000, 0x1000);
    msix.memory_bar(1, kMsixBar, 0x1000);
    msix.capability(kMsixCap, pci_config::kCapabilityMsix);
    msix.set(kMsixCap + 2, 2, 0x0007, 0xc000);
    msix.set(kMsixCap + 4, 4, 0x00000001);
    msix.set(kMsixCap + 8, 4, 0x00000801);

    // A capability list that loops: 0x40 -> 0x44 -> 0x40.
    fake_pci::Function& loop = bus.add(kLoopDevice);
    loop.ids(0x1234, 0x0001, 0);
    loop.set(0x06, 2, 0x10);
    loop.set(0x34, 1, 0x40);
    loop.set(0x40, 2, 0x4409);
    loop.set(0x44, 2, 0x4009);

    fake_pci::Function& bridge = bus.add(kBridge);
    bridge.ids(0x8086, 0x244e, 1);
    bridge.set(0x18, 4, 0x00010100, 0xffffffff);  // primary 0, secondary 1, subordinate 1

    fake_pci::Function& behind = bus.add(kBehind);
    behind.ids(0x10ec, 0x8168, 0x80);
    behind.set(0x04, 2, 0x0006, 0x0547);
    behind.capability(kMsi32Cap, pci_config::kCapabilityMsi);
    behind.set(kMsi32Cap + 2, 2, 0x0000, 0x0071);
    behind.set(kMsi32Cap + 4, 4, 0, 0xfffffffc);
    behind.set(kMsi32Cap + 8, 4, 0, 0xffff);
    bus.add(kBehindFn1).ids(0x10ec, 0x8169, 0);
}

struct Rig {
    fake_pci::Bus bus;
    fake_pci::Memory memory;
    fake_pci::Router router;
    fake_pci::Listener listener;
    fake_pci::ApicSink apic;
    PassthroughServices services{bus, memory, router, apic, listener};
    std::unique_ptr<PciPassthrough> pt;
    PassthroughScanSummary summary;

    Rig() {
        build_machine(bus);
        memory.set_dword(kPba, 0);
        pt = std::make_unique<PciPassthrough>(services);
        summary = pt->scan();
        bus.writes.clear();
    }

    u32 read(PciBdf bdf, u16 offset, u8 size = 4) { return pt->config_read(bdf, offset, size); }
    void write(PciBdf bdf, u16 offset, u8 size, u32 value) { pt->config_write(bdf, offset, size, value); }
    u32 hw(PciBdf bdf, u16 offset, u8 size = 4) { return bus.at(bdf).get(offset, size); }

    void program_msi(u64 address, u32 data) {
        write(kMsiDevice, kMsiCap + 4, 4, u32(address));
        write(kMsiDevice, kMsiCap + 8, 4, u32(address >> 32));
        write(kMsiDevice, kMsiCap + 0xc, 2, data);
    }
    void msix_entry(u32 entry, u64 address, u32 data, bool masked) {
        const u64 at = kTable + 16 * entry;
        pt->msix_page_write(at, 4, u32(address));
        pt->msix_page_write(at + 4, 4, u32(address >> 32));
        pt->msix_page_write(at + 8, 4, data);
        pt->msix_page_write(at + 12, 4, masked ? 1 : 0);
    }
    void msix_control(bool enable, bool function_mask) {
        write(kMsixDevice, kMsixCap + 2, 2, (enable ? 0x8000u : 0u) | (function_mask ? 0x4000u : 0u));
    }
};

// --- Scan and pass-through ----------------------------------------------------------------

TEST(PciPassthrough, ScanFindsEveryFunctionOnce) {
    Rig rig;
    EXPECT_EQ(rig.summary.functions, 7u);
    EXPECT_EQ(rig.summary.hidden, 0u);
    for (PciBdf bdf : {kHost, kMsiDevice, kMsixDevice, kLoopDevice, kBridge, kBehind, kBehindFn1}) {
        EXPECT_NE(rig.pt->find(bdf), nullptr) << int(bdf.bus) << ":" << int(bdf.device) << "." << int(bdf.function);
    }
    EXPECT_TRUE(rig.listener.issues.empty());
}

TEST(PciPassthrough, ReadsAndOrdinaryWritesPassThrough) {
    Rig rig;
    EXPECT_EQ(rig.read(kMsiDevice, 0x00), 0x10d38086u);
    EXPECT_EQ(rig.read(kMsiDevice, 0x02, 2), 0x10d3u);
    EXPECT_EQ(rig.read(kBehind, 0x0e, 1), 0x80u);
    // The interrupt line register (0x3c) is ordinary.
    rig.bus.at(kMsiDevice).set(0x3c, 1, 0, 0xff);
    rig.write(kMsiDevice, 0x3c, 1, 0x0b);
    EXPECT_EQ(rig.hw(kMsiDevice, 0x3c, 1), 0x0bu);
    EXPECT_EQ(rig.read(kMsiDevice, 0x3c, 1), 0x0bu);
}

TEST(PciPassthrough, AbsentFunctionsReadOnesAndIgnoreWrites) {
    Rig rig;
    EXPECT_EQ(rig.read(kAbsent, 0x00), 0xffffffffu);
    EXPECT_EQ(rig.read(kAbsent, 0x02, 2), 0xffffu);
    EXPECT_EQ(rig.read(PciBdf{7, 0, 0}, 0x00, 1), 0xffu);
    rig.write(kAbsent, 0x04, 2, 0x0006);
    EXPECT_TRUE(rig.bus.writes.empty());
    // Accesses across a dword are no configuration access.
    EXPECT_EQ(rig.read(kMsiDevice, 0x03, 2), 0xffffu);
}

TEST(PciPassthrough, MalformedCapabilityListEndsTheWalk) {
    Rig rig;
    const PassthroughFunction* f = rig.pt->find(kLoopDevice);
    ASSERT_NE(f, nullptr);
    EXPECT_FALSE(f->msi.present());
    EXPECT_EQ(f->msix, nullptr);
}

TEST(PciPassthrough, ListsTheBarsAndTheirDecodedRanges) {
    Rig rig;
    const PassthroughFunction* f = rig.pt->find(kMsiDevice);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->bars[0].kind, PciBarKind::Memory32);
    EXPECT_EQ(f->bars[0].base, 0xfebf0000u);
    EXPECT_EQ(f->bars[0].size, 0x4000u);
    EXPECT_EQ(f->bars[2].kind, PciBarKind::Memory64);
    EXPECT_EQ(f->bars[2].base, 0x800000000ull);
    EXPECT_EQ(f->bars[2].size, 0x100000u);
    EXPECT_EQ(f->bars[3].kind, PciBarKind::Upper64);
    EXPECT_EQ(f->bars[4].kind, PciBarKind::Io);
    EXPECT_EQ(f->bars[4].size, 0x20u);
    EXPECT_EQ(f->bars[1].kind, PciBarKind::Unused);
    EXPECT_EQ(f->bars[5].kind, PciBarKind::Unused);
    EXPECT_EQ(f->decoded[0], (DeviceRange{0xfebf0000, 0x4000}));
    EXPECT_EQ(f->decoded[2], (DeviceRange{0x800000000ull, 0x100000}));
    // The scan put everything back.
    EXPECT_EQ(rig.hw(kMsiDevice, 0x10), 0xfebf0000u);
    EXPECT_EQ(rig.hw(kMsiDevice, 0x18), 0x00000004u);
    EXPECT_EQ(rig.hw(kMsiDevice, 0x1c), 0x8u);
    EXPECT_EQ(rig.hw(kMsiDevice, 0x04, 2), 0x0007u);
    // The listener heard of each decoded memory BAR and of the MSI-X table's page.
    int bar_reports = 0;
    for (const auto& m : rig.listener.moves) {
        if (m.bdf == kMsiDevice) {
            EXPECT_TRUE(m.old_range.empty());
            ++bar_reports;
        }
    }
    EXPECT_EQ(bar_reports, 2);
    const auto tables = rig.listener.table_moves();
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].bdf, kMsixDevice);
    EXPECT_EQ(tables[0].new_range, (DeviceRange{kMsixBar, 0x1000}));
}

TEST(PciPassthrough, BridgeBusNumbersStay) {
    Rig rig;
    rig.write(kBridge, pci_config::kSecondaryBus, 1, 5);
    EXPECT_EQ(rig.hw(kBridge, 0x18), 0x00010100u);
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::BusNumberChangeRefused));
    // The same values, and the secondary latency timer, go through.
    rig.listener.issues.clear();
    rig.write(kBridge, 0x18, 4, 0x40010100);
    EXPECT_EQ(rig.hw(kBridge, 0x18), 0x40010100u);
    rig.write(kBridge, 0x1b, 1, 0x20);
    EXPECT_EQ(rig.hw(kBridge, 0x18), 0x20010100u);
    EXPECT_TRUE(rig.listener.issues.empty());
}

// --- BARs -----------------------------------------------------------------------------------

TEST(PciPassthrough, SizingWithDecodeOffIsNoMove) {
    Rig rig;
    rig.listener.moves.clear();
    rig.write(kMsiDevice, 0x04, 2, 0x0005);  // memory decoding off
    ASSERT_EQ(rig.listener.moves.size(), 2u);
    EXPECT_EQ(rig.listener.moves[0].new_range, DeviceRange{});
    rig.listener.moves.clear();
    rig.write(kMsiDevice, 0x10, 4, 0xffffffff);
    EXPECT_EQ(rig.read(kMsiDevice, 0x10), 0xffffc000u);  // the size mask, from the hardware
    rig.write(kMsiDevice, 0x10, 4, 0xfebf0000);
    EXPECT_TRUE(rig.listener.moves.empty());
    rig.write(kMsiDevice, 0x04, 2, 0x0007);
    ASSERT_EQ(rig.listener.moves.size(), 2u);
    EXPECT_EQ(rig.listener.moves[0].new_range, (DeviceRange{0xfebf0000, 0x4000}));
}

TEST(PciPassthrough, SixtyFourBitBarMoves) {
    Rig rig;
    rig.listener.moves.clear();
    rig.write(kMsiDevice, 0x1c, 4, 0x9);  // upper half, decoding on: a move
    ASSERT_EQ(rig.listener.moves.size(), 1u);
    EXPECT_EQ(rig.listener.moves[0].bar, 2u);
    EXPECT_EQ(rig.listener.moves[0].old_range, (DeviceRange{0x800000000ull, 0x100000}));
    EXPECT_EQ(rig.listener.moves[0].new_range, (DeviceRange{0x900000000ull, 0x100000}));
    EXPECT_EQ(rig.pt->find(kMsiDevice)->bars[2].base, 0x900000000ull);
}

TEST(PciPassthrough, MsixTableMovesWithItsBar) {
    Rig rig;
    rig.listener.moves.clear();
    rig.write(kMsixDevice, 0x04, 2, 0x0004);  // decoding off
    auto tables = rig.listener.table_moves();
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].old_range, (DeviceRange{kMsixBar, 0x1000}));
    EXPECT_TRUE(tables[0].new_range.empty());
    rig.write(kMsixDevice, 0x14, 4, 0xffffffff);  // sizing: no move
    rig.write(kMsixDevice, 0x14, 4, 0xfd000000);
    EXPECT_EQ(rig.listener.table_moves().size(), 1u);
    rig.write(kMsixDevice, 0x04, 2, 0x0006);
    tables = rig.listener.table_moves();
    ASSERT_EQ(tables.size(), 2u);
    EXPECT_EQ(tables[1].new_range, (DeviceRange{0xfd000000, 0x1000}));
    // The old page is no longer the table; the new one is.
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 12, 4), 0xffffffffu);
    EXPECT_EQ(rig.pt->msix_page_read(0xfd000000 + 12, 4), 1u);  // entry 0 masked
}

// --- MSI ------------------------------------------------------------------------------------

TEST(PciPassthroughMsi, ScanSwitchesMsiOffAndShowsOneVector) {
    fake_pci::Bus bus;
    build_machine(bus);
    bus.at(kMsiDevice).set(kMsiCap + 2, 2, 0x01a5, 0x0071);  // firmware left it on with MME 2
    fake_pci::Memory memory;
    fake_pci::Router router;
    fake_pci::Listener listener;
    fake_pci::ApicSink apic;
    PassthroughServices services{bus, memory, router, apic, listener};
    auto pt = std::make_unique<PciPassthrough>(services);
    pt->scan();
    EXPECT_EQ(bus.at(kMsiDevice).get(kMsiCap + 2, 2), 0x0184u);
    // dom0 sees the ID, next pointer, 64-bit and masking bits; MMC and MME read 0.
    EXPECT_EQ(pt->config_read(kMsiDevice, kMsiCap, 4), 0x01800000u | bus.at(kMsiDevice).get(kMsiCap, 2));
}

TEST(PciPassthroughMsi, MessageIsDom0sShadow) {
    Rig rig;
    rig.program_msi(0x1fee01000ull, 0x4041);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 4), 0xfee01000u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 8), 0x1u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0xc), 0x4041u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0xd, 1), 0x40u);
    // The hardware has not seen it.
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 4), 0u);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0xc), 0u);
    // Address bits 1:0 are reserved.
    rig.write(kMsiDevice, kMsiCap + 4, 4, 0xfee01003);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 4), 0xfee01000u);
}

TEST(PciPassthroughMsi, EnableBindsAndProgramsTheHostMessage) {
    Rig rig;
    rig.program_msi(kGuestAddress, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0021);  // enable, and MME 2 (4 vectors)
    const auto* binding = rig.router.find(kMsiDevice, kMsiSourceIndex);
    ASSERT_NE(binding, nullptr);
    EXPECT_EQ(binding->guest, (MsiMessage{kGuestAddress, kGuestData}));
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 4), 0xfee00000u);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 8), 0u);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0xc), binding->vector);
    // Enabled with one vector in the hardware; dom0 reads enable and MME 0.
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 2, 2), 0x0185u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 2, 2), 0x0181u);
    // The message went to the hardware before the enable bit.
    const auto& w = rig.bus.writes;
    ASSERT_FALSE(w.empty());
    EXPECT_EQ(w.back().offset, kMsiCap + 2);
    // dom0 still reads its own message.
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0xc, 2), kGuestData);

    // Its interrupt reaches dom0's APIC bus as dom0 wrote it.
    EXPECT_EQ(rig.pt->deliver(kMsiDevice, kMsiSourceIndex), MsiDelivery::Delivered);
    ASSERT_EQ(rig.apic.messages.size(), 1u);
    EXPECT_EQ(rig.apic.messages[0].vector, 0x41);
    EXPECT_EQ(rig.apic.messages[0].destination, 1u);

    // dom0 moves it (affinity): no new binding, the next interrupt follows.
    rig.program_msi(0xfee02000, 0x0042);
    EXPECT_EQ(rig.router.bind_calls, 1);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0xc), binding->vector);
    rig.pt->deliver(kMsiDevice, kMsiSourceIndex);
    EXPECT_EQ(rig.apic.messages[1].vector, 0x42);
    EXPECT_EQ(rig.apic.messages[1].destination, 2u);
}

TEST(PciPassthroughMsi, DisableUnbinds) {
    Rig rig;
    rig.program_msi(kGuestAddress, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0000);
    EXPECT_EQ(rig.router.find(kMsiDevice, kMsiSourceIndex), nullptr);
    EXPECT_EQ(rig.router.unbinds, 1);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 2, 2) & 1, 0u);
    EXPECT_EQ(rig.pt->deliver(kMsiDevice, kMsiSourceIndex), MsiDelivery::Dropped);
    EXPECT_TRUE(rig.apic.messages.empty());
}

TEST(PciPassthroughMsi, BindFailureLeavesTheHardwareOff) {
    Rig rig;
    rig.router.fail = true;
    rig.program_msi(kGuestAddress, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::BindFailed));
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 2, 2) & 1, 0u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 2, 2) & 1, 1u);  // dom0's view
    EXPECT_EQ(rig.pt->deliver(kMsiDevice, kMsiSourceIndex), MsiDelivery::Dropped);
    // The next enable tries again.
    rig.router.fail = false;
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 2, 2) & 1, 1u);
}

TEST(PciPassthroughMsi, MaskPassesThroughAndHoldsAnInterrupt) {
    Rig rig;
    rig.program_msi(kGuestAddress, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    rig.write(kMsiDevice, kMsiCap + 0x10, 4, 0xf);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0x10), 1u);    // vector 0 masked in the hardware
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0x10), 1u);  // only vector 0 exists
    // An interrupt that was on its way is held, and shows in the pending bits.
    EXPECT_EQ(rig.pt->deliver(kMsiDevice, kMsiSourceIndex), MsiDelivery::HeldPending);
    EXPECT_TRUE(rig.apic.messages.empty());
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0x14), 1u);
    // The hardware's own pending bit reads through too.
    rig.bus.at(kMsiDevice).set(kMsiCap + 0x14, 4, 1);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0x14), 1u);
    rig.bus.at(kMsiDevice).set(kMsiCap + 0x14, 4, 0);
    rig.write(kMsiDevice, kMsiCap + 0x10, 4, 0);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0x10), 0u);
    ASSERT_EQ(rig.apic.messages.size(), 1u);
    EXPECT_EQ(rig.apic.messages[0].vector, 0x41);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0x14), 0u);
}

TEST(PciPassthroughMsi, ThirtyTwoBitCapabilityBehindTheBridge) {
    Rig rig;
    rig.write(kBehind, kMsi32Cap + 4, 4, 0xfee03000);
    rig.write(kBehind, kMsi32Cap + 8, 2, 0x0051);
    EXPECT_EQ(rig.read(kBehind, kMsi32Cap + 8), 0x0051u);
    EXPECT_EQ(rig.read(kBehind, kMsi32Cap + 2, 2), 0u);  // 32-bit, no masking
    rig.write(kBehind, kMsi32Cap, 4, 0x00010000);        // a dword write of the header
    const auto* binding = rig.router.find(kBehind, kMsiSourceIndex);
    ASSERT_NE(binding, nullptr);
    EXPECT_EQ(rig.hw(kBehind, kMsi32Cap + 4), 0xfee00000u);
    EXPECT_EQ(rig.hw(kBehind, kMsi32Cap + 8, 2), binding->vector);
    EXPECT_EQ(rig.hw(kBehind, kMsi32Cap + 2, 2), 1u);
    EXPECT_EQ(rig.hw(kBehind, kMsi32Cap, 1), pci_config::kCapabilityMsi);  // ID untouched
    EXPECT_EQ(rig.pt->deliver(kBehind, kMsiSourceIndex), MsiDelivery::Delivered);
    EXPECT_EQ(rig.apic.messages[0].vector, 0x51);
    EXPECT_EQ(rig.apic.messages[0].destination, 3u);
}

TEST(PciPassthroughMsi, NonInterruptAddressIsDropped) {
    Rig rig;
    rig.program_msi(0x12345000, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    EXPECT_EQ(rig.pt->deliver(kMsiDevice, kMsiSourceIndex), MsiDelivery::Dropped);
    EXPECT_TRUE(rig.apic.messages.empty());
}

// --- MSI-X ----------------------------------------------------------------------------------

TEST(PciPassthroughMsix, ControlShowsDom0sBits) {
    Rig rig;
    EXPECT_EQ(rig.read(kMsixDevice, kMsixCap + 2, 2), 0x0007u);
    EXPECT_EQ(rig.read(kMsixDevice, kMsixCap + 4), 0x00000001u);
    EXPECT_EQ(rig.read(kMsixDevice, kMsixCap + 8), 0x00000801u);
    rig.msix_control(true, true);
    EXPECT_EQ(rig.read(kMsixDevice, kMsixCap + 2, 2), 0xc007u);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0xc007u);
    // Every hardware entry was masked before the enable.
    for (u32 i = 0; i < 8; ++i) EXPECT_EQ(rig.memory.dword(kTable + 16 * i + 12), 1u) << i;
    EXPECT_TRUE(rig.router.bound.empty());
}

TEST(PciPassthroughMsix, UnmaskBindsAndProgramsTheHostMessage) {
    Rig rig;
    rig.msix_control(true, true);  // Linux: enable with the function masked, then entries
    rig.msix_entry(2, kGuestAddress, kGuestData, false);
    const auto* binding = rig.router.find(kMsixDevice, 2);
    ASSERT_NE(binding, nullptr);
    EXPECT_EQ(binding->guest, (MsiMessage{kGuestAddress, kGuestData}));
    EXPECT_EQ(rig.memory.dword(kTable + 32), 0xfee00000u);
    EXPECT_EQ(rig.memory.dword(kTable + 36), 0u);
    EXPECT_EQ(rig.memory.dword(kTable + 40), binding->vector);
    EXPECT_EQ(rig.memory.dword(kTable + 44), 0u);
    // dom0 reads its own entry, in dwords or a qword.
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 32, 4), kGuestAddress);
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 40, 8), kGuestData);
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 32, 8), kGuestAddress);
    rig.msix_control(true, false);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x8007u);
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 2), MsiDelivery::Delivered);
    ASSERT_EQ(rig.apic.messages.size(), 1u);
    EXPECT_EQ(rig.apic.messages[0].vector, 0x41);
    // A source never unmasked has no binding and no interrupt.
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 3), MsiDelivery::Dropped);
}

TEST(PciPassthroughMsix, MaskMasksTheHardwareAndHoldsInterrupts) {
    Rig rig;
    rig.msix_control(true, false);
    rig.msix_entry(0, kGuestAddress, kGuestData, false);
    rig.pt->msix_page_write(kTable + 12, 4, 1);
    EXPECT_EQ(rig.memory.dword(kTable + 12), 1u);
    // One on its way: held, and in the PBA with the hardware's own bits (entry 5).
    rig.memory.set_dword(kPba, 1u << 5);
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 0), MsiDelivery::HeldPending);
    EXPECT_TRUE(rig.apic.messages.empty());
    EXPECT_EQ(rig.pt->msix_page_read(kPba, 8), (1u << 5) | 1u);
    EXPECT_EQ(rig.pt->msix_page_read(kPba, 1), 0x21u);
    // Unmask: programmed again and the held interrupt sent.
    rig.pt->msix_page_write(kTable + 12, 4, 0);
    EXPECT_EQ(rig.memory.dword(kTable + 12), 0u);
    ASSERT_EQ(rig.apic.messages.size(), 1u);
    EXPECT_EQ(rig.apic.messages[0].vector, 0x41);
    EXPECT_EQ(rig.pt->msix_page_read(kPba, 8), 1u << 5);
    EXPECT_EQ(rig.router.bind_calls, 1);  // the binding lasts across masks
}

TEST(PciPassthroughMsix, FunctionMaskHoldsInterrupts) {
    Rig rig;
    rig.msix_control(true, false);
    rig.msix_entry(1, kGuestAddress, kGuestData, false);
    rig.msix_control(true, true);
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 1), MsiDelivery::HeldPending);
    rig.msix_control(true, false);
    ASSERT_EQ(rig.apic.messages.size(), 1u);
}

TEST(PciPassthroughMsix, EntriesWrittenBeforeTheEnableAreProgrammedAtIt) {
    Rig rig;
    rig.msix_entry(4, kGuestAddress, kGuestData, false);
    EXPECT_TRUE(rig.router.bound.empty());
    EXPECT_EQ(rig.memory.dword(kTable + 64 + 12), 1u);  // masked while MSI-X is off
    rig.msix_control(true, false);
    ASSERT_NE(rig.router.find(kMsixDevice, 4), nullptr);
    EXPECT_EQ(rig.memory.dword(kTable + 64 + 12), 0u);
}

TEST(PciPassthroughMsix, DisableUnbindsEverything) {
    Rig rig;
    rig.msix_control(true, false);
    rig.msix_entry(0, kGuestAddress, kGuestData, false);
    rig.msix_entry(1, kGuestAddress, kGuestData + 1, false);
    EXPECT_EQ(rig.router.bound.size(), 2u);
    rig.msix_control(false, false);
    EXPECT_TRUE(rig.router.bound.empty());
    EXPECT_EQ(rig.router.bad_unbinds, 0);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x0007u);
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 0), MsiDelivery::Dropped);
    // dom0's entries stay as written.
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 24, 4), kGuestData + 1);
}

TEST(PciPassthroughMsix, RestOfThePagePassesThrough) {
    Rig rig;
    rig.memory.set_dword(kMsixBar + 0x400, 0xcafef00d);
    EXPECT_EQ(rig.pt->msix_page_read(kMsixBar + 0x400, 4), 0xcafef00du);
    rig.pt->msix_page_write(kMsixBar + 0x404, 2, 0x1234);
    EXPECT_EQ(rig.memory.dword(kMsixBar + 0x404), 0x1234u);
    // The PBA is read-only.
    rig.pt->msix_page_write(kPba, 8, ~0ull);
    EXPECT_EQ(rig.memory.dword(kPba), 0u);
}

TEST(PciPassthroughMsix, EnableWhileNotDecodingHoldsTheFunctionMask) {
    Rig rig;
    rig.msix_entry(0, kGuestAddress, kGuestData, false);
    rig.write(kMsixDevice, 0x04, 2, 0x0004);  // memory decoding off: the table is out of reach
    rig.memory.writes.clear();
    rig.msix_control(true, false);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0xc007u);  // enabled but masked
    EXPECT_EQ(rig.read(kMsixDevice, kMsixCap + 2, 2), 0x8007u);
    EXPECT_TRUE(rig.memory.writes.empty());
    rig.write(kMsixDevice, 0x04, 2, 0x0006);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x8007u);
    EXPECT_EQ(rig.memory.dword(kTable + 12), 0u);
    EXPECT_NE(rig.router.find(kMsixDevice, 0), nullptr);
}

// A BAR moved where the platform will not trap the table (host RAM, say): the table is
// out of reach, the hardware function stays masked and nothing is written there; back
// on device memory, everything resumes.
TEST(PciPassthroughMsix, RefusedTableLocationHoldsTheFunctionMask) {
    Rig rig;
    rig.msix_entry(0, kGuestAddress, kGuestData, false);
    rig.msix_control(true, false);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x8007u);  // enabled, not masked
    rig.listener.refuse_from = 0xfd000000;
    rig.write(kMsixDevice, 0x04, 2, 0x0004);
    rig.write(kMsixDevice, 0x14, 4, 0xfd000000);
    rig.memory.writes.clear();
    rig.write(kMsixDevice, 0x04, 2, 0x0006);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0xc007u);  // masked in the hardware
    EXPECT_TRUE(rig.memory.writes.empty());
    EXPECT_EQ(rig.pt->msix_page_read(0xfd000000 + 12, 4), 0xffffffffu);  // not trapped, not the table
    ASSERT_FALSE(rig.listener.issues.empty());
    EXPECT_EQ(rig.listener.issues.back().issue, PassthroughIssue::MsixTableRefused);
    rig.listener.refuse_from = ~0ull;
    rig.write(kMsixDevice, 0x04, 2, 0x0004);
    rig.write(kMsixDevice, 0x14, 4, kMsixBar);
    rig.write(kMsixDevice, 0x04, 2, 0x0006);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x8007u);
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 12, 4), 0u);  // entry 0 unmasked, dom0's view
}

TEST(PciPassthrough, ResetGivesEveryVectorBack) {
    Rig rig;
    rig.program_msi(kGuestAddress, kGuestData);
    rig.write(kMsiDevice, kMsiCap + 2, 2, 0x0001);
    rig.write(kMsiDevice, kMsiCap + 0x10, 4, 1);
    rig.msix_control(true, false);
    rig.msix_entry(0, kGuestAddress, kGuestData, false);
    rig.msix_entry(7, kGuestAddress, kGuestData, false);
    EXPECT_EQ(rig.router.bound.size(), 3u);
    rig.pt->reset();
    EXPECT_TRUE(rig.router.bound.empty());
    EXPECT_EQ(rig.router.bad_unbinds, 0);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 2, 2), 0x0184u);
    EXPECT_EQ(rig.hw(kMsiDevice, kMsiCap + 0x10), 0u);
    EXPECT_EQ(rig.hw(kMsixDevice, kMsixCap + 2, 2), 0x0007u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 4), 0u);
    EXPECT_EQ(rig.read(kMsiDevice, kMsiCap + 0x10), 0u);
    EXPECT_EQ(rig.pt->msix_page_read(kTable + 7 * 16 + 8, 8), 0x100000000ull);  // data 0, masked
    EXPECT_EQ(rig.pt->deliver(kMsixDevice, 0), MsiDelivery::Dropped);
}

// --- Limits ---------------------------------------------------------------------------------

// A function with MSI-X whose table of `entries` is in BAR `table_bar`.
void add_msix_function(fake_pci::Bus& bus, PciBdf bdf, u64 bar_base, u32 entries, u32 table_bar = 0) {
    fake_pci::Function& f = bus.add(bdf);
    f.ids(0x1af4, 0x1000, 0);
    f.set(0x04, 2, 0x0006, 0x0547);
    f.memory_bar(0, bar_base, 0x4000);
    f.io_bar(1, 0xe000, 0x20);
    f.capability(0x40, pci_config::kCapabilityMsix);
    f.set(0x42, 2, entries - 1, 0xc000);
    f.set(0x44, 4, table_bar);
    f.set(0x48, 4, 0x3000);
}

struct LimitRig {
    fake_pci::Bus bus;
    fake_pci::Memory memory;
    fake_pci::Router router;
    fake_pci::Listener listener;
    fake_pci::ApicSink apic;
    PassthroughServices services{bus, memory, router, apic, listener};
    std::unique_ptr<PciPassthrough> pt = std::make_unique<PciPassthrough>(services);
};

TEST(PciPassthroughLimits, LargeTableShowsKMaxEntries) {
    LimitRig rig;
    add_msix_function(rig.bus, PciBdf{0, 1, 0}, 0xfe000000, 128);
    rig.pt->scan();
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::MsixTableTruncated));
    EXPECT_EQ(rig.pt->config_read(PciBdf{0, 1, 0}, 0x42, 2), MsixMediator::kMaxEntries - 1);
    // The trap covers the whole hardware table (2 KiB: one page).
    ASSERT_EQ(rig.listener.table_moves().size(), 1u);
    EXPECT_EQ(rig.listener.table_moves()[0].new_range, (DeviceRange{0xfe000000, 0x1000}));
    rig.pt->config_write(PciBdf{0, 1, 0}, 0x42, 2, 0x8000);
    for (u32 i = 0; i < 128; ++i) EXPECT_EQ(rig.memory.dword(0xfe000000 + 16 * i + 12), 1u) << i;
    // Entries past the visible table do not exist for dom0.
    rig.pt->msix_page_write(0xfe000000 + 16 * 100 + 12, 4, 0);
    EXPECT_EQ(rig.memory.dword(0xfe000000 + 16 * 100 + 12), 1u);
    EXPECT_EQ(rig.pt->msix_page_read(0xfe000000 + 16 * 100, 4), 0u);
}

TEST(PciPassthroughLimits, TableOutsideAMemoryBarIsNeverEnabled) {
    LimitRig rig;
    add_msix_function(rig.bus, PciBdf{0, 1, 0}, 0xfe000000, 4, 1);  // BIR 1 is an I/O BAR
    rig.pt->scan();
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::MsixTableUnusable));
    EXPECT_TRUE(rig.listener.table_moves().empty());
    rig.pt->config_write(PciBdf{0, 1, 0}, 0x42, 2, 0x8000);
    EXPECT_EQ(rig.bus.at(PciBdf{0, 1, 0}).get(0x42, 2) & 0x8000, 0u);
    EXPECT_EQ(rig.pt->config_read(PciBdf{0, 1, 0}, 0x42, 2) & 0x8000, 0x8000u);
}

TEST(PciPassthroughLimits, FunctionsPastTheLimitsAreHidden) {
    LimitRig rig;
    // 17 MSI-X functions and 60 plain ones on bus 0 and 1 (through a bridge).
    for (u8 d = 0; d < 17; ++d) add_msix_function(rig.bus, PciBdf{0, d, 0}, 0xf0000000 + d * 0x10000ull, 4);
    fake_pci::Function& bridge = rig.bus.add(PciBdf{0, 31, 0});
    bridge.ids(0x8086, 0x244e, 1);
    bridge.set(0x18, 4, 0x00010100, 0xffffffff);
    for (u8 d = 0; d < 30; ++d) {
        rig.bus.add(PciBdf{1, d, 0}).ids(0x1234, 0x10, 0x80);
        rig.bus.add(PciBdf{1, d, 1}).ids(0x1234, 0x11, 0);
    }
    const PassthroughScanSummary summary = rig.pt->scan();
    EXPECT_EQ(summary.functions, PciPassthrough::kMaxFunctions);
    EXPECT_EQ(summary.hidden, 17u + 1 + 60 - PciPassthrough::kMaxFunctions);
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::TooManyMsixFunctions));
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::TooManyFunctions));
    // The 17th MSI-X function is not there for dom0.
    EXPECT_EQ(rig.pt->find(PciBdf{0, 16, 0}), nullptr);
    EXPECT_EQ(rig.pt->config_read(PciBdf{0, 16, 0}, 0, 4), 0xffffffffu);
    EXPECT_NE(rig.pt->find(PciBdf{0, 15, 0}), nullptr);
}

// An IOMMU's function is the hypervisor's: dom0 finds nothing there.
TEST(PciPassthroughLimits, FunctionsTheHypervisorKeepsAreHidden) {
    LimitRig rig;
    rig.bus.add(PciBdf{0, 5, 0}).ids(0x1022, 0x0000, 0);  // QEMU's AMDVI-PCI
    rig.bus.add(PciBdf{0, 6, 0}).ids(0x1234, 0x11e8, 0);
    rig.listener.kept.push_back(PciBdf{0, 5, 0});
    const PassthroughScanSummary summary = rig.pt->scan();
    EXPECT_EQ(summary.functions, 1u);
    EXPECT_EQ(summary.hidden, 1u);
    EXPECT_TRUE(rig.listener.reported(PassthroughIssue::KeptByHypervisor));
    EXPECT_EQ(rig.pt->find(PciBdf{0, 5, 0}), nullptr);
    EXPECT_EQ(rig.pt->config_read(PciBdf{0, 5, 0}, 0, 4), 0xffffffffu);
    rig.pt->config_write(PciBdf{0, 5, 0}, 0x04, 2, 0x6);
    EXPECT_EQ(rig.bus.at(PciBdf{0, 5, 0}).get(0x04, 2), 0u);
    EXPECT_NE(rig.pt->find(PciBdf{0, 6, 0}), nullptr);
}

// --- Host bridges ---------------------------------------------------------------------------

// QEMU's q35 MCH (8086:29c0, class 06/00/00) with its PCIEXBAR, PAM and SMRAM registers
// writable as on the hardware, and a memory BAR (real MCHs have none in the header, but
// the rule must let BARs through), next to an ordinary device at 0:2.0.
struct HostBridgeRig {
    static constexpr PciBdf kMch{0, 0, 0};
    static constexpr PciBdf kNic{0, 2, 0};
    static constexpr PciBdf kLpc{0, 0x1f, 0};
    static constexpr u64 kPciexbar = 0xb0000001;  // 256 buses at 0xb0000000, enabled

    fake_pci::Bus bus;
    fake_pci::Memory memory;
    fake_pci::Router router;
    fake_pci::Listener listener;
    fake_pci::ApicSink apic;
    PassthroughServices services{bus, memory, router, apic, listener};
    std::unique_ptr<PciPassthrough> pt;

    HostBridgeRig() {
        fake_pci::Function& mch = bus.add(kMch);
        mch.ids(0x8086, 0x29c0, 0);
        mch.set(0x08, 4, 0x06000002);                  // host bridge, revision 2
        mch.set(0x0c, 1, 0, 0xff);                     // cache line size
        mch.memory_bar(0, 0xfed10000, 0x4000);         // (for the rule's sake)
        mch.set(0x60, 4, u32(kPciexbar), 0xfc000007);  // PCIEXBAR
        mch.set(0x64, 4, 0, 0x0000000f);
        mch.set(0x90, 4, 0x11111110, 0xffffffff);  // PAM0-PAM3
        mch.set(0x9c, 4, 0x00380200, 0xffffffff);  // SMRAMC at 9Dh, ESMRAMC at 9Eh
        mch.set(0xb0, 4, 0x80000000, 0xfff00000);  // TOLUD
        mch.set(0x100, 4, 0, 0xffffffff);          // extended space
        fake_pci::Function& nic = bus.add(kNic);
        nic.ids(0x8086, 0x10d3, 0);
        nic.set(0x08, 4, 0x02000000);  // Ethernet controller
        nic.set(0x40, 4, 0, 0xffffffff);
        fake_pci::Function& lpc = bus.add(kLpc);  // ICH9's LPC bridge: class 06/01, not a host bridge
        lpc.ids(0x8086, 0x2918, 0x80);
        lpc.set(0x08, 4, 0x06010002);
        lpc.set(0x40, 4, 0x00000601, 0xffffff80);  // PMBASE
        pt = std::make_unique<PciPassthrough>(services);
        pt->scan();
        bus.writes.clear();
        listener.issues.clear();
    }
    u32 hw(PciBdf bdf, u16 offset, u8 size = 4) { return bus.at(bdf).get(offset, size); }
};

TEST(PciPassthroughHostBridge, ChipsetRegisterWritesAreDropped) {
    HostBridgeRig rig;
    using R = HostBridgeRig;
    // Moving the ECAM window (PCIEXBAR), in every width.
    rig.pt->config_write(R::kMch, 0x60, 4, 0xe0000001);
    rig.pt->config_write(R::kMch, 0x62, 2, 0xe000);
    rig.pt->config_write(R::kMch, 0x60, 1, 0x00);
    rig.pt->config_write(R::kMch, 0x64, 4, 0x1);
    // PAM, SMRAMC (D_OPEN), ESMRAMC, TOLUD, the cache line size and extended space.
    rig.pt->config_write(R::kMch, 0x90, 4, 0x33333330);
    rig.pt->config_write(R::kMch, 0x9d, 1, 0x4a);
    rig.pt->config_write(R::kMch, 0x9e, 1, 0x00);
    rig.pt->config_write(R::kMch, 0xb0, 4, 0xc0000000);
    rig.pt->config_write(R::kMch, 0x0c, 1, 0x10);
    rig.pt->config_write(R::kMch, 0x100, 4, 0x12345678);
    EXPECT_TRUE(rig.bus.writes.empty());
    EXPECT_EQ(rig.hw(R::kMch, 0x60), u32(R::kPciexbar));
    EXPECT_EQ(rig.hw(R::kMch, 0x90), 0x11111110u);
    EXPECT_EQ(rig.hw(R::kMch, 0x9c), 0x00380200u);
    EXPECT_EQ(rig.hw(R::kMch, 0xb0), 0x80000000u);
    // Reads still pass through.
    EXPECT_EQ(rig.pt->config_read(R::kMch, 0x60, 4), u32(R::kPciexbar));
    EXPECT_EQ(rig.pt->config_read(R::kMch, 0x9d, 1), 0x02u);
    EXPECT_EQ(rig.pt->config_read(R::kMch, 0x08, 4), 0x06000002u);
    // Reported once, for the host bridge.
    ASSERT_EQ(rig.listener.issues.size(), 1u);
    EXPECT_EQ(rig.listener.issues[0].issue, PassthroughIssue::HostBridgeWriteRefused);
    EXPECT_EQ(rig.listener.issues[0].bdf, R::kMch);
}

TEST(PciPassthroughHostBridge, CommandStatusAndBarsPassThrough) {
    HostBridgeRig rig;
    using R = HostBridgeRig;
    rig.pt->config_write(R::kMch, 0x04, 2, 0x0006);
    EXPECT_EQ(rig.hw(R::kMch, 0x04, 2), 0x0006u);
    rig.pt->config_write(R::kMch, 0x06, 2, 0xffff);  // status: write-one-to-clear bits
    rig.pt->config_write(R::kMch, 0x10, 4, 0xffffffff);
    EXPECT_EQ(rig.hw(R::kMch, 0x10), 0xffffc000u);
    rig.pt->config_write(R::kMch, 0x10, 4, 0xfed10000);
    EXPECT_EQ(rig.hw(R::kMch, 0x10), 0xfed10000u);
    EXPECT_EQ(rig.bus.writes.size(), 4u);
    EXPECT_TRUE(rig.listener.issues.empty());
}

TEST(PciPassthroughHostBridge, OtherFunctionsKeepTheirRegisters) {
    HostBridgeRig rig;
    using R = HostBridgeRig;
    rig.pt->config_write(R::kNic, 0x40, 4, 0x12345678);
    EXPECT_EQ(rig.hw(R::kNic, 0x40), 0x12345678u);
    rig.pt->config_write(R::kLpc, 0x40, 4, 0x00000b01);
    EXPECT_EQ(rig.hw(R::kLpc, 0x40), 0x00000b01u);
    EXPECT_TRUE(rig.listener.issues.empty());
    ASSERT_NE(rig.pt->find(R::kMch), nullptr);
    EXPECT_TRUE(rig.pt->find(R::kMch)->host_bridge);
    EXPECT_FALSE(rig.pt->find(R::kNic)->host_bridge);
    EXPECT_FALSE(rig.pt->find(R::kLpc)->host_bridge);
}

}  // namespace
