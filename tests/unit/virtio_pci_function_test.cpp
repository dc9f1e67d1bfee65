// The virtio-over-PCI transport (dom0/devmodel/virtio_pci_function.cpp) and the
// machine that holds the functions (device_machine.cpp), driven as Linux's PCI core and
// virtio_pci do, around a fake device that records what the transport asks of it.
#include "dom0/devmodel/virtio_pci_function.hpp"

#include <gtest/gtest.h>

#include "dom0/devmodel/device_machine.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::VirtioPciFunction;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::Msi;
using virtio_test::VirtioTestDriver;

constexpr uint64_t kFakeFeatures = (1ull << 0) | (1ull << 3);

// A device of type 0x2a with two queues of at most 64 entries and 8 bytes of
// configuration; it returns every chain it is given with 0 bytes written.
class FakeDevice final : public devmodel::VirtioDevice {
public:
    const char* name() const override { return "virtio-fake"; }
    uint16_t device_id() const override { return 0x2a; }
    uint32_t pci_class_code() const override { return 0xff0000; }
    uint64_t device_features() const override { return kFakeFeatures; }
    uint16_t num_queues() const override { return 2; }
    uint16_t max_queue_size(uint16_t) const override { return 64; }
    uint32_t config_size() const override { return sizeof(config); }
    void read_config(uint32_t offset, uint8_t* dst, uint32_t len) override {
        for (uint32_t i = 0; i < len; ++i) dst[i] = config[offset + i];
    }
    void write_config(uint32_t offset, const uint8_t* src, uint32_t len) override {
        for (uint32_t i = 0; i < len; ++i) config[offset + i] = src[i];
    }
    void reset() override { ++resets; }
    void driver_ok() override { ++driver_oks; }
    void process_queue(uint16_t q) override {
        processed.push_back(q);
        devmodel::Virtqueue* vq = transport().running_queue(q);
        if (vq == nullptr) return;
        bool used = false;
        for (;;) {
            devmodel::DescriptorChain chain;
            std::string error;
            const auto r = vq->pop(transport().guest_memory(), chain, error);
            if (r == devmodel::Virtqueue::Pop::Empty) break;
            if (r == devmodel::Virtqueue::Pop::Error ||
                !vq->push_used(transport().guest_memory(), chain.head, 0, error)) {
                transport().driver_error(error);
                return;
            }
            used = true;
        }
        if (used) transport().queue_used(q);
    }
    void change_config(uint8_t v) {
        config[0] = v;
        transport().config_changed();
    }
    void fail(const std::string& why) { transport().driver_error(why); }
    uint64_t negotiated() { return transport().negotiated_features(); }

    uint8_t config[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int resets = 0;
    int driver_oks = 0;
    std::vector<uint16_t> processed;
};

class VirtioPciFunctionTest : public ::testing::Test {
protected:
    VirtioPciFunctionTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), machine(kMmioBase) {
        auto d = std::make_unique<FakeDevice>();
        device = d.get();
        auto f = std::make_unique<VirtioPciFunction>(std::move(d), ram, msi,
                                                     [this](const std::string& line) { log.push_back(line); });
        function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(kSlot, std::move(f), error)) << error;
        function->set_label("00:05.0 virtio-fake");
    }
    static constexpr unsigned kSlot = 5;
    static constexpr uint64_t kBar = kMmioBase + kSlot * 0x8000;

    FakeGuestMemory ram;
    virtio_test::RecordingMsiSink msi;
    std::vector<std::string> log;
    DeviceMachine machine;
    FakeDevice* device = nullptr;
    VirtioPciFunction* function = nullptr;
    VirtioTestDriver driver{machine, ram, kSlot};
};

