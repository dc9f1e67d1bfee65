// Save and restore of virtio PCI functions (dom0/devmodel/virtio_pci_function_state.cpp,
// virtio_function_state.cpp): a device driven as Linux drives it, saved, restored into a
// fresh device model over the same guest RAM, and driven on without a reset; and
// malformed states refused with the target left as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "dom0/devmodel/device_machine.hpp"
#include "dom0/devmodel/state_stream.hpp"
#include "dom0/devmodel/virtio_balloon.hpp"
#include "dom0/devmodel/virtio_blk.hpp"
#include "dom0/devmodel/virtio_console.hpp"
#include "dom0/devmodel/virtio_function_state.hpp"
#include "dom0/devmodel/virtio_net.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::StateIn;
using devmodel::StateOut;
using devmodel::VirtioBlk;
using devmodel::VirtioFunctionState;
using devmodel::VirtioNet;
using devmodel::VirtioPciFunction;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::MemoryDisk;
using virtio_test::Msi;
using virtio_test::RecordingMsiSink;
using virtio_test::VirtioTestDriver;

constexpr unsigned kSlot = 3;
constexpr size_t kDiskBytes = 1 << 20;

// The same disk seen by the old and the new device model (a file on Domain-0).
class SharedDisk final : public devmodel::BlockBackend {
public:
    explicit SharedDisk(MemoryDisk& disk) : disk_(disk) {}
    uint64_t size_bytes() const override { return disk_.size_bytes(); }
    bool read_only() const override { return disk_.read_only(); }
    bool read(uint64_t offset, void* dst, size_t len) override { return disk_.read(offset, dst, len); }
    bool write(uint64_t offset, const void* src, size_t len) override { return disk_.write(offset, src, len); }
    bool flush() override { return disk_.flush(); }

private:
    MemoryDisk& disk_;
};

class QueuedPort final : public devmodel::PacketPort {
public:
    bool send(const uint8_t* frame, size_t len) override {
        sent.emplace_back(frame, frame + len);
        return true;
    }
    size_t receive(uint8_t* buf, size_t capacity) override {
        if (inbound.empty()) return 0;
        std::vector<uint8_t> f = inbound.front();
        inbound.pop_front();
        std::memcpy(buf, f.data(), std::min(capacity, f.size()));
        return f.size();
    }
    std::deque<std::vector<uint8_t>> inbound;
    std::vector<std::vector<uint8_t>> sent;
};

// One device model process: a machine with one function at kSlot, its MSI sink and log.
struct Model {
    Model() : machine(kMmioBase) {}
    VirtioPciFunction* add(FakeGuestMemory& ram, std::unique_ptr<devmodel::VirtioDevice> device) {
        auto f = std::make_unique<VirtioPciFunction>(std::move(device), ram, msi,
                                                     [this](const std::string& line) { log.push_back(line); });
        function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(kSlot, std::move(f), error)) << error;
        return function;
    }
    DeviceMachine machine;
    RecordingMsiSink msi;
    std::vector<std::string> log;
    VirtioPciFunction* function = nullptr;
};

std::vector<uint8_t> save(const VirtioPciFunction& f) {
    StateOut out;
    std::string error;
    EXPECT_TRUE(f.save(out, error)) << error;
    return out.data();
}

VirtioFunctionState decode(const std::vector<uint8_t>& blob) {
    StateIn in(blob);
    VirtioFunctionState state;
    std::string error;
    EXPECT_TRUE(decode_function_state(in, state, error)) << error;
    EXPECT_TRUE(in.at_end("the function state")) << in.error();
    return state;
}

class VirtioStateTest : public ::testing::Test {
protected:
    VirtioStateTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), disk(kDiskBytes) {}

    VirtioPciFunction* add_blk(Model& m) {
        return m.add(ram, std::make_unique<VirtioBlk>(std::make_unique<SharedDisk>(disk), "vireo-disk-0"));
    }

    struct Request {
        uint16_t head;
        uint64_t data, status;
    };
    // A read or write of one sector, as virtblk_add_req builds it.
    Request blk_request(VirtioTestDriver& d, uint32_t type, uint64_t sector) {
        Request r;
        const uint64_t header = d.alloc(16);
        r.data = d.alloc(512);
        r.status = d.alloc(1, 1);
        ram.put32(header, type);
        ram.put32(header + 4, 0);
        ram.put64(header + 8, sector);
        *ram.at(r.status) = 0xee;
        r.head = d.add_chain(0, {{header, 16, false}, {r.data, 512, type == VirtioBlk::kTypeIn}, {r.status, 1, true}});
        return r;
    }

    FakeGuestMemory ram;
    MemoryDisk disk;
};

