// virtio-net (dom0/devmodel/virtio_net.cpp) behind the PCI transport, driven as Linux's
// virtio_net does it without offloads: frames behind a 12-byte header in the transmit
// queue, receive buffers posted for the device to fill. The port is a queue of frames.
// Two NICs sit side by side so that every hostile chain also shows that it stops only
// its own device.
#include "dom0/devmodel/virtio_net.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "dom0/devmodel/device_machine.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::MacAddress;
using devmodel::VirtioNet;
using devmodel::VirtioPciFunction;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::Msi;
using virtio_test::VirtioTestDriver;

using Frame = std::vector<uint8_t>;

constexpr uint64_t kAllFeatures = ~0ull;
constexpr uint16_t kRx = VirtioNet::kReceiveQueue;
constexpr uint16_t kTx = VirtioNet::kTransmitQueue;
constexpr uint32_t kHeader = VirtioNet::kHeaderBytes;
// What Linux posts without offloads: the header and a 1514-byte frame (5.1.6.3).
constexpr uint32_t kRxBufferBytes = 1526;
const MacAddress kMac = {0x00, 0x16, 0x3e, 0x01, 0x02, 0x03};

class FakePort final : public devmodel::PacketPort {
public:
    bool send(const uint8_t* frame, size_t len) override {
        if (refuse) return false;
        sent.emplace_back(frame, frame + len);
        return true;
    }
    size_t receive(uint8_t* buf, size_t capacity) override {
        ++reads;
        if (inbound.empty()) return 0;
        const Frame f = std::move(inbound.front());
        inbound.pop_front();
        std::memcpy(buf, f.data(), std::min(f.size(), capacity));
        return f.size();  // the whole length, even when cut short
    }
    std::deque<Frame> inbound;
    std::vector<Frame> sent;
    bool refuse = false;
    int reads = 0;
};

// A frame of `len` bytes whose contents depend on `seed`.
Frame frame(size_t len, uint8_t seed) {
    Frame f(len);
    for (size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(seed + i * 13 + i / 256);
    return f;
}

// One NIC on the bus, its port and its driver.
struct Nic {
    FakePort* port = nullptr;
    VirtioNet* net = nullptr;
    VirtioPciFunction* function = nullptr;
    std::unique_ptr<VirtioTestDriver> driver;
};

class VirtioNetTest : public ::testing::Test {
protected:
    VirtioNetTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), machine(kMmioBase) {}

    Nic add_nic(unsigned slot, uint16_t mtu = VirtioNet::kDefaultMtu) {
        Nic n;
        n.port = &ports.emplace_back();
        auto net = std::make_unique<VirtioNet>(*n.port, kMac, mtu);
        n.net = net.get();
        auto f = std::make_unique<VirtioPciFunction>(std::move(net), ram, msi,
                                                     [this](const std::string& line) { log.push_back(line); });
        n.function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(slot, std::move(f), error)) << error;
        n.driver = std::make_unique<VirtioTestDriver>(machine, ram, slot);
        return n;
    }

    // As Linux's xmit_skb with VERSION_1: a zeroed header pushed in front of the frame,
    // one readable buffer. Returns the head.
    uint16_t transmit(VirtioTestDriver& drv, const Frame& f) {
        const uint64_t at = drv.alloc(kHeader + f.size());
        std::memset(ram.at(at), 0, kHeader);
        if (!f.empty()) std::memcpy(ram.at(at + kHeader), f.data(), f.size());
        return drv.add_chain(kTx, {{at, static_cast<uint32_t>(kHeader + f.size()), false}});
    }
    // A receive buffer of `len` device-writable bytes in one descriptor, as Linux's
    // add_recvbuf_small; returns its address.
    uint64_t post_receive(VirtioTestDriver& drv, uint32_t len = kRxBufferBytes) {
        const uint64_t at = drv.alloc(len);
        std::memset(ram.at(at), 0xcc, len);
        drv.add_chain(kRx, {{at, len, true}});
        return at;
    }
    // The header a received frame gets (5.1.6.4.1): all zero but num_buffers = 1.
    void expect_receive_header(uint64_t at) {
        for (uint32_t i = 0; i < VirtioNet::kNumBuffersOffset; ++i) EXPECT_EQ(*ram.at(at + i), 0) << "byte " << i;
        EXPECT_EQ(ram.le16(at + VirtioNet::kNumBuffersOffset), 1u) << "num_buffers";
    }
    Frame bytes(uint64_t at, size_t len) { return Frame(ram.at(at), ram.at(at) + len); }
    bool needs_reset(Nic& n) { return (n.function->device_status() & 0x40) != 0; }

    // NIC `n` still sends a frame and receives one.
    void expect_working(Nic& n) {
        VirtioTestDriver& drv = *n.driver;
        const Frame out = frame(80, 0x5a);
        const uint16_t tx_before = drv.used_idx(kTx);
        transmit(drv, out);
        drv.kick(kTx);
        ASSERT_EQ(drv.used_idx(kTx), tx_before + 1);
        ASSERT_FALSE(n.port->sent.empty());
        EXPECT_EQ(n.port->sent.back(), out);

        const Frame in = frame(90, 0xa5);
        const uint16_t rx_before = drv.used_idx(kRx);
        const uint64_t at = post_receive(drv);
        n.port->inbound.push_back(in);
        drv.kick(kRx);
        ASSERT_EQ(drv.used_idx(kRx), rx_before + 1);
        EXPECT_EQ(drv.used(kRx, rx_before).second, kHeader + 90);
        EXPECT_EQ(bytes(at + kHeader, in.size()), in);
        EXPECT_FALSE(needs_reset(n));
    }

    FakeGuestMemory ram;
    virtio_test::RecordingMsiSink msi;
    std::vector<std::string> log;
    std::deque<FakePort> ports;  // before the machine: its devices use them
    DeviceMachine machine;
};