TEST_F(VirtioPciFunctionTest, HeaderOfAModernVirtioFunction) {
    EXPECT_EQ(driver.cfg_read(0x00, 4), (0x1040u + 0x2a) << 16 | 0x1af4u);
    EXPECT_EQ(driver.cfg_read(0x08, 4), 0xff000001u) << "class code and revision 1";
    EXPECT_EQ(driver.cfg_read(0x0e, 1), 0u) << "type 0, single function";
    EXPECT_EQ(driver.cfg_read(0x2c, 4), 0x2au << 16 | 0x1af4u) << "subsystem";
    EXPECT_EQ(driver.cfg_read(0x3d, 1), 0u) << "no INTx pin";
    EXPECT_EQ(driver.cfg_read(0x06, 2), 0x10u) << "capabilities list";
    EXPECT_EQ(driver.cfg_read(0x04, 2), 0u) << "decoding off after reset";
    EXPECT_EQ(driver.cfg_read(0x10, 4), kBar) << "firmware's assignment: base + slot * 32 KiB";
    for (uint32_t reg = 0x14; reg <= 0x24; reg += 4) EXPECT_EQ(driver.cfg_read(reg, 4), 0u) << "BAR at " << reg;
    EXPECT_EQ(driver.cfg_read(0x30, 4), 0u) << "no expansion ROM";
    EXPECT_EQ(driver.cfg_read(0x100, 4), 0u) << "no extended capabilities";
    // Narrow reads see the same bytes.
    EXPECT_EQ(driver.cfg_read(0x02, 2), 0x106au);
    EXPECT_EQ(driver.cfg_read(0x03, 1), 0x10u);
    EXPECT_EQ(driver.cfg_read(0x0b, 1), 0xffu);
    // Read-only registers keep their value.
    driver.cfg_write(0x00, 4, 0x12345678);
    driver.cfg_write(0x08, 1, 0x55);
    driver.cfg_write(0x3d, 1, 1);
    EXPECT_EQ(driver.cfg_read(0x00, 4), 0x106a1af4u);
    EXPECT_EQ(driver.cfg_read(0x08, 1), 1u);
    EXPECT_EQ(driver.cfg_read(0x3d, 1), 0u);
    // Scratch registers firmware writes.
    driver.cfg_write(0x3c, 1, 11);
    EXPECT_EQ(driver.cfg_read(0x3c, 1), 11u);
}

TEST_F(VirtioPciFunctionTest, CapabilitiesDescribeBar0) {
    driver.probe_pci();
    ASSERT_EQ(driver.caps.size(), 5u);
    const struct {
        uint8_t type;
        uint32_t offset, length;
    } expected[] = {{1, 0x0000, 0x38}, {2, 0x3000, 8}, {3, 0x1000, 1}, {4, 0x2000, 8}, {5, 0, 0}};
    for (const auto& e : expected) {
        ASSERT_EQ(driver.caps.count(e.type), 1u) << "cfg_type " << int{e.type};
        EXPECT_EQ(driver.caps[e.type].bar, 0u);
        EXPECT_EQ(driver.caps[e.type].offset, e.offset) << "cfg_type " << int{e.type};
        EXPECT_EQ(driver.caps[e.type].length, e.length) << "cfg_type " << int{e.type};
    }
    EXPECT_EQ(driver.cfg_read(driver.caps[2].at + 2, 1), 20u) << "notify cap_len";
    EXPECT_EQ(driver.cfg_read(driver.caps[5].at + 2, 1), 20u) << "pci cfg cap_len";
    EXPECT_EQ(driver.notify_multiplier, 4u);
    ASSERT_NE(driver.msix_cap, 0u);
    EXPECT_EQ(driver.cfg_read(driver.msix_cap + 2, 2), 2u) << "3 vectors, disabled, unmasked";
    EXPECT_EQ(driver.cfg_read(driver.msix_cap + 4, 4), 0x4000u);
    EXPECT_EQ(driver.cfg_read(driver.msix_cap + 8, 4), 0x5000u);
    EXPECT_EQ(driver.bar_size, 0x8000u);
    EXPECT_EQ(driver.bar0, kBar);
}

