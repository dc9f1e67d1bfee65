// What a virtio device type (block, console, balloon...) implements, independent of
// the transport that carries it (virtio 1.1, 2 "Basic Facilities of a Virtio Device"
// and 5 "Device Types"), and what the transport gives it back (VirtioTransport). The
// PCI transport (virtio_pci_function.hpp) owns one device, keeps the device status,
// feature negotiation, queue addresses and interrupts, and calls the device only for
// what is specific to its type: its features and configuration space, its queues'
// buffers, and a reset.
#pragma once

#include <cstdint>
#include <string>

#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/state_stream.hpp"
#include "dom0/devmodel/virtqueue.hpp"

namespace devmodel {

// Device IDs (virtio 1.1, 5 "Device Types").
constexpr uint16_t kVirtioIdNet = 1;
constexpr uint16_t kVirtioIdBlock = 2;
constexpr uint16_t kVirtioIdConsole = 3;
constexpr uint16_t kVirtioIdBalloon = 5;

// Reserved feature bits the transport handles (virtio 1.1, 6): the PCI transport adds
// VERSION_1 and INDIRECT_DESC to every device's own (bits 0-23) features.
constexpr uint64_t kVirtioFIndirectDesc = 1ull << 28;
constexpr uint64_t kVirtioFEventIdx = 1ull << 29;
constexpr uint64_t kVirtioFVersion1 = 1ull << 32;

// The transport, as a device sees it.
class VirtioTransport {
public:
    virtual GuestMemory& guest_memory() = 0;
    // Queue q when the device may use it now: the driver set DRIVER_OK after a
    // successful FEATURES_OK (3.1.1: no buffer is consumed before), enabled the queue,
    // and no driver error has stopped the device (DEVICE_NEEDS_RESET); nullptr otherwise.
    virtual Virtqueue* running_queue(uint16_t q) = 0;
    // The device put buffers in queue q's used ring: a used buffer notification (4.1.5.3)
    // unless the driver suppressed it.
    virtual void queue_used(uint16_t q) = 0;
    // The device changed its configuration space: new config_generation and a
    // configuration change notification (2.4, 4.1.5.4).
    virtual void config_changed() = 0;
    // The driver broke the rules (`reason` says how): the device stops until the driver
    // resets it, with DEVICE_NEEDS_RESET set (2.1.2). The device returns at once.
    virtual void driver_error(const std::string& reason) = 0;
    // The features the driver accepted (valid from FEATURES_OK on).
    virtual uint64_t negotiated_features() const = 0;

protected:
    ~VirtioTransport() = default;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual const char* name() const = 0;  // "virtio-blk": for log lines
    virtual uint16_t device_id() const = 0;
    // PCI class code: base class << 16 | subclass << 8 | programming interface.
    virtual uint32_t pci_class_code() const = 0;
    // The device type's own feature bits (0-23).
    virtual uint64_t device_features() const = 0;
    virtual uint16_t num_queues() const = 0;
    // Queue q's largest size: a power of two, at most Virtqueue::kMaxQueueSize.
    virtual uint16_t max_queue_size(uint16_t q) const = 0;

    // The device-specific configuration space (2.4): config_size() bytes. The transport
    // only asks for ranges inside it.
    virtual uint32_t config_size() const = 0;
    virtual void read_config(uint32_t offset, uint8_t* dst, uint32_t len) = 0;
    virtual void write_config(uint32_t offset, const uint8_t* src, uint32_t len) = 0;

    // Device reset (the driver wrote 0 to device_status): back to the initial state.
    virtual void reset() = 0;
    // The driver set DRIVER_OK: the device is live (the transport then processes every
    // enabled queue once, for buffers made available before).
    virtual void driver_ok() {}
    // The driver notified queue q, or the transport asks the device to look at it. The
    // device takes what it can from transport().running_queue(q), bounded by the queue
    // size per call, and reports ring errors through transport().driver_error().
    virtual void process_queue(uint16_t q) = 0;

    // Save and restore (docs/save-format.md, "devices"). The transport saves the rings;
    // the device saves what only it knows, in its own explicit encoding.
    //
    // How many chains the device popped from queue q and still holds, not yet in the
    // used ring: they must be the last ones it popped. The transport saves
    // last_avail_idx minus this, so the restored device pops them again: the driver
    // neither reuses nor overwrites them until they are used (2.6), so they are still
    // in the rings. Anything else a device took from a ring must be answered before a
    // save.
    virtual uint16_t held_chains(uint16_t) const { return 0; }
    virtual void save_state(StateOut&) const {}
    // Reads and checks a record save_state wrote, changing nothing: false with `error`
    // (through in.fail) when it is malformed or does not fit this device.
    virtual bool check_state(StateIn& in) const { return in.at_end("the device state"); }
    // Takes a record check_state accepted.
    virtual void apply_state(StateIn&) {}

    // Called once by the transport that owns the device.
    void attach(VirtioTransport& transport) { transport_ = &transport; }

protected:
    VirtioTransport& transport() { return *transport_; }
    bool attached() const { return transport_ != nullptr; }

private:
    VirtioTransport* transport_ = nullptr;
};

}  // namespace devmodel