TEST_F(VirtioNetTest, FeaturesAndConfigurationSpace) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.probe_pci();
    EXPECT_EQ(drv.cfg_read(0x02, 2), 0x1041u);
    EXPECT_EQ(drv.cfg_read(0x2e, 2), 1u) << "subsystem: the virtio device ID";
    EXPECT_EQ(drv.cfg_read(0x08, 4) >> 8, 0x020000u) << "network controller, Ethernet";
    // VERSION_1 and INDIRECT_DESC from the transport; MTU, MAC, STATUS; no offloads, no
    // MRG_RXBUF, no control queue, no multiqueue.
    EXPECT_EQ(drv.device_features(), (1ull << 32) | (1ull << 28) | (1u << 3) | (1u << 5) | (1u << 16));
    drv.bring_up(kAllFeatures, 2);
    ASSERT_EQ(drv.status(), 0xf);
    EXPECT_EQ(drv.common_read(0x12, 2), 2u) << "num_queues: receiveq1 and transmitq1";
    for (uint16_t q : {kRx, kTx}) {
        drv.common_write(0x16, 2, q);
        EXPECT_EQ(drv.common_read(0x18, 2), 256u);
    }
    // struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu.
    EXPECT_EQ(drv.caps.at(4).length, 12u);
    for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(drv.mmio_read(drv.at(4, i), 1), kMac[i]) << "mac byte " << i;
    EXPECT_EQ(drv.mmio_read(drv.at(4, 6), 2), 1u) << "VIRTIO_NET_S_LINK_UP";
    EXPECT_EQ(drv.mmio_read(drv.at(4, 8), 2), 1u);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 10), 2), 1500u);
    drv.mmio_write(drv.at(4, 0), 4, 0xffffffff);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 0), 1), kMac[0]) << "driver-read-only";
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioNetTest, MtuIsOfferedWithinItsRange) {
    Nic jumbo = add_nic(3, 9000);
    jumbo.driver->bring_up(kAllFeatures, 2);
    EXPECT_EQ(jumbo.driver->mmio_read(jumbo.driver->at(4, 10), 2), 9000u);
    FakePort port;
    EXPECT_EQ(VirtioNet(port, kMac, 20).mtu(), 68) << "5.1.4.1: at least 68";
    EXPECT_EQ(VirtioNet(port, kMac, 65535).mtu(), 65532) << "a tagged frame of that MTU fits kMaxFrameBytes";
}

