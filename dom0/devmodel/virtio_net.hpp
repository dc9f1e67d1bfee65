// The virtio network device (virtio 1.1, 5.1) with one queue pair and no control queue:
// queue 0, receiveq1, holds buffers the device fills with frames for the domU; queue 1,
// transmitq1, holds the domU's frames. Frames go to and come from a PacketPort (the
// device model process connects a tap device on a Domain-0 bridge: tap_port.hpp).
//
// Offered features (5.1.3): MAC (the address in the configuration space), STATUS (the
// link state, VIRTIO_NET_S_LINK_UP) and MTU; the transport adds VERSION_1 and
// INDIRECT_DESC. No offload is offered (no CSUM, GUEST_CSUM, TSO, UFO, MRG_RXBUF), so
// every frame travels whole and checksummed, one frame per chain, behind the 12-byte
// struct virtio_net_hdr of 5.1.6 (VERSION_1 always has num_buffers, 5.1.6.1). With
// nothing to offload the header means nothing on transmit: the driver must leave flags
// 0 and gso_type NONE (5.1.6.2.1) and the device is never to rely on the rest
// (5.1.6.2.2), so its contents are ignored. On receive the device writes flags 0 and
// gso_type NONE (5.1.6.4.1: no GUEST_CSUM, no GUEST_TSO) and num_buffers 1 (5.1.6.3.2:
// one buffer per packet without MRG_RXBUF).
//
// Transmit: each chain is the header and one frame in its readable bytes, whatever the
// descriptor boundaries (2.6.4). A chain shorter than the header, or a frame longer
// than kMaxFrameBytes (the largest packet 5.1.6.3 knows of), breaks the format: a driver
// error, the device needs a reset, as for anything a Virtqueue refuses. A frame the
// port does not take, or one too short to be Ethernet, is lost and counted: a network
// may lose frames, and a driver cannot wait for a device that will not take them.
//
// Receive is pulled, not pushed, as virtio-console's input is: the device reads a
// frame from the port only while it holds a receive buffer to put it in, so frames
// wait in the port (a tap's queue in the kernel) while the domU posts none. The
// process's main loop polls the port while wants_frames() is true and calls
// frames_ready() when it is readable; a notification of the receive queue (new
// buffers) pulls frames too. A frame larger than the buffer the driver posted (or,
// with MTU negotiated, than mtu plus an Ethernet header, 5.1.4.1) is dropped and
// counted, not an error: the buffer waits for the next frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dom0/devmodel/virtio_device.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

// The link a network device is connected to. Frames are Ethernet frames as they go on
// the wire without preamble and FCS: destination MAC first.
class PacketPort {
public:
    // One frame out of the domU. False when the port could not take it now: the frame
    // is lost, as on a congested link.
    virtual bool send(const uint8_t* frame, size_t len) = 0;
    // The next frame waiting for the domU into buf: its length, or 0 when none waits.
    // A frame longer than `capacity` is taken all the same, buf holds at most
    // `capacity` bytes of it, and a value larger than `capacity` is returned (its
    // length, or less when the port cannot tell): the caller drops it.
    virtual size_t receive(uint8_t* buf, size_t capacity) = 0;

protected:
    ~PacketPort() = default;
};

using MacAddress = std::array<uint8_t, 6>;

// "00:16:3e:0a:0b:0c" (two hex digits per byte, colons between): the address, or
// nothing when the text is not one.
std::optional<MacAddress> parse_mac(const std::string& text);
// The address in that form, lower case.
std::string format_mac(const MacAddress& mac);

class VirtioNet final : public VirtioDevice {
public:
    // Feature bits (5.1.3).
    static constexpr uint64_t kFMtu = 1ull << 3;
    static constexpr uint64_t kFMac = 1ull << 5;
    static constexpr uint64_t kFStatus = 1ull << 16;
    // status (5.1.4).
    static constexpr uint16_t kStatusLinkUp = 1;