TEST_F(VirtioPciFunctionTest, BarSizingMovingAndDecoding) {
    // Sizing: all ones reads back the size mask; type bits 0 (32-bit memory).
    driver.cfg_write(0x10, 4, 0xffffffff);
    EXPECT_EQ(driver.cfg_read(0x10, 4), 0xffff8000u);
    driver.cfg_write(0x10, 4, 0xd0004321);
    EXPECT_EQ(driver.cfg_read(0x10, 4), 0xd0000000u);
    EXPECT_EQ(function->bar0_base(), 0xd0000000u);
    EXPECT_FALSE(function->bar0_enabled());
    EXPECT_FALSE(function->notify_region().has_value());
    EXPECT_EQ(machine.mmio_read(0xd0000000 + 0x12, 2), 0xffffu) << "decoding is off";
    driver.cfg_write(0x04, 1, 0x02);
    EXPECT_TRUE(function->bar0_enabled());
    EXPECT_EQ(machine.mmio_read(0xd0000000 + 0x12, 2), 2u) << "num_queues";
    EXPECT_EQ(machine.mmio_read(kBar + 0x12, 2), 0xffffu) << "nothing at the old address";
    EXPECT_EQ(machine.mmio_read(0xd0000000 + 0x8000, 4), 0xffffffffu) << "past the BAR";
    EXPECT_EQ(machine.mmio_read(0xd0000000 + 0x12, 8), 64ull << 48 | 2) << "num_queues .. queue_size";
    const auto region = function->notify_region();
    ASSERT_TRUE(region.has_value());
    EXPECT_EQ(region->gpa, 0xd0003000u);
    EXPECT_EQ(region->length, 8u);
    EXPECT_EQ(region->multiplier, 4u);
    driver.cfg_write(0x04, 2, 0);
    EXPECT_FALSE(function->notify_region().has_value());
    EXPECT_EQ(machine.mmio_read(0xd0000012, 2), 0xffffu);
}

TEST_F(VirtioPciFunctionTest, AbsentFunctionsReadAllOnes) {
    EXPECT_EQ(machine.pci_config_read(DeviceMachine::bdf(0, 6, 0), 0, 4), 0xffffffffu);
    EXPECT_EQ(machine.pci_config_read(DeviceMachine::bdf(0, 5, 1), 0, 2), 0xffffu) << "function 1";
    EXPECT_EQ(machine.pci_config_read(DeviceMachine::bdf(1, 5, 0), 0, 1), 0xffu) << "bus 1";
    machine.pci_config_write(DeviceMachine::bdf(0, 6, 0), 0x04, 2, 6);
    machine.pci_config_write(DeviceMachine::bdf(1, 5, 0), 0x04, 2, 6);
    EXPECT_EQ(driver.cfg_read(0x04, 2), 0u) << "writes to other functions went nowhere";
    EXPECT_EQ(machine.mmio_read(0x1234, 8), ~0ull);
    EXPECT_EQ(machine.pci_config_read(DeviceMachine::bdf(0, 5, 0), 0, 2), 0x1af4u);
}

TEST_F(VirtioPciFunctionTest, MachineSlotsAndBars) {
    std::string error;
    auto make = [&] {
        return std::make_unique<VirtioPciFunction>(std::make_unique<FakeDevice>(), ram, msi, [](const std::string&) {});
    };
    EXPECT_FALSE(machine.add(kSlot, make(), error));
    EXPECT_EQ(error, "PCI device 5 is taken");
    EXPECT_FALSE(machine.add(32, make(), error));
    EXPECT_EQ(error, "PCI device 32 is not 0-31");
    DeviceMachine misaligned(kMmioBase + 0x1000);
    EXPECT_FALSE(misaligned.add(0, make(), error));
    EXPECT_EQ(error, "a 32-bit BAR cannot be at 0xe0001000");
    DeviceMachine too_high(0xffff8000);
    EXPECT_FALSE(too_high.add(1, make(), error));
    ASSERT_TRUE(machine.add(6, make(), error));
    EXPECT_EQ(machine.function(6)->bar0_base(), kMmioBase + 6 * 0x8000);
    // Each function answers its own BAR.
    machine.pci_config_write(DeviceMachine::bdf(0, 6, 0), 0x04, 2, 2);
    driver.cfg_write(0x04, 2, 2);
    machine.mmio_write(kBar + 0x16, 2, 1);  // queue_select on slot 5
    EXPECT_EQ(machine.mmio_read(kBar + 0x16, 2), 1u);
    EXPECT_EQ(machine.mmio_read(kMmioBase + 6 * 0x8000 + 0x16, 2), 0u);
}