TEST_F(VirtioNetTest, LinkChangesAreConfigurationChanges) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    ASSERT_TRUE(msi.sent.empty());
    const uint8_t generation = n.function->config_generation();
    n.net->set_link_up(false);
    EXPECT_FALSE(n.net->link_up());
    EXPECT_EQ(drv.mmio_read(drv.at(4, 6), 2), 0u);
    EXPECT_NE(n.function->config_generation(), generation);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 0})) << "configuration change vector";
    n.net->set_link_up(false);
    EXPECT_EQ(msi.sent.size(), 1u) << "no change, no notification";
    n.net->set_link_up(true);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 6), 2), 1u);
    EXPECT_EQ(msi.sent.size(), 2u);
}

TEST_F(VirtioNetTest, TransmittedFramesReachThePortWithoutTheHeader) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    const Frame a = frame(60, 1), b = frame(1514, 2), c = frame(100, 3);
    // Header and frame in one buffer.
    const uint16_t ha = transmit(drv, a);
    // Header and frame in buffers of their own.
    const uint64_t hb = drv.alloc(kHeader), fb = drv.alloc(b.size());
    std::memset(ram.at(hb), 0, kHeader);
    std::memcpy(ram.at(fb), b.data(), b.size());
    const uint16_t hdb = drv.add_chain(kTx, {{hb, kHeader, false}, {fb, static_cast<uint32_t>(b.size()), false}});
    // Through an indirect table, the header split 4 + 8 and the frame 30 + 70.
    const uint64_t hc = drv.alloc(kHeader), fc = drv.alloc(c.size());
    std::memset(ram.at(hc), 0, kHeader);
    std::memcpy(ram.at(fc), c.data(), c.size());
    const uint16_t hdc =
        drv.add_indirect_chain(kTx, {{hc, 4, false}, {hc + 4, 8, false}, {fc, 30, false}, {fc + 30, 70, false}});
    drv.kick(kTx);

    ASSERT_EQ(n.port->sent.size(), 3u);
    EXPECT_EQ(n.port->sent[0], a);
    EXPECT_EQ(n.port->sent[1], b);
    EXPECT_EQ(n.port->sent[2], c);
    ASSERT_EQ(drv.used_idx(kTx), 3u);
    EXPECT_EQ(drv.used(kTx, 0), std::make_pair(uint32_t{ha}, 0u)) << "nothing written into a transmit buffer";
    EXPECT_EQ(drv.used(kTx, 1), std::make_pair(uint32_t{hdb}, 0u));
    EXPECT_EQ(drv.used(kTx, 2), std::make_pair(uint32_t{hdc}, 0u));
    ASSERT_EQ(msi.sent.size(), 1u) << "one interrupt for the batch";
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 2})) << "transmitq1's vector";
    EXPECT_EQ(n.net->counters().tx_frames, 3u);
    EXPECT_EQ(n.net->counters().tx_dropped, 0u);
    EXPECT_EQ(n.port->reads, 0) << "transmitting reads nothing from the port";
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioNetTest, FramesThePortRefusesOrTooShortForEthernetAreLost) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    n.port->refuse = true;
    transmit(drv, frame(60, 1));
    drv.kick(kTx);
    n.port->refuse = false;
    transmit(drv, frame(13, 2));  // one byte short of an Ethernet header
    transmit(drv, Frame{});       // the header alone
    transmit(drv, frame(14, 3));  // the shortest frame passed on
    drv.kick(kTx);
    EXPECT_EQ(drv.used_idx(kTx), 4u) << "every buffer goes back to the driver";
    ASSERT_EQ(n.port->sent.size(), 1u);
    EXPECT_EQ(n.port->sent[0], frame(14, 3));
    EXPECT_EQ(n.net->counters().tx_dropped, 3u);
    EXPECT_EQ(n.net->counters().tx_frames, 1u);
    EXPECT_FALSE(needs_reset(n)) << "a lost frame, not a driver error";
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioNetTest, ReceivedFramesLandInPostedBuffers) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    const uint64_t at = post_receive(drv);
    // A buffer as older drivers post it: the header in a descriptor of its own.
    const uint64_t split_header = drv.alloc(kHeader), split_data = drv.alloc(1514);
    const uint16_t split_head = drv.add_chain(kRx, {{split_header, kHeader, true}, {split_data, 1514, true}});
    drv.kick(kRx);
    EXPECT_EQ(drv.used_idx(kRx), 0u) << "no frame yet";
    EXPECT_TRUE(msi.sent.empty());

    const Frame a = frame(98, 7), b = frame(1514, 8);
    n.port->inbound = {a, b};
    EXPECT_TRUE(n.net->wants_frames());
    n.net->frames_ready();
    ASSERT_EQ(drv.used_idx(kRx), 2u);
    EXPECT_EQ(drv.used(kRx, 0), std::make_pair(0u, kHeader + 98)) << "header and frame";
    expect_receive_header(at);
    EXPECT_EQ(bytes(at + kHeader, a.size()), a);
    EXPECT_EQ(*ram.at(at + kHeader + a.size()), 0xcc) << "nothing written past the frame";
    EXPECT_EQ(drv.used(kRx, 1), std::make_pair(uint32_t{split_head}, kHeader + 1514));
    expect_receive_header(split_header);
    EXPECT_EQ(bytes(split_data, b.size()), b);
    ASSERT_EQ(msi.sent.size(), 1u) << "one interrupt for the batch";
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1})) << "receiveq1's vector";
    EXPECT_EQ(n.net->counters().rx_frames, 2u);
    EXPECT_FALSE(n.net->wants_frames()) << "no buffer left";
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioNetTest, FramesWaitInThePortUntilTheDriverPostsABuffer) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    n.port->inbound.push_back(frame(64, 1));
    drv.bring_up(kAllFeatures, 2);
    EXPECT_FALSE(n.net->wants_frames());
    n.net->frames_ready();
    EXPECT_EQ(n.port->reads, 0) << "nothing read without a buffer to put it in";
    EXPECT_EQ(n.port->inbound.size(), 1u);
    EXPECT_TRUE(msi.sent.empty());

    const uint64_t at = post_receive(drv);
    EXPECT_TRUE(n.net->wants_frames()) << "a buffer, not yet notified";
    drv.kick(kRx);  // new buffers: the device pulls frames
    ASSERT_EQ(drv.used_idx(kRx), 1u);
    EXPECT_EQ(bytes(at + kHeader, 64), frame(64, 1));
    EXPECT_TRUE(n.port->inbound.empty());
    EXPECT_FALSE(n.net->wants_frames());
    EXPECT_EQ(msi.sent.size(), 1u);
}