    static constexpr uint16_t kReceiveQueue = 0;
    static constexpr uint16_t kTransmitQueue = 1;
    static constexpr uint16_t kQueueSize = 256;
    // struct virtio_net_hdr (5.1.6) with num_buffers, its last field.
    static constexpr uint32_t kHeaderBytes = 12;
    static constexpr uint32_t kNumBuffersOffset = 10;
    // 5.1.6.3: "the maximum size of a TCP or UDP packet, plus the 14 byte ethernet
    // header": a frame this long needs segmentation offloads to happen at all, so no
    // driver here builds a longer one.
    static constexpr size_t kMaxFrameBytes = 65550;
    // A destination and source address and the EtherType: anything shorter is no frame.
    static constexpr size_t kEthernetHeaderBytes = 14;
    // An Ethernet header with an 802.1Q tag: what a frame may hold besides `mtu` bytes
    // of payload (a tagged frame is 4 bytes longer than an untagged one of equal MTU).
    static constexpr size_t kTaggedEthernetHeaderBytes = 18;
    // 5.1.4.1: mtu between 68 and 65535; at most so much that every frame the driver may
    // send with it, tagged or not, stays within kMaxFrameBytes.
    static constexpr uint16_t kMinMtu = 68;
    static constexpr uint16_t kMaxMtu = static_cast<uint16_t>(kMaxFrameBytes - kTaggedEthernetHeaderBytes);
    static constexpr uint16_t kDefaultMtu = 1500;
    // struct virtio_net_config (5.1.4): mac, status, max_virtqueue_pairs, mtu.
    static constexpr uint32_t kConfigSize = 12;

    // What happened to frames, for the process's statistics and the tests. Kept across
    // device resets, as a tap's counters are.
    struct Counters {
        uint64_t tx_frames = 0;   // handed to the port
        uint64_t tx_dropped = 0;  // refused by the port, or shorter than an Ethernet header
        uint64_t rx_frames = 0;   // put into receive buffers
        uint64_t rx_dropped = 0;  // larger than the receive buffer or the negotiated MTU
    };

    // `port` outlives the device. `mtu` is what the configuration space offers, kept
    // within [kMinMtu, kMaxMtu]; the link starts up.
    VirtioNet(PacketPort& port, const MacAddress& mac, uint16_t mtu = kDefaultMtu);

    // The driver holds a receive buffer for the device: worth polling the port.
    bool wants_frames();
    // The port may have frames: move them into the driver's receive buffers (at most a
    // queue's worth of frames read per call).
    void frames_ready();

    // The link state in `status`; a change is a configuration change notification.
    void set_link_up(bool up);
    bool link_up() const { return (status_ & kStatusLinkUp) != 0; }
    const MacAddress& mac() const { return mac_; }
    uint16_t mtu() const { return mtu_; }
    const Counters& counters() const { return counters_; }

    const char* name() const override { return "virtio-net"; }
    uint16_t device_id() const override { return kVirtioIdNet; }
    uint32_t pci_class_code() const override { return 0x020000; }  // network controller, Ethernet
    uint64_t device_features() const override { return kFMtu | kFMac | kFStatus; }
    uint16_t num_queues() const override { return 2; }
    uint16_t max_queue_size(uint16_t) const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* dst, uint32_t len) override;
    // Every field is driver-read-only (5.1.4; only a legacy driver wrote mac).
    void write_config(uint32_t, const uint8_t*, uint32_t) override {}
    void reset() override { rx_chain_.reset(); }
    void process_queue(uint16_t q) override;

    // Saved: the link state, and mac and mtu to check that the restored device is the
    // one the driver knows (they are the process's configuration, not the driver's).
    // A receive buffer the device holds is given back (held_chains); the counters are
    // the process's statistics and start again.
    static constexpr uint16_t kStateVersion = 1;
    uint16_t held_chains(uint16_t q) const override { return q == kReceiveQueue && rx_chain_ ? 1 : 0; }
    void save_state(StateOut& out) const override;
    bool check_state(StateIn& in) const override;
    void apply_state(StateIn& in) override;

private:
    void receive();
    void transmit();
    // True when a frame of `len` bytes may go into the receive buffer the device holds.
    bool fits(size_t len);
    // Writes header and frame into the held receive buffer and returns it to the driver.
    bool deliver(GuestMemory& memory, Virtqueue& vq, size_t len, std::string& error);
    bool transmit_one(GuestMemory& memory, const DescriptorChain& chain, std::string& error);

    PacketPort& port_;
    MacAddress mac_;
    uint16_t mtu_;
    uint16_t status_ = kStatusLinkUp;
    Counters counters_;
    // A receive buffer popped from the ring that no frame has filled yet: the device
    // keeps it (it is the device's until used, 2.6) instead of returning it empty.
    std::optional<DescriptorChain> rx_chain_;
    std::vector<uint8_t> staging_;  // one frame, either way: kMaxFrameBytes
};

}  // namespace devmodel