TEST_F(VirtioPciFunctionTest, FeatureNegotiation) {
    driver.probe_pci();
    EXPECT_EQ(driver.device_features(), kFakeFeatures | (1ull << 32) | (1ull << 28));
    driver.common_write(0x00, 4, 2);
    EXPECT_EQ(driver.common_read(0x04, 4), 0u) << "no features past bit 63";

    // A feature not offered: FEATURES_OK stays clear (2.2.2), said once in the log.
    driver.set_status(0);
    driver.set_status(3);
    driver.write_driver_features((1ull << 32) | (1ull << 1));
    driver.set_status(3 | 8);
    EXPECT_EQ(driver.status(), 3u);
    driver.set_status(3 | 8);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0],
              "00:05.0 virtio-fake: FEATURES_OK refused: the driver accepted features 0x2 that were not offered");

    // No VERSION_1: a legacy driver.
    EXPECT_FALSE(driver.negotiate(kFakeFeatures));
    ASSERT_EQ(log.size(), 2u);
    EXPECT_NE(log[1].find("did not accept VIRTIO_F_VERSION_1"), std::string::npos);

    // A bit above 63.
    driver.set_status(0);
    driver.set_status(3);
    driver.write_driver_features(1ull << 32);
    driver.common_write(0x08, 4, 2);
    driver.common_write(0x0c, 4, 1);
    driver.set_status(3 | 8);
    EXPECT_EQ(driver.status(), 3u);

    // A subset with VERSION_1 is fine; afterwards the driver's features are fixed.
    EXPECT_TRUE(driver.negotiate((1ull << 32) | 1));
    EXPECT_EQ(device->negotiated(), (1ull << 32) | 1);
    driver.write_driver_features((1ull << 32) | kFakeFeatures);
    EXPECT_EQ(device->negotiated(), (1ull << 32) | 1);
    driver.common_write(0x08, 4, 0);
    EXPECT_EQ(driver.common_read(0x0c, 4), 1u);
}

TEST_F(VirtioPciFunctionTest, QueueRegisters) {
    driver.probe_pci();
    EXPECT_EQ(driver.common_read(0x12, 2), 2u) << "num_queues";
    driver.common_write(0x16, 2, 1);
    EXPECT_EQ(driver.common_read(0x18, 2), 64u) << "maximum size";
    EXPECT_EQ(driver.common_read(0x1e, 2), 1u) << "queue_notify_off = queue index";
    EXPECT_EQ(driver.common_read(0x1a, 2), 0xffffu) << "no vector after reset";
    driver.common_write(0x1a, 2, 2);
    EXPECT_EQ(driver.common_read(0x1a, 2), 2u);
    driver.common_write(0x1a, 2, 3);
    EXPECT_EQ(driver.common_read(0x1a, 2), 0xffffu) << "a vector past the table reads back NO_VECTOR";
    driver.common_write(0x10, 2, 7);
    EXPECT_EQ(driver.common_read(0x10, 2), 0xffffu);
    // A 64-bit field in one 8-byte access, or in halves.
    driver.common_write(0x20, 8, 0x1122334455667780ull);
    EXPECT_EQ(driver.common_read(0x20, 8), 0x1122334455667780ull);
    driver.common_write(0x24, 4, 0);
    EXPECT_EQ(driver.common_read(0x20, 4), 0x55667780u);
    EXPECT_EQ(driver.common_read(0x24, 4), 0u);
    // A queue that does not exist: size 0, writes go nowhere.
    driver.common_write(0x16, 2, 2);
    EXPECT_EQ(driver.common_read(0x18, 2), 0u);
    driver.common_write(0x18, 2, 8);
    driver.common_write(0x1c, 2, 1);
    EXPECT_EQ(driver.common_read(0x18, 2), 0u);
    EXPECT_EQ(driver.common_read(0x1c, 2), 0u);
}