TEST_F(VirtioNetTest, APostedBufferWaitsForTheNextFrame) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    const uint64_t at = post_receive(drv);
    drv.kick(kRx);
    n.net->frames_ready();
    EXPECT_EQ(drv.used_idx(kRx), 0u) << "not returned empty";
    EXPECT_TRUE(n.net->wants_frames()) << "the device holds the buffer";
    n.port->inbound.push_back(frame(200, 4));
    n.net->frames_ready();
    ASSERT_EQ(drv.used_idx(kRx), 1u);
    EXPECT_EQ(drv.used(kRx, 0).second, kHeader + 200);
    EXPECT_EQ(bytes(at + kHeader, 200), frame(200, 4));
    EXPECT_FALSE(n.net->wants_frames());
}

TEST_F(VirtioNetTest, FramesLargerThanTheBufferOrTheMtuAreDroppedAndCounted) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    const uint64_t small = post_receive(drv, kHeader + 100);
    n.port->inbound = {frame(101, 1), frame(70000, 2), frame(100, 3)};
    drv.kick(kRx);
    ASSERT_EQ(drv.used_idx(kRx), 1u) << "the buffer waited for the frame that fits";
    EXPECT_EQ(drv.used(kRx, 0).second, kHeader + 100);
    EXPECT_EQ(bytes(small + kHeader, 100), frame(100, 3));
    EXPECT_EQ(n.net->counters().rx_dropped, 2u);
    EXPECT_EQ(n.net->counters().rx_frames, 1u);

    // MTU 1500 negotiated: an Ethernet header (with a VLAN tag) and 1500 bytes at most,
    // whatever room the buffer has.
    const uint64_t big = post_receive(drv, 4096);
    n.port->inbound = {frame(1519, 4), frame(1518, 5)};
    n.net->frames_ready();
    ASSERT_EQ(drv.used_idx(kRx), 2u);
    EXPECT_EQ(drv.used(kRx, 1).second, kHeader + 1518);
    EXPECT_EQ(bytes(big + kHeader, 1518), frame(1518, 5));
    EXPECT_EQ(n.net->counters().rx_dropped, 3u);
    EXPECT_FALSE(needs_reset(n));
    EXPECT_TRUE(log.empty());

    // Without VIRTIO_NET_F_MTU only the buffer's size counts.
    Nic plain = add_nic(4);
    plain.driver->bring_up(kAllFeatures & ~VirtioNet::kFMtu, 2);
    const uint64_t at = post_receive(*plain.driver, 4096);
    plain.port->inbound = {frame(1519, 6)};
    plain.driver->kick(kRx);
    ASSERT_EQ(plain.driver->used_idx(kRx), 1u);
    EXPECT_EQ(bytes(at + kHeader, 1519), frame(1519, 6));
    EXPECT_EQ(plain.net->counters().rx_dropped, 0u);
}