// virtio-blk: write and read through the rings, a request posted but not notified, a
// save; the new model finds the posted request, serves the next one, and signals the
// same MSI-X vector with the same message.
TEST_F(VirtioStateTest, BlkContinuesAfterRestoreWithoutReset) {
    Model old_model;
    add_blk(old_model);
    VirtioTestDriver driver(old_model.machine, ram, kSlot);
    driver.bring_up(~0ull, 1);
    const Request w = blk_request(driver, VirtioBlk::kTypeOut, 5);
    std::memset(ram.at(w.data), 0x5a, 512);
    driver.kick(0);
    ASSERT_EQ(driver.used_idx(0), 1u);
    ASSERT_EQ(*ram.at(w.status), VirtioBlk::kStatusOk);
    ASSERT_EQ(old_model.msi.sent.size(), 1u);
    EXPECT_EQ(old_model.msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));
    // Posted, not notified: the domain is paused before its doorbell reaches the model.
    const Request posted = blk_request(driver, VirtioBlk::kTypeIn, 5);

    const std::vector<uint8_t> blob = save(*old_model.function);
    const uint8_t status = old_model.function->device_status();

    Model new_model;
    VirtioPciFunction* restored = add_blk(new_model);
    std::string error;
    ASSERT_TRUE(restored->restore(decode(blob), error)) << error;
    EXPECT_EQ(restored->device_status(), status);
    EXPECT_EQ(restored->bar0_base(), old_model.function->bar0_base());
    EXPECT_TRUE(restored->bar0_enabled());
    EXPECT_TRUE(new_model.msi.sent.empty());

    restored->resume();
    EXPECT_EQ(driver.used_idx(0), 2u);
    EXPECT_EQ(driver.used(0, 1).first, posted.head);
    EXPECT_EQ(*ram.at(posted.status), VirtioBlk::kStatusOk);
    EXPECT_EQ(*ram.at(posted.data + 100), 0x5a);
    ASSERT_EQ(new_model.msi.sent.size(), 1u);
    EXPECT_EQ(new_model.msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));

    // The same driver, no reset: the next request, through the restored BAR and doorbell.
    VirtioTestDriver same_driver(new_model.machine, ram, kSlot);
    same_driver.adopt(driver);
    EXPECT_EQ(same_driver.status(), status);
    const Request next = blk_request(same_driver, VirtioBlk::kTypeIn, 6);
    same_driver.kick(0);
    EXPECT_EQ(same_driver.used_idx(0), 3u);
    EXPECT_EQ(same_driver.used(0, 2).first, next.head);
    EXPECT_EQ(*ram.at(next.status), VirtioBlk::kStatusOk);
    EXPECT_EQ(std::memcmp(ram.at(next.data), disk.bytes().data() + size_t{6} * 512, 512), 0);
    ASSERT_EQ(new_model.msi.sent.size(), 2u);
    EXPECT_EQ(new_model.msi.sent[1], (Msi{kMsiAddress, kMsiDataBase + 1}));
    EXPECT_TRUE(new_model.log.empty());
}

// The encoding is stable: decode(encode(x)) re-encodes to the same bytes.
TEST_F(VirtioStateTest, EncodingRoundTrips) {
    Model m;
    add_blk(m);
    VirtioTestDriver driver(m.machine, ram, kSlot);
    driver.bring_up(~0ull, 1);
    const std::vector<uint8_t> blob = save(*m.function);
    StateOut again;
    encode_function_state(decode(blob), again);
    EXPECT_EQ(again.data(), blob);
}

