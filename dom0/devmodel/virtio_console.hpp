// The virtio console device (virtio 1.1, 5.3) with one port and no multiport support
// (no features offered: Linux's virtio_console then gives the port to hvc0): queue 0,
// receiveq, holds buffers the device fills with input; queue 1, transmitq, holds the
// driver's output. Input comes from a ByteSource, output goes to a ByteSink.
//
// Input is pulled, not pushed: the device reads the source only when the driver has
// given it a receive buffer, so nothing piles up in the device model. The process's
// main loop polls the source (a pty, say) while wants_input() is true and calls
// input_ready() when it is readable; a notification of the receive queue (new buffers)
// pulls input too. At most kInputChunk bytes wait in the device between the two.
#pragma once

#include <cstdint>
#include <vector>

#include "dom0/devmodel/byte_stream.hpp"
#include "dom0/devmodel/virtio_device.hpp"

namespace devmodel {

class VirtioConsole final : public VirtioDevice {
public:
    static constexpr uint16_t kReceiveQueue = 0;
    static constexpr uint16_t kTransmitQueue = 1;
    static constexpr uint16_t kQueueSize = 128;
    // struct virtio_console_config (5.3.4): cols, rows, max_nr_ports, emerg_wr. Its
    // fields mean something only with SIZE, MULTIPORT and EMERG_WRITE, none offered.
    static constexpr uint32_t kConfigSize = 12;
    static constexpr size_t kInputChunk = 4096;

    VirtioConsole(ByteSource& input, ByteSink& output) : input_(input), output_(output) {}

    // The source may have bytes: move them into the driver's receive buffers.
    void input_ready();
    // The driver has a receive buffer and no input waits in the device: worth reading
    // the source.
    bool wants_input();

    const char* name() const override { return "virtio-console"; }
    uint16_t device_id() const override { return kVirtioIdConsole; }
    uint32_t pci_class_code() const override { return 0x078000; }  // communication, other (as QEMU's)
    uint64_t device_features() const override { return 0; }
    uint16_t num_queues() const override { return 2; }
    uint16_t max_queue_size(uint16_t) const override { return kQueueSize; }
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, uint8_t* dst, uint32_t len) override;
    void write_config(uint32_t, const uint8_t*, uint32_t) override {}  // emerg_wr needs EMERG_WRITE
    void reset() override { pending_.clear(); }
    void process_queue(uint16_t q) override;

    // Saved: the input read from the source and not yet delivered (at most
    // kInputChunk bytes), so that no keystroke is lost. The configuration space is
    // constant (no feature offered) and the device holds no chain between calls.
    static constexpr uint16_t kStateVersion = 1;
    void save_state(StateOut& out) const override;
    bool check_state(StateIn& in) const override;
    void apply_state(StateIn& in) override;

private:
    void receive();
    void transmit();

    ByteSource& input_;
    ByteSink& output_;
    std::vector<uint8_t> pending_;  // read from the source, not yet in a receive buffer
};

}  // namespace devmodel
