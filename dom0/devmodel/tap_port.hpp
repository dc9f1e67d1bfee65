// The Linux end of a domU's network interface: a tap device in Domain-0 (Linux's
// tun/tap driver, /dev/net/tun), named as Xen names a domU's backend interfaces,
// vif<domid>.<n>. The domU's frames are written to it, so Domain-0's network stack
// sees them arrive on that interface; what Domain-0 sends out of the interface is read
// from it. Put into a bridge with Domain-0's physical interface (xenbr0, say), the
// domU sits on that network as a machine of its own.
//
// The tap is not persistent: it exists while its file is open, so it goes, and leaves
// its bridge, when the device model process exits, however it exits.
//
// Linux only, and it needs CAP_NET_ADMIN: built into vireo-dm alone, not host-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dom0/devmodel/virtio_net.hpp"

namespace devmodel {

class TapPort final : public PacketPort {
public:
    // Creates tap interface `name` (at most 15 characters; "vif1.0"), down and in no
    // bridge, with a non-blocking file. Nullptr with a sentence in `error` when it
    // cannot (no tun driver, not permitted, the name taken by another interface).
    static std::unique_ptr<TapPort> open(const std::string& name, std::string& error);
    ~TapPort();
    TapPort(const TapPort&) = delete;
    TapPort& operator=(const TapPort&) = delete;

    // The file to poll: POLLIN when a frame waits (then call the device's
    // frames_ready()). Poll it only while the device wants_frames() and the port is
    // not broken(): POLLERR for good once the interface is gone.
    int fd() const { return fd_; }
    // The interface's name, as the kernel gave it.
    const std::string& name() const { return name_; }
    // The interface was deleted under the process (ip link del): nothing goes through
    // any more, and the file polls as an error forever.
    bool broken() const { return broken_; }

    // PacketPort: one write or read of the tap file per frame (IFF_NO_PI: the frame
    // alone, no packet information header in front).
    bool send(const uint8_t* frame, size_t len) override;
    size_t receive(uint8_t* buf, size_t capacity) override;

private:
    TapPort(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    void note_error(int error);

    int fd_;
    std::string name_;
    bool broken_ = false;
};

// Puts network interface `interface` (the tap) into Linux bridge `bridge` and brings
// it up, as Xen's vif-bridge script does: first its own MAC address becomes
// fe:ff:ff:ff:ff:ff, so that a bridge that takes the lowest address among its ports
// for its own never takes the tap's. False with a sentence ("bridge xenbr0 does not
// exist") when any step fails.
bool attach_to_bridge(const std::string& interface, const std::string& bridge, std::string& error);

}  // namespace devmodel