// virtio-net holds a popped receive buffer while no frame waits: the save gives it back
// (last_avail_idx - 1), and the restored device fills it with the next frame.
TEST_F(VirtioStateTest, NetHeldReceiveBufferIsGivenBack) {
    const devmodel::MacAddress mac{0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c};
    QueuedPort old_port;
    Model old_model;
    old_model.add(ram, std::make_unique<VirtioNet>(old_port, mac));
    VirtioTestDriver driver(old_model.machine, ram, kSlot);
    driver.bring_up(~0ull, 2);
    const uint64_t rx = driver.alloc(2048);
    const uint16_t head = driver.add_chain(VirtioNet::kReceiveQueue, {{rx, 2048, true}});
    driver.kick(VirtioNet::kReceiveQueue);
    ASSERT_EQ(driver.used_idx(VirtioNet::kReceiveQueue), 0u);

    const VirtioFunctionState state = decode(save(*old_model.function));
    EXPECT_EQ(state.queues[VirtioNet::kReceiveQueue].last_avail_idx, 0u);

    QueuedPort new_port;
    new_port.inbound.push_back(std::vector<uint8_t>(60, 0xab));
    Model new_model;
    new_model.add(ram, std::make_unique<VirtioNet>(new_port, mac));
    std::string error;
    ASSERT_TRUE(new_model.function->restore(state, error)) << error;
    new_model.function->resume();
    EXPECT_EQ(driver.used_idx(VirtioNet::kReceiveQueue), 1u);
    EXPECT_EQ(driver.used(VirtioNet::kReceiveQueue, 0).first, head);
    EXPECT_EQ(driver.used(VirtioNet::kReceiveQueue, 0).second, VirtioNet::kHeaderBytes + 60);
    EXPECT_EQ(*ram.at(rx + VirtioNet::kHeaderBytes), 0xab);
    ASSERT_EQ(new_model.msi.sent.size(), 1u);
    EXPECT_EQ(new_model.msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1 + VirtioNet::kReceiveQueue}));

    // Another MAC is another NIC: refused.
    QueuedPort other_port;
    Model other;
    other.add(ram, std::make_unique<VirtioNet>(other_port, devmodel::MacAddress{0x00, 0x16, 0x3e, 0, 0, 1}));
    EXPECT_FALSE(other.function->restore(state, error));
    EXPECT_NE(error.find("MAC"), std::string::npos) << error;
}

class NullListener final : public devmodel::BalloonListener {
public:
    void pages_inflated(const uint32_t*, size_t) override {}
    void pages_deflated(const uint32_t*, size_t) override {}
    void balloon_reset() override {}
    void actual_changed(uint32_t pages) override { actual = pages; }
    uint32_t actual = 0;
};

TEST_F(VirtioStateTest, BalloonKeepsTargetAndActual) {
    NullListener old_listener;
    Model old_model;
    auto balloon = std::make_unique<devmodel::VirtioBalloon>(old_listener);
    devmodel::VirtioBalloon* b = balloon.get();
    old_model.add(ram, std::move(balloon));
    VirtioTestDriver driver(old_model.machine, ram, kSlot);
    driver.bring_up(~0ull, 2);
    b->set_target_pages(300);
    driver.mmio_write(driver.at(4, 4), 4, 120);  // actual
    const std::vector<uint8_t> blob = save(*old_model.function);

    NullListener new_listener;
    Model new_model;
    auto balloon2 = std::make_unique<devmodel::VirtioBalloon>(new_listener);
    devmodel::VirtioBalloon* b2 = balloon2.get();
    new_model.add(ram, std::move(balloon2));
    std::string error;
    ASSERT_TRUE(new_model.function->restore(decode(blob), error)) << error;
    EXPECT_EQ(b2->target_pages(), 300u);
    EXPECT_EQ(b2->actual_pages(), 120u);
    EXPECT_EQ(new_listener.actual, 120u);
    EXPECT_EQ(new_model.function->config_generation(), old_model.function->config_generation());
}