TEST_F(VirtioPciFunctionTest, QueueFieldsAreFixedOnceEnabledAndResetClearsThem) {
    driver.bring_up(~0ull, 2, 16);
    EXPECT_EQ(device->driver_oks, 1);
    driver.common_write(0x16, 2, 0);
    EXPECT_EQ(driver.common_read(0x1c, 2), 1u);
    driver.common_write(0x18, 2, 32);
    driver.write64(0x20, 0x5000);
    EXPECT_EQ(driver.common_read(0x18, 2), 16u);
    EXPECT_EQ(driver.common_read(0x20, 8), driver.queues[0].desc);
    driver.common_write(0x1c, 2, 0);
    EXPECT_EQ(driver.common_read(0x1c, 2), 1u) << "0 does not disable a queue";

    const int resets = device->resets;
    driver.set_status(0);
    EXPECT_EQ(device->resets, resets + 1);
    EXPECT_EQ(driver.status(), 0u);
    driver.common_write(0x16, 2, 1);
    EXPECT_EQ(driver.common_read(0x16, 2), 1u);
    EXPECT_EQ(driver.common_read(0x18, 2), 64u);
    EXPECT_EQ(driver.common_read(0x1c, 2), 0u);
    EXPECT_EQ(driver.common_read(0x1a, 2), 0xffffu);
    EXPECT_EQ(driver.common_read(0x28, 8), 0u);
    EXPECT_EQ(driver.common_read(0x10, 2), 0xffffu);
    EXPECT_EQ(device->negotiated(), 0u);
}

TEST_F(VirtioPciFunctionTest, NotificationsReachTheDeviceOnlyWhenItIsRunning) {
    driver.probe_pci();
    ASSERT_TRUE(driver.negotiate(~0ull));
    driver.enable_msix(3);
    driver.setup_queue(1, 8, 2);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_TRUE(device->processed.empty()) << "before DRIVER_OK";
    driver.set_status(1 | 2 | 8 | 4);
    ASSERT_EQ(device->processed, std::vector<uint16_t>{1}) << "DRIVER_OK looks at the enabled queues";
    EXPECT_EQ(driver.used_idx(1), 1u);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 2}));

    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 2u);
    driver.kick(0);
    EXPECT_EQ(device->processed.size(), 2u) << "queue 0 is not enabled";
    function->ring_doorbell(1);
    EXPECT_EQ(device->processed.size(), 3u);
    function->ring_doorbell(7);
    EXPECT_EQ(device->processed.size(), 3u);
    // Without bus mastering the device does no DMA.
    driver.cfg_write(0x04, 2, 0x2);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 2u);
    driver.cfg_write(0x04, 2, 0x6);
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 3u);
}

