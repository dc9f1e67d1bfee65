// The saved state of one virtio PCI function (VirtioPciFunction::save / restore): what
// the transport keeps of "Virtio Over PCI Bus" (virtio 1.1, 4.1), the PCI configuration
// space the driver programmed, the MSI-X table and pending bits, each queue's layout and
// the device's ring positions, and the device type's own state as an opaque record the
// device encodes (VirtioDevice::save_state). docs/save-format.md gives the byte layout.
//
// A state describes a quiesced function: every chain the device took from an available
// ring has been returned through the used ring (or given back: see
// VirtioDevice::held_chains), so last_avail_idx == used_idx for every enabled queue.
// Chains the driver made available and the device had not taken stay in guest memory
// and are found again after a restore, from last_avail_idx on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dom0/devmodel/state_stream.hpp"

namespace devmodel {

struct VirtioQueueState {
    uint16_t size = 0;
    uint16_t msix_vector = 0;
    bool enabled = false;
    uint64_t desc = 0;    // queue_desc
    uint64_t driver = 0;  // queue_driver: the available ring
    uint64_t device = 0;  // queue_device: the used ring
    // The device's positions (2.6): the next available ring entry it reads, and its
    // used index. VIRTIO_F_EVENT_IDX is not offered, so there is no event state yet; a
    // later version adds it behind the version number.
    uint16_t last_avail_idx = 0;
    uint16_t used_idx = 0;
};

// One MSI-X table entry (PCI 3.0, 6.8.2.6-6.8.2.9).
struct MsixEntryState {
    uint64_t address = 0;
    uint32_t data = 0;
    uint32_t control = 0;  // bit 0: masked
};

struct VirtioFunctionState {
    static constexpr uint32_t kMagic = 0x4e465456;  // "VTFN"
    static constexpr uint16_t kVersion = 1;
    // Bounds a decoder applies before it allocates (far above any device here).
    static constexpr uint16_t kMaxVectors = 2048;  // the MSI-X table size limit (PCI 3.0)
    static constexpr uint16_t kMaxQueues = 1024;
    static constexpr uint32_t kMaxDeviceState = 64 * 1024;

    uint16_t device_id = 0;  // the virtio device ID (5): a state restores into its own type only

    // PCI configuration space: the registers the driver may write.
    uint16_t command = 0;
    uint8_t cache_line_size = 0;
    uint8_t interrupt_line = 0;
    uint32_t bar0 = 0;
    uint16_t msix_control = 0;  // enable and function mask bits
    // The VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.7): bar, offset, length, pci_cfg_data.
    uint8_t pci_cfg_bar = 0;
    uint32_t pci_cfg_offset = 0;
    uint32_t pci_cfg_length = 0;
    uint32_t pci_cfg_data = 0;

    std::vector<MsixEntryState> msix_table;
    std::vector<bool> msix_pending;  // the PBA, one per table entry

    // The common configuration (4.1.4.3) and the ISR (4.1.4.5).
    uint32_t device_feature_select = 0;
    uint32_t driver_feature_select = 0;
    uint64_t driver_features = 0;
    bool driver_features_beyond_64 = false;
    uint16_t msix_config = 0;
    uint8_t device_status = 0;
    uint8_t config_generation = 0;
    uint8_t isr = 0;
    uint16_t queue_select = 0;
    std::vector<VirtioQueueState> queues;

    std::vector<uint8_t> device_state;  // the device type's record
};

void encode_function_state(const VirtioFunctionState& state, StateOut& out);
// Reads one whole record: false (with `error`) when it is cut short, has another magic
// or version, declares more entries than the bounds above, or has bytes after its end.
bool decode_function_state(StateIn& in, VirtioFunctionState& state, std::string& error);

}  // namespace devmodel