TEST_F(VirtioNetTest, AFloodOfFramesIsReadAQueueAtATime) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    post_receive(drv, kHeader + 64);
    for (int i = 0; i < 300; ++i) n.port->inbound.push_back(frame(65, 1));  // none fits
    drv.kick(kRx);
    EXPECT_EQ(n.port->reads, 256) << "a queue's worth of frames per call";
    EXPECT_EQ(n.port->inbound.size(), 44u);
    EXPECT_EQ(n.net->counters().rx_dropped, 256u);
    EXPECT_TRUE(n.net->wants_frames());
    n.net->frames_ready();
    EXPECT_TRUE(n.port->inbound.empty());
    EXPECT_EQ(n.net->counters().rx_dropped, 300u);
    n.port->inbound.push_back(frame(64, 2));
    n.net->frames_ready();
    ASSERT_EQ(drv.used_idx(kRx), 1u);
}

TEST_F(VirtioNetTest, AResetForgetsTheBufferTheDeviceHeld) {
    Nic n = add_nic(3);
    VirtioTestDriver& drv = *n.driver;
    drv.bring_up(kAllFeatures, 2);
    const uint64_t old = post_receive(drv);
    drv.kick(kRx);
    ASSERT_TRUE(n.net->wants_frames());
    drv.queues.clear();
    drv.bring_up(kAllFeatures, 2);
    EXPECT_FALSE(n.net->wants_frames());
    const uint64_t fresh = post_receive(drv);
    n.port->inbound.push_back(frame(64, 9));
    drv.kick(kRx);
    ASSERT_EQ(drv.used_idx(kRx), 1u);
    EXPECT_EQ(bytes(fresh + kHeader, 64), frame(64, 9));
    EXPECT_EQ(*ram.at(old), 0xcc) << "the buffer from before the reset is not the driver's to lose";
}

TEST(VirtioNetMac, ParseAndFormat) {
    const auto mac = devmodel::parse_mac("00:16:3E:0a:0b:0c");
    ASSERT_TRUE(mac.has_value());
    EXPECT_EQ(*mac, (MacAddress{0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c}));
    EXPECT_EQ(devmodel::format_mac(*mac), "00:16:3e:0a:0b:0c");
    for (const char* bad : {"", "00:16:3e:0a:0b", "00:16:3e:0a:0b:0c:", "00-16-3e-0a-0b-0c", "00:16:3e:0a:0b:0g",
                            "0:16:3e:0a:0b:0c0", "00:16:3e:0a:0b:0c0"})
        EXPECT_FALSE(devmodel::parse_mac(bad).has_value()) << bad;
}

// A hostile or broken chain on NIC A: A needs a reset, says why once, raises its
// configuration interrupt, passes nothing on, and ignores further notifications; NIC
// B goes on.
struct Hostile {
    const char* name;
    const char* reason;  // part of the log line
    uint16_t queue;
    void (*make)(VirtioNetTest& t, VirtioTestDriver& drv, FakeGuestMemory& ram, FakePort& port);
};

class VirtioNetHostileTest : public VirtioNetTest, public ::testing::WithParamInterface<Hostile> {};