TEST_F(VirtioPciFunctionTest, MsixMaskPendingAndEnable) {
    driver.bring_up(~0ull, 2, 8);
    const uint64_t pba = driver.bar0 + 0x5000;
    // Mask vector 2 (queue 1): the message waits as a pending bit.
    driver.mmio_write(driver.msix_table + 2 * 16 + 12, 4, 1);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_TRUE(msi.sent.empty());
    EXPECT_EQ(driver.mmio_read(pba, 8), 0x4u);
    // The table's entry may change while masked; the message uses the new one.
    driver.mmio_write(driver.msix_table + 2 * 16 + 8, 4, 0x99);
    driver.mmio_write(driver.msix_table + 2 * 16 + 12, 4, 0);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, 0x99}));
    EXPECT_EQ(driver.mmio_read(pba, 8), 0u);

    // The function mask holds every vector.
    const uint32_t control = driver.cfg_read(driver.msix_cap + 2, 2);
    driver.cfg_write(driver.msix_cap + 2, 2, control | 0x4000);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    device->change_config(9);
    EXPECT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(driver.mmio_read(pba, 4), 0x5u);
    driver.cfg_write(driver.msix_cap + 2, 2, control);
    ASSERT_EQ(msi.sent.size(), 3u);
    EXPECT_EQ(msi.sent[1], (Msi{kMsiAddress, kMsiDataBase + 0}));
    EXPECT_EQ(msi.sent[2], (Msi{kMsiAddress, 0x99}));

    // A byte write to the table is not a DWORD access: ignored.
    driver.mmio_write(driver.msix_table + 2 * 16 + 12, 1, 1);
    EXPECT_EQ(driver.mmio_read(driver.msix_table + 2 * 16 + 12, 4), 0u);
    // A QWORD write sets the whole address.
    driver.mmio_write(driver.msix_table + 16, 8, 0x00000001fee01003ull);
    EXPECT_EQ(driver.mmio_read(driver.msix_table + 16, 8), 0x00000001fee01000ull) << "address bits 1:0 read 0";

    // MSI-X disabled: no message (there is no INTx), the ISR shows the queue.
    driver.cfg_write(driver.msix_cap + 2, 2, control & ~0x8000u);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(msi.sent.size(), 3u);
    EXPECT_EQ(driver.mmio_read(driver.at(3, 0), 1), 3u) << "queue and config bits";
    EXPECT_EQ(driver.mmio_read(driver.at(3, 0), 1), 0u) << "reading the ISR clears it";
}

TEST_F(VirtioPciFunctionTest, NoInterruptWhenTheDriverSuppressesIt) {
    driver.bring_up(~0ull, 2, 8);
    ram.put16(driver.queues[1].avail, 1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 1u);
    EXPECT_TRUE(msi.sent.empty());
    ram.put16(driver.queues[1].avail, 0);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(msi.sent.size(), 1u);
}

TEST_F(VirtioPciFunctionTest, ConfigurationSpaceAndGeneration) {
    driver.bring_up(~0ull, 2, 8);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 0), 4), 0x04030201u);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 6), 2), 0x0807u);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 7), 4), 0x08u) << "bytes past the device's configuration read 0";
    driver.mmio_write(driver.at(4, 2), 2, 0xbbaa);
    EXPECT_EQ(device->config[2], 0xaa);
    EXPECT_EQ(device->config[3], 0xbb);
    const uint64_t generation = driver.common_read(0x15, 1);
    device->change_config(0x42);
    EXPECT_EQ(driver.common_read(0x15, 1), (generation + 1) & 0xff);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase}));
    EXPECT_EQ(driver.mmio_read(driver.at(3, 0), 4), 2u) << "ISR: configuration change";
    EXPECT_EQ(driver.mmio_read(driver.at(3, 0), 4), 0u);
}

TEST_F(VirtioPciFunctionTest, DriverErrorStopsTheDeviceUntilReset) {
    driver.bring_up(~0ull, 2, 8);
    device->fail("queue 1 is on fire");
    device->fail("and again");
    EXPECT_EQ(driver.status(), 0x40 | 0xf);
    ASSERT_EQ(log.size(), 1u) << "logged once";
    EXPECT_EQ(log[0],
              "00:05.0 virtio-fake: queue 1 is on fire; the device is stopped until the driver resets it "
              "(DEVICE_NEEDS_RESET)");
    ASSERT_EQ(msi.sent.size(), 1u) << "a configuration change interrupt";
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase}));
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 0u);
    // The driver cannot clear the bit, only reset.
    driver.set_status(0xf);
    EXPECT_EQ(driver.status(), 0x4f);
    driver.queues.clear();
    driver.bring_up(~0ull, 2, 8);
    EXPECT_EQ(driver.status(), 0xf);
    driver.add_chain(1, {{0x200000, 16, false}});
    driver.kick(1);
    EXPECT_EQ(driver.used_idx(1), 1u);
    device->fail("once more");
    EXPECT_EQ(log.size(), 2u) << "a new episode is logged again";
}