// Each malformed state is refused with a message, and the target function saves to the
// same bytes afterwards as before: nothing changed.
TEST_F(VirtioStateTest, MalformedStatesAreRefusedAndChangeNothing) {
    Model source;
    add_blk(source);
    VirtioTestDriver driver(source.machine, ram, kSlot);
    driver.bring_up(~0ull, 1);
    const VirtioFunctionState good = decode(save(*source.function));

    Model target;
    add_blk(target);
    const std::vector<uint8_t> before = save(*target.function);

    struct Case {
        const char* name;
        void (*mutate)(VirtioFunctionState&);
        const char* says;
    };
    const Case cases[] = {
        {"queue size not a power of two", [](VirtioFunctionState& s) { s.queues[0].size = 3; }, "power of two"},
        {"queue size above the maximum", [](VirtioFunctionState& s) { s.queues[0].size = 1024; }, "power of two"},
        {"descriptor table outside RAM", [](VirtioFunctionState& s) { s.queues[0].desc = 0x40000000; },
         "not guest RAM"},
        {"used ring misaligned", [](VirtioFunctionState& s) { s.queues[0].device += 2; }, "misaligned"},
        {"feature not offered", [](VirtioFunctionState& s) { s.driver_features |= 1ull << 20; }, "offer"},
        {"queue vector beyond the table", [](VirtioFunctionState& s) { s.queues[0].msix_vector = 9; }, "vector"},
        {"msix_config beyond the table", [](VirtioFunctionState& s) { s.msix_config = 2; }, "msix_config"},
        {"undefined status bit", [](VirtioFunctionState& s) { s.device_status |= 0x20; }, "device_status"},
        {"request in flight", [](VirtioFunctionState& s) { ++s.queues[0].last_avail_idx; }, "in flight"},
        {"another device type", [](VirtioFunctionState& s) { s.device_id = devmodel::kVirtioIdNet; }, "type"},
        {"another queue count", [](VirtioFunctionState& s) { s.queues.push_back(s.queues[0]); }, "queues"},
        {"BAR0 low bits", [](VirtioFunctionState& s) { s.bar0 |= 0x10; }, "BAR0"},
        {"MSI-X entry reserved bits", [](VirtioFunctionState& s) { s.msix_table[1].control = 2; }, "MSI-X entry"},
        {"device record not empty", [](VirtioFunctionState& s) { s.device_state = {1}; }, "virtio-blk"},
    };
    for (const Case& c : cases) {
        VirtioFunctionState bad = good;
        c.mutate(bad);
        std::string error;
        EXPECT_FALSE(target.function->restore(bad, error)) << c.name;
        EXPECT_NE(error.find(c.says), std::string::npos) << c.name << ": " << error;
        EXPECT_EQ(save(*target.function), before) << c.name;
    }
    std::string error;
    EXPECT_TRUE(target.function->restore(good, error)) << error;
}

TEST_F(VirtioStateTest, MalformedEncodingsAreRefused) {
    Model m;
    add_blk(m);
    const std::vector<uint8_t> blob = save(*m.function);
    VirtioFunctionState state;
    std::string error;
    for (size_t cut = 0; cut < blob.size(); cut += 7) {
        StateIn in(blob.data(), cut);
        EXPECT_FALSE(decode_function_state(in, state, error)) << cut;
        EXPECT_NE(error.find("ends inside"), std::string::npos) << error;
    }
    std::vector<uint8_t> bad = blob;
    bad[0] ^= 1;
    StateIn magic(bad);
    EXPECT_FALSE(decode_function_state(magic, state, error));
    EXPECT_NE(error.find("magic"), std::string::npos) << error;
    bad = blob;
    bad[4] = 2;
    StateIn version(bad);
    EXPECT_FALSE(decode_function_state(version, state, error));
    EXPECT_NE(error.find("version"), std::string::npos) << error;
}

// The whole device model: one blob for every slot; a blob for other slots, or one cut
// short, is refused and the machine keeps its state.
TEST_F(VirtioStateTest, MachineBlobRestoresEverySlotOrNothing) {
    Model source;
    add_blk(source);
    VirtioTestDriver driver(source.machine, ram, kSlot);
    driver.bring_up(~0ull, 1);
    StateOut out;
    std::string error;
    ASSERT_TRUE(source.machine.save(out, error)) << error;
    const std::vector<uint8_t>& blob = out.data();

    Model target;
    add_blk(target);
    StateOut before;
    ASSERT_TRUE(target.machine.save(before, error));
    EXPECT_FALSE(target.machine.restore(blob.data(), blob.size() - 1, error));
    EXPECT_NE(error.find("ends inside"), std::string::npos) << error;
    std::vector<uint8_t> extra = blob;
    extra.push_back(0);
    EXPECT_FALSE(target.machine.restore(extra.data(), extra.size(), error));
    EXPECT_NE(error.find("after the end"), std::string::npos) << error;
    StateOut unchanged;
    ASSERT_TRUE(target.machine.save(unchanged, error));
    EXPECT_EQ(unchanged.data(), before.data());

    Model elsewhere;
    auto f = std::make_unique<VirtioPciFunction>(std::make_unique<VirtioBlk>(std::make_unique<SharedDisk>(disk), "d"),
                                                 ram, elsewhere.msi, [](const std::string&) {});
    ASSERT_TRUE(elsewhere.machine.add(kSlot + 1, std::move(f), error)) << error;
    EXPECT_FALSE(elsewhere.machine.restore(blob.data(), blob.size(), error));
    EXPECT_NE(error.find("slot"), std::string::npos) << error;

    ASSERT_TRUE(target.machine.restore(blob.data(), blob.size(), error)) << error;
    target.machine.resume();
    VirtioTestDriver same_driver(target.machine, ram, kSlot);
    same_driver.adopt(driver);
    const Request r = blk_request(same_driver, VirtioBlk::kTypeIn, 7);
    same_driver.kick(0);
    EXPECT_EQ(same_driver.used_idx(0), 1u);
    EXPECT_EQ(*ram.at(r.status), VirtioBlk::kStatusOk);
    ASSERT_EQ(target.msi.sent.size(), 1u);
    EXPECT_EQ(target.msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));
}

