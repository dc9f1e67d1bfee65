// virtio-balloon (dom0/devmodel/virtio_balloon.cpp) behind the PCI transport: the
// target in the configuration space, page frame numbers from the inflate and deflate
// queues to the listener, `actual` from the driver.
#include "dom0/devmodel/virtio_balloon.hpp"

#include <gtest/gtest.h>

#include "dom0/devmodel/device_machine.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::VirtioBalloon;
using devmodel::VirtioPciFunction;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::Msi;
using virtio_test::VirtioTestDriver;

class RecordingListener final : public devmodel::BalloonListener {
public:
    void pages_inflated(const uint32_t* pfns, size_t count) override {
        inflated.insert(inflated.end(), pfns, pfns + count);
        batches.push_back(count);
    }
    void pages_deflated(const uint32_t* pfns, size_t count) override {
        deflated.insert(deflated.end(), pfns, pfns + count);
    }
    void balloon_reset() override { ++resets; }
    void actual_changed(uint32_t pages) override { actuals.push_back(pages); }
    std::vector<uint32_t> inflated, deflated, actuals;
    std::vector<size_t> batches;
    int resets = 0;
};

class VirtioBalloonTest : public ::testing::Test {
protected:
    VirtioBalloonTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), machine(kMmioBase) {
        auto b = std::make_unique<VirtioBalloon>(listener);
        balloon = b.get();
        auto f = std::make_unique<VirtioPciFunction>(std::move(b), ram, msi,
                                                     [this](const std::string& line) { log.push_back(line); });
        function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(7, std::move(f), error)) << error;
    }
    // A buffer of PFNs first, first + 1, ...
    uint64_t pfn_array(uint32_t first, uint32_t count) {
        const uint64_t at = driver.alloc(4ull * count, 4);
        for (uint32_t i = 0; i < count; ++i) ram.put32(at + 4ull * i, first + i);
        return at;
    }

    FakeGuestMemory ram;
    virtio_test::RecordingMsiSink msi;
    std::vector<std::string> log;
    RecordingListener listener;
    DeviceMachine machine;
    VirtioBalloon* balloon = nullptr;
    VirtioPciFunction* function = nullptr;
    VirtioTestDriver driver{machine, ram, 7};
};

TEST_F(VirtioBalloonTest, TargetActualInflateAndDeflate) {
    driver.probe_pci();
    EXPECT_EQ(driver.cfg_read(0x02, 2), 0x1045u);
    EXPECT_EQ(driver.device_features(), (1ull << 32) | (1ull << 28) | 1u) << "MUST_TELL_HOST";
    driver.bring_up(~0ull, 2);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 0), 4), 0u);

    const uint64_t generation = driver.common_read(0x15, 1);
    balloon->set_target_pages(1000);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 0), 4), 1000u);
    EXPECT_EQ(driver.common_read(0x15, 1), generation + 1);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 0})) << "configuration change";

    // 300 pages in two buffers of one chain: the listener gets them in order, in batches.
    const uint64_t a = pfn_array(0x1000, 200), b = pfn_array(0x2000, 100);
    const uint16_t head = driver.add_chain(0, {{a, 800, false}, {b, 400, false}});
    driver.kick(0);
    ASSERT_EQ(listener.inflated.size(), 300u);
    EXPECT_EQ(listener.inflated[0], 0x1000u);
    EXPECT_EQ(listener.inflated[199], 0x1000u + 199);
    EXPECT_EQ(listener.inflated[200], 0x2000u);
    EXPECT_EQ(listener.batches, (std::vector<size_t>{256, 44}));
    EXPECT_EQ(driver.used(0, 0), std::make_pair(uint32_t{head}, 0u));
    ASSERT_EQ(msi.sent.size(), 2u);
    EXPECT_EQ(msi.sent[1], (Msi{kMsiAddress, kMsiDataBase + 1}));

    // The driver reports its balloon; num_pages is not the driver's to write.
    driver.mmio_write(driver.at(4, 4), 4, 300);
    driver.mmio_write(driver.at(4, 0), 4, 5);
    EXPECT_EQ(balloon->actual_pages(), 300u);
    EXPECT_EQ(listener.actuals, std::vector<uint32_t>{300});
    EXPECT_EQ(driver.mmio_read(driver.at(4, 0), 8), 300ull << 32 | 1000);

    driver.add_chain(1, {{pfn_array(0x1000, 2), 8, false}});
    driver.kick(1);
    EXPECT_EQ(listener.deflated, (std::vector<uint32_t>{0x1000, 0x1001}));
    EXPECT_EQ(driver.used_idx(1), 1u);
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioBalloonTest, APartialFrameNumberNeedsAReset) {
    driver.bring_up(~0ull, 2);
    driver.add_chain(0, {{pfn_array(1, 2), 6, false}});
    driver.kick(0);
    EXPECT_EQ(function->device_status() & 0x40, 0x40);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("holds 6 bytes, not whole 32-bit page frame numbers"), std::string::npos) << log[0];
    EXPECT_TRUE(listener.inflated.empty());
}

TEST_F(VirtioBalloonTest, ResetGivesEveryPageBack) {
    driver.bring_up(~0ull, 2);
    const int resets = listener.resets;
    balloon->set_target_pages(64);
    driver.mmio_write(driver.at(4, 4), 4, 64);
    driver.set_status(0);
    EXPECT_EQ(listener.resets, resets + 1);
    EXPECT_EQ(balloon->actual_pages(), 0u);
    EXPECT_EQ(balloon->target_pages(), 64u) << "the host's target stays";
    EXPECT_EQ(msi.sent.size(), 1u);
    balloon->set_target_pages(32);
    EXPECT_EQ(msi.sent.size(), 1u) << "no interrupt for a driver that is not running";
}

}  // namespace