TEST_F(VirtioPciFunctionTest, TheDriverCannotSetNeedsReset) {
    driver.probe_pci();
    driver.set_status(0x41);
    EXPECT_EQ(driver.status(), 1u);
}

TEST_F(VirtioPciFunctionTest, ABadQueueLayoutNeedsReset) {
    driver.probe_pci();
    ASSERT_TRUE(driver.negotiate(~0ull));
    driver.common_write(0x16, 2, 0);
    driver.common_write(0x18, 2, 3);
    driver.common_write(0x1c, 2, 1);
    EXPECT_EQ(driver.common_read(0x1c, 2), 0u);
    EXPECT_EQ(driver.status() & 0x40, 0x40);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("queue 0: queue size 3 is not a power of two from 1 to 64"), std::string::npos) << log[0];
}

TEST_F(VirtioPciFunctionTest, PciConfigurationAccessWindow) {
    driver.probe_pci();
    const uint32_t cap = driver.caps.at(5).at;
    driver.set_status(1);
    // bar 0, offset 0x14 (device_status), length 1.
    driver.cfg_write(cap + 4, 1, 0);
    driver.cfg_write(cap + 8, 4, 0x14);
    driver.cfg_write(cap + 12, 4, 1);
    EXPECT_EQ(driver.cfg_read(cap + 16, 1), 1u);
    driver.cfg_write(cap + 16, 1, 3);
    EXPECT_EQ(driver.status(), 3u);
    // Four bytes of the device configuration.
    driver.cfg_write(cap + 8, 4, 0x2000);
    driver.cfg_write(cap + 12, 4, 4);
    EXPECT_EQ(driver.cfg_read(cap + 16, 4), 0x04030201u);
    // Misaligned or another BAR: nothing happens.
    driver.cfg_write(cap + 8, 4, 0x2001);
    driver.cfg_write(cap + 16, 4, 0xdeadbeef);
    EXPECT_EQ(device->config[1], 2);
    driver.cfg_write(cap + 8, 4, 0x14);
    driver.cfg_write(cap + 12, 4, 1);
    driver.cfg_write(cap + 4, 1, 1);
    driver.cfg_write(cap + 16, 1, 0);
    EXPECT_EQ(driver.status(), 3u);
    // It works with memory decoding off too.
    driver.cfg_write(cap + 4, 1, 0);
    driver.cfg_write(0x04, 2, 0);
    EXPECT_EQ(driver.cfg_read(cap + 16, 1), 3u);
}

TEST_F(VirtioPciFunctionTest, ReadOnlyRegionsIgnoreWrites) {
    driver.bring_up(~0ull, 2, 8);
    driver.mmio_write(driver.bar0 + 0x12, 2, 9);  // num_queues
    EXPECT_EQ(driver.common_read(0x12, 2), 2u);
    driver.mmio_write(driver.bar0 + 0x5000, 8, ~0ull);  // PBA
    EXPECT_EQ(driver.mmio_read(driver.bar0 + 0x5000, 8), 0u);
    driver.mmio_write(driver.bar0 + 0x7ff8, 8, ~0ull);  // unused
    EXPECT_EQ(driver.mmio_read(driver.bar0 + 0x7ff8, 8), 0u);
    EXPECT_EQ(driver.mmio_read(driver.bar0 + 0x3000, 4), 0u) << "notify reads 0";
}

}  // namespace