class ScriptedSource final : public devmodel::ByteSource {
public:
    size_t read_bytes(uint8_t* buf, size_t max) override {
        const size_t n = std::min(max, bytes.size());
        std::memcpy(buf, bytes.data(), n);
        bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
    }
    std::vector<uint8_t> bytes;
};

class NullSink final : public devmodel::ByteSink {
public:
    void write_bytes(const uint8_t*, size_t) override {}
};

// virtio-console: input read from the pty but not yet delivered travels with the state.
TEST_F(VirtioStateTest, ConsoleKeepsUndeliveredInput) {
    ScriptedSource old_source;
    NullSink sink;
    old_source.bytes = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
    Model old_model;
    old_model.add(ram, std::make_unique<devmodel::VirtioConsole>(old_source, sink));
    VirtioTestDriver driver(old_model.machine, ram, kSlot);
    driver.bring_up(~0ull, 2);
    const uint64_t first = driver.alloc(4);
    driver.add_chain(devmodel::VirtioConsole::kReceiveQueue, {{first, 4, true}});
    driver.kick(devmodel::VirtioConsole::kReceiveQueue);
    ASSERT_EQ(driver.used_idx(devmodel::VirtioConsole::kReceiveQueue), 1u);
    ASSERT_TRUE(old_source.bytes.empty());
    const std::vector<uint8_t> blob = save(*old_model.function);

    ScriptedSource new_source;
    Model new_model;
    new_model.add(ram, std::make_unique<devmodel::VirtioConsole>(new_source, sink));
    std::string error;
    ASSERT_TRUE(new_model.function->restore(decode(blob), error)) << error;
    new_model.function->resume();
    VirtioTestDriver same_driver(new_model.machine, ram, kSlot);
    same_driver.adopt(driver);
    const uint64_t second = same_driver.alloc(16);
    same_driver.add_chain(devmodel::VirtioConsole::kReceiveQueue, {{second, 16, true}});
    same_driver.kick(devmodel::VirtioConsole::kReceiveQueue);
    ASSERT_EQ(same_driver.used_idx(devmodel::VirtioConsole::kReceiveQueue), 2u);
    EXPECT_EQ(same_driver.used(devmodel::VirtioConsole::kReceiveQueue, 1).second, 7u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ram.at(second)), 7), "o world");
}

// A message that waited as a pending bit behind a masked vector is sent by the restored
// function when the driver unmasks the vector, to the address and data it programmed.
TEST_F(VirtioStateTest, PendingMsixMessageSurvivesRestore) {
    Model old_model;
    add_blk(old_model);
    VirtioTestDriver driver(old_model.machine, ram, kSlot);
    driver.bring_up(~0ull, 1);
    driver.mmio_write(driver.msix_table + 16 + 12, 4, 1);  // mask vector 1
    blk_request(driver, VirtioBlk::kTypeIn, 1);
    driver.kick(0);
    ASSERT_EQ(driver.used_idx(0), 1u);
    ASSERT_TRUE(old_model.msi.sent.empty());
    const VirtioFunctionState state = decode(save(*old_model.function));
    EXPECT_TRUE(state.msix_pending[1]);

    Model new_model;
    add_blk(new_model);
    std::string error;
    ASSERT_TRUE(new_model.function->restore(state, error)) << error;
    new_model.function->resume();
    EXPECT_TRUE(new_model.msi.sent.empty()) << "still masked";
    VirtioTestDriver same_driver(new_model.machine, ram, kSlot);
    same_driver.adopt(driver);
    same_driver.mmio_write(same_driver.msix_table + 16 + 12, 4, 0);
    ASSERT_EQ(new_model.msi.sent.size(), 1u);
    EXPECT_EQ(new_model.msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));
}

}  // namespace
