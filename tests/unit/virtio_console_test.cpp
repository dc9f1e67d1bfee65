// virtio-console (dom0/devmodel/virtio_console.cpp) behind the PCI transport: output
// through the transmit queue to a sink, input from a source into receive buffers only
// as the driver provides them.
#include "dom0/devmodel/virtio_console.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "dom0/devmodel/device_machine.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::VirtioConsole;
using devmodel::VirtioPciFunction;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::Msi;
using virtio_test::VirtioTestDriver;

class FakeSource final : public devmodel::ByteSource {
public:
    size_t read_bytes(uint8_t* buf, size_t max) override {
        ++reads;
        size_t n = 0;
        while (n < max && !bytes.empty()) {
            buf[n++] = static_cast<uint8_t>(bytes.front());
            bytes.pop_front();
        }
        return n;
    }
    void add(const std::string& s) { bytes.insert(bytes.end(), s.begin(), s.end()); }
    std::deque<char> bytes;
    int reads = 0;
};

class StringSink final : public devmodel::ByteSink {
public:
    void write_bytes(const uint8_t* data, size_t len) override {
        text.append(reinterpret_cast<const char*>(data), len);
    }
    std::string text;
};

class VirtioConsoleTest : public ::testing::Test {
protected:
    VirtioConsoleTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), machine(kMmioBase) {
        auto c = std::make_unique<VirtioConsole>(source, sink);
        console = c.get();
        auto f = std::make_unique<VirtioPciFunction>(std::move(c), ram, msi,
                                                     [this](const std::string& line) { log.push_back(line); });
        function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(2, std::move(f), error)) << error;
    }
    // A receive buffer of `len` bytes; returns its address.
    uint64_t give_receive_buffer(uint32_t len) {
        const uint64_t at = driver.alloc(len);
        driver.add_chain(0, {{at, len, true}});
        return at;
    }
    std::string text(uint64_t gpa, size_t len) { return std::string(reinterpret_cast<const char*>(ram.at(gpa)), len); }

    FakeGuestMemory ram;
    virtio_test::RecordingMsiSink msi;
    std::vector<std::string> log;
    FakeSource source;
    StringSink sink;
    DeviceMachine machine;
    VirtioConsole* console = nullptr;
    VirtioPciFunction* function = nullptr;
    VirtioTestDriver driver{machine, ram, 2};
};

TEST_F(VirtioConsoleTest, OutputReachesTheSink) {
    driver.probe_pci();
    EXPECT_EQ(driver.cfg_read(0x02, 2), 0x1043u);
    EXPECT_EQ(driver.device_features(), (1ull << 32) | (1ull << 28)) << "no SIZE, MULTIPORT, EMERG_WRITE";
    driver.bring_up(~0ull, 2);
    EXPECT_EQ(driver.mmio_read(driver.at(4, 4), 4), 0u) << "max_nr_ports";
    const uint64_t a = driver.alloc(6), b = driver.alloc(6);
    std::memcpy(ram.at(a), "hello ", 6);
    std::memcpy(ram.at(b), "world\n", 6);
    const uint16_t head = driver.add_chain(1, {{a, 6, false}, {b, 6, false}});
    driver.kick(1);
    EXPECT_EQ(sink.text, "hello world\n");
    ASSERT_EQ(driver.used_idx(1), 1u);
    EXPECT_EQ(driver.used(1, 0), std::make_pair(uint32_t{head}, 0u));
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 2}));
}

TEST_F(VirtioConsoleTest, InputGoesIntoReceiveBuffersAsTheyCome) {
    driver.bring_up(~0ull, 2);
    source.add("abc");
    EXPECT_FALSE(console->wants_input()) << "no receive buffer yet";
    console->input_ready();
    EXPECT_EQ(source.reads, 0) << "nothing read without a buffer to put it in";

    const uint64_t first = give_receive_buffer(2);
    const uint64_t second = give_receive_buffer(16);
    EXPECT_TRUE(console->wants_input());
    driver.kick(0);  // new buffers: the device pulls input
    ASSERT_EQ(driver.used_idx(0), 2u);
    EXPECT_EQ(driver.used(0, 0).second, 2u);
    EXPECT_EQ(text(first, 2), "ab");
    EXPECT_EQ(driver.used(0, 1).second, 1u);
    EXPECT_EQ(text(second, 1), "c");
    ASSERT_EQ(msi.sent.size(), 1u) << "one interrupt for the batch";
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));
    EXPECT_FALSE(console->wants_input());

    const uint64_t third = give_receive_buffer(8);
    EXPECT_TRUE(console->wants_input());
    console->input_ready();
    EXPECT_EQ(driver.used_idx(0), 2u) << "the source is empty: the buffer stays with the device";
    source.add("xyz");
    console->input_ready();
    ASSERT_EQ(driver.used_idx(0), 3u);
    EXPECT_EQ(text(third, 3), "xyz");
}

TEST_F(VirtioConsoleTest, InputWaitsForTheDriverAndResetDropsIt) {
    driver.bring_up(~0ull, 2);
    source.add("0123456789");
    give_receive_buffer(4);
    driver.kick(0);
    EXPECT_EQ(driver.used_idx(0), 1u);
    EXPECT_TRUE(source.bytes.empty()) << "read in one chunk";
    EXPECT_FALSE(console->wants_input()) << "six bytes wait in the device";
    const uint64_t next = give_receive_buffer(16);
    driver.kick(0);
    ASSERT_EQ(driver.used_idx(0), 2u);
    EXPECT_EQ(text(next, 6), "456789");

    source.add("old input");
    give_receive_buffer(3);
    driver.kick(0);
    driver.queues.clear();
    driver.bring_up(~0ull, 2);
    source.bytes.clear();
    source.add("new");
    const uint64_t fresh = give_receive_buffer(16);
    driver.kick(0);
    ASSERT_EQ(driver.used_idx(0), 1u);
    EXPECT_EQ(driver.used(0, 0).second, 3u);
    EXPECT_EQ(text(fresh, 3), "new") << "what waited before the reset is gone";
}

TEST_F(VirtioConsoleTest, BadBuffersNeedAReset) {
    driver.bring_up(~0ull, 2);
    source.add("x");
    driver.add_chain(0, {{driver.alloc(4), 4, false}});
    driver.kick(0);
    EXPECT_EQ(function->device_status() & 0x40, 0x40);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find("receive buffer 0 has no device-writable bytes"), std::string::npos) << log[0];
    EXPECT_FALSE(console->wants_input());

    driver.queues.clear();
    driver.bring_up(~0ull, 2);
    driver.add_chain(1, {{virtio_test::kRamBase + virtio_test::kRamSize, 4, false}});
    driver.kick(1);
    EXPECT_EQ(function->device_status() & 0x40, 0x40);
    ASSERT_EQ(log.size(), 2u);
    EXPECT_NE(log[1].find("is not guest RAM"), std::string::npos) << log[1];
    EXPECT_TRUE(sink.text.empty());
}

}  // namespace