TEST_P(VirtioNetHostileTest, StopsOnlyThatNicUntilReset) {
    Nic a = add_nic(3);
    Nic b = add_nic(4);
    a.driver->bring_up(kAllFeatures, 2);
    b.driver->bring_up(kAllFeatures, 2);
    GetParam().make(*this, *a.driver, ram, *a.port);
    a.driver->kick(GetParam().queue);
    EXPECT_TRUE(needs_reset(a));
    EXPECT_EQ(a.driver->used_idx(GetParam().queue), 0u);
    EXPECT_TRUE(a.port->sent.empty());
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find(GetParam().reason), std::string::npos) << log[0];
    EXPECT_EQ(log[0].rfind("virtio-net: ", 0), 0u) << "the label: " << log[0];
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 0})) << "configuration change vector";
    a.driver->kick(GetParam().queue);
    a.port->inbound.push_back(frame(64, 1));
    a.net->frames_ready();
    EXPECT_FALSE(a.net->wants_frames());
    EXPECT_EQ(log.size(), 1u);
    EXPECT_EQ(a.driver->used_idx(kRx), 0u);

    expect_working(b);

    // The driver resets A and sets it up again: it works.
    a.driver->queues.clear();
    a.port->inbound.clear();
    a.driver->bring_up(kAllFeatures, 2);
    EXPECT_FALSE(needs_reset(a));
    expect_working(a);
}

uint64_t outside_ram() { return virtio_test::kRamBase + virtio_test::kRamSize + 0x1000; }

// Header and frame in buffers of their own, the frame `len` bytes at `frame_at`.
void transmit_split(VirtioTestDriver& drv, uint64_t header_at, uint64_t frame_at, uint32_t len) {
    drv.add_chain(kTx, {{header_at, kHeader, false}, {frame_at, len, false}});
}

const Hostile kHostile[] = {
    {"TransmitWithoutHeader", "transmit buffer 0 has 8 readable bytes, less than the 12-byte header", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         drv.add_chain(kTx, {{drv.alloc(8), 8, false}});
     }},
    {"TransmitOnlyWritable", "transmit buffer 0 has 0 readable bytes", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         drv.add_chain(kTx, {{drv.alloc(64), 64, true}});
     }},
    {"TransmitFrameTooLong", "holds a frame of 65551 bytes, more than 65550", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         transmit_split(drv, drv.alloc(kHeader), drv.alloc(65551), 65551);
     }},
    {"TransmitFrameOutsideRam", "is not guest RAM", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         transmit_split(drv, drv.alloc(kHeader), outside_ram(), 64);
     }},
    {"TransmitFrameStraddlesTheEndOfRam", "is not guest RAM", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory& ram, FakePort&) {
         transmit_split(drv, drv.alloc(kHeader), ram.end() - 32, 64);
     }},
    {"TransmitHeaderOutsideRam", "is not guest RAM", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         transmit_split(drv, outside_ram(), drv.alloc(64), 64);
     }},
    {"TransmitDescriptorLoop", "(a loop)", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         const uint64_t h = drv.alloc(64);
         drv.write_desc(kTx, 0, h, 64, 1, 1);
         drv.write_desc(kTx, 1, h, 64, 1, 0);
         drv.publish(kTx, 0);
     }},
    {"TransmitBadHeadIndex", "head descriptor 300 is outside the queue of size 256", kTx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) { drv.publish(kTx, 300); }},
    {"ReceiveBufferSmallerThanTheHeader", "receive buffer 0 has 8 device-writable bytes, less than the 12-byte header",
     kRx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         drv.add_chain(kRx, {{drv.alloc(8), 8, true}});
     }},
    {"ReceiveBufferOutsideRam", "is not guest RAM", kRx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort& port) {
         port.inbound.push_back(frame(64, 1));
         drv.add_chain(kRx, {{outside_ram(), kRxBufferBytes, true}});
     }},
    {"ReceiveDescriptorLoop", "(a loop)", kRx,
     [](VirtioNetTest&, VirtioTestDriver& drv, FakeGuestMemory&, FakePort&) {
         const uint64_t h = drv.alloc(kRxBufferBytes);
         drv.write_desc(kRx, 0, h, kRxBufferBytes, 1 | 2, 1);
         drv.write_desc(kRx, 1, h, kRxBufferBytes, 1 | 2, 0);
         drv.publish(kRx, 0);
     }},
};

INSTANTIATE_TEST_SUITE_P(Virtio, VirtioNetHostileTest, ::testing::ValuesIn(kHostile),
                         [](const ::testing::TestParamInfo<Hostile>& info) { return std::string(info.param.name); });

}  // namespace
