// One virtio device on the domU's PCI bus: the modern (virtio 1.x only, no legacy
// interface) "Virtio Over PCI Bus" transport of virtio 1.1, 4.1, as a type-0 PCI
// function (PCI Local Bus 3.0, 6.1).
//
// Configuration space: vendor 0x1af4, device 0x1040 + virtio device ID (4.1.2.1: a
// non-transitional device), revision 1, subsystem 0x1af4 / device ID, the device
// type's class code, no interrupt pin (MSI-X only: Linux's virtio_pci uses MSI-X when it
// is offered), and one 32-bit non-prefetchable memory BAR0 of 32 KiB (kBar0Size) holding
// every structure:
//
//   0x0000  common configuration (4.1.4.3)        cfg_type 1
//   0x1000  ISR status, read clears it (4.1.4.5)  cfg_type 3
//   0x2000  device-specific configuration (4.1.4.6) cfg_type 4
//   0x3000  notifications (4.1.4.4): queue q at 0x3000 + 4 * q (queue_notify_off = q,
//           notify_off_multiplier 4)             cfg_type 2
//   0x4000  MSI-X table, one vector per queue plus one for configuration changes
//   0x5000  MSI-X pending bit array (PCI 3.0, 6.8.2)
//
// The capability list holds the four vendor capabilities above, the
// VIRTIO_PCI_CAP_PCI_CFG window every device must present (4.1.4.7.1), and MSI-X.
//
// The common configuration follows 2.1 (device status; writing 0 resets the device),
// 2.2 and 3.1.1 (FEATURES_OK stays clear when the driver accepted a feature not offered
// or left out VIRTIO_F_VERSION_1) and 4.1.4.3 (queue fields through queue_select; a
// queue's layout is checked when the driver enables it). A driver error a device finds
// in its rings sets DEVICE_NEEDS_RESET (2.1.2), is logged once, raises a configuration
// change interrupt, and stops that device until the driver resets it.
//
// Interrupts are MSI-X messages through MsiSink, sent only with MSI-X enabled, the
// vector and function unmasked (else its pending bit is set and the message goes when
// it is unmasked) and bus mastering on: an MSI is a memory write by the device, as the
// device's ring accesses are, so the device also does nothing without bus mastering.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/log_sink.hpp"
#include "dom0/devmodel/msi_sink.hpp"
#include "dom0/devmodel/virtio_device.hpp"
#include "dom0/devmodel/virtio_function_state.hpp"
#include "dom0/devmodel/virtqueue.hpp"
#include "kernel/vm/devices/pci_config_space.hpp"

namespace devmodel {

class VirtioPciFunction final : private VirtioTransport {
public:
    // PCI identity (virtio 1.1, 4.1.2).
    static constexpr uint16_t kVendorId = 0x1af4;
    static constexpr uint16_t kDeviceIdBase = 0x1040;
    static constexpr uint8_t kRevision = 1;

    // BAR0 layout.
    static constexpr uint32_t kBar0Size = 0x8000;
    static constexpr uint32_t kCommonCfgOffset = 0x0000;
    static constexpr uint32_t kIsrOffset = 0x1000;
    static constexpr uint32_t kDeviceCfgOffset = 0x2000;
    static constexpr uint32_t kNotifyOffset = 0x3000;
    static constexpr uint32_t kMsixTableOffset = 0x4000;
    static constexpr uint32_t kMsixPbaOffset = 0x5000;
    static constexpr uint32_t kRegionSize = 0x1000;
    static constexpr uint32_t kNotifyOffMultiplier = 4;
    static constexpr uint32_t kCommonCfgLength = 0x38;  // struct virtio_pci_common_cfg of 4.1.4.3

    // Virtio PCI capability types (4.1.4).
    static constexpr uint8_t kCapCommonCfg = 1;
    static constexpr uint8_t kCapNotifyCfg = 2;
    static constexpr uint8_t kCapIsrCfg = 3;
    static constexpr uint8_t kCapDeviceCfg = 4;
    static constexpr uint8_t kCapPciCfg = 5;

    // MSI-X message control bits (PCI 3.0, 6.8.2.3) and "no vector" (4.1.5.1.2).
    static constexpr uint16_t kMsixEnable = 1u << 15;
    static constexpr uint16_t kMsixFunctionMask = 1u << 14;
    static constexpr uint16_t kNoVector = 0xffff;

    // Device status bits (2.1) and ISR bits (4.1.4.5).
    static constexpr uint8_t kStatusAcknowledge = 1;
    static constexpr uint8_t kStatusDriver = 2;
    static constexpr uint8_t kStatusDriverOk = 4;
    static constexpr uint8_t kStatusFeaturesOk = 8;
    static constexpr uint8_t kStatusNeedsReset = 0x40;
    static constexpr uint8_t kStatusFailed = 0x80;
    static constexpr uint8_t kIsrQueue = 1;
    static constexpr uint8_t kIsrConfig = 2;

    // The transport's own features, added to the device's.
    static constexpr uint64_t kTransportFeatures = kVirtioFVersion1 | kVirtioFIndirectDesc;

    // Takes the device. `memory` and `msi` outlive the function. BAR0 starts at 0 with
    // memory decoding off, as after a PCI reset.
    VirtioPciFunction(std::unique_ptr<VirtioDevice> device, GuestMemory& memory, MsiSink& msi, LogSink log);
    VirtioPciFunction(const VirtioPciFunction&) = delete;
    VirtioPciFunction& operator=(const VirtioPciFunction&) = delete;
    ~VirtioPciFunction();

    VirtioDevice& device() { return *device_; }
    // What log lines start with ("00:03.0 virtio-blk"); the device's name by default.
    void set_label(std::string label) { label_ = std::move(label); }
    const std::string& label() const { return label_; }

    // PCI configuration space: size 1, 2 or 4 at `reg` (0-4095; above 255, zeros).
    uint32_t config_read(uint32_t reg, unsigned size);
    void config_write(uint32_t reg, unsigned size, uint32_t value);

    // BAR0 as the driver programmed it, and whether the function decodes it (the
    // command register's memory space enable).
    uint32_t bar0_base() const;
    bool bar0_enabled() const;

    // A memory access at guest-physical gpa (size 1, 2, 4 or 8): false when it is not
    // inside an enabled BAR0 (nothing done).
    bool mmio_read(uint64_t gpa, unsigned size, uint64_t& value);
    bool mmio_write(uint64_t gpa, unsigned size, uint64_t value);

    // The same by offset into BAR0, whether decoding is on or not.
    uint64_t bar0_read(uint32_t offset, unsigned size);
    void bar0_write(uint32_t offset, unsigned size, uint64_t value);

    // Where the doorbells are: queue q's is at gpa + q * multiplier. Only while BAR0 is
    // enabled (the hypervisor may then take those writes itself and post them).
    struct NotifyRegion {
        uint64_t gpa = 0;
        uint32_t length = 0;
        uint32_t multiplier = 0;
    };
    std::optional<NotifyRegion> notify_region() const;
    // A notification of queue q that did not come through bar0_write (a doorbell the
    // hypervisor posted): the same as the write.
    void ring_doorbell(uint16_t queue);

    // Save and restore (virtio_pci_function_state.cpp, docs/save-format.md). The caller
    // has paused the domain and answered every access it forwarded, so no request is
    // in flight: each device serves a chain within process_queue. save() refuses (false,
    // `error`) a function whose device still holds chains it did not declare.
    bool save(StateOut& out, std::string& error) const;
    // Checks `state` against this function (same device type, queue count and MSI-X
    // table; queue sizes, ring addresses in guest RAM, features offered, vectors, status
    // and register bits valid; no request in flight) without changing anything.
    bool check(const VirtioFunctionState& state, std::string& error) const;
    // check(), then the function takes the state: nothing changes when check() fails.
    bool restore(const VirtioFunctionState& state, std::string& error);
    // After a restore, with guest memory in place: looks at every running queue once,
    // for chains the driver made available (and perhaps notified) before the save.
    void resume();

    uint8_t device_status() const { return status_; }
    uint8_t config_generation() const { return config_generation_; }

private:
    static constexpr uint32_t kPciCfgDataOffset = 16;  // pci_cfg_data in struct virtio_pci_cfg_cap
    static constexpr uint32_t kMsixEntryBytes = 16;
    static constexpr uint32_t kMsixVectorControl = 12;        // in an entry; bit 0: mask
    static constexpr uint64_t kDeviceFeatureBits = 0xffffff;  // 0-23: the device type's (6)

    struct Queue {
        uint16_t size = 0;
        uint16_t msix_vector = kNoVector;
        bool enabled = false;
        uint64_t desc = 0;
        uint64_t driver = 0;
        uint64_t device = 0;
        Virtqueue ring;
    };

    // VirtioTransport
    GuestMemory& guest_memory() override { return memory_; }
    Virtqueue* running_queue(uint16_t q) override;
    void queue_used(uint16_t q) override;
    void config_changed() override;
    void driver_error(const std::string& reason) override;
    uint64_t negotiated_features() const override { return driver_features_; }

    // Configuration space
    void build_config_space();
    uint16_t config16(uint32_t reg) const;
    void pci_cfg_window(bool write);
    uint16_t msix_control() const;

    // BAR0 regions
    uint64_t read_region(uint32_t offset, unsigned size);
    void write_region(uint32_t offset, unsigned size, uint64_t value);
    void common_image(uint8_t* image) const;
    void common_write(uint32_t offset, unsigned size, uint64_t value);
    void common_field_write(uint32_t field, uint64_t value);
    void msix_table_write(uint32_t offset, unsigned size, uint64_t value);
    void pba_image(std::vector<uint8_t>& image) const;

    // Save and restore
    bool check_common(const VirtioFunctionState& state, std::string& error) const;
    bool check_pci(const VirtioFunctionState& state, std::string& error) const;
    bool check_queues(const VirtioFunctionState& state, std::string& error) const;
    // value differs from the register at reg only in bits the driver may write.
    bool read_only_bits_match(uint32_t reg, unsigned width, uint32_t value) const;
    void apply(const VirtioFunctionState& state);

    // Virtio state
    uint16_t queue_count() const { return static_cast<uint16_t>(queues_.size()); }
    void reset_device();
    void write_status(uint8_t value);
    bool features_acceptable(std::string& why) const;
    void enable_queue(uint16_t q);
    bool live() const;
    void notify(uint16_t q);
    void config_interrupt();

    // MSI-X
    uint16_t vector_or_none(uint16_t vector) const;
    void signal(uint16_t vector);
    bool vector_masked(uint16_t vector) const;
    void deliver_unmasked_pending();

    std::unique_ptr<VirtioDevice> device_;
    GuestMemory& memory_;
    MsiSink& msi_;
    LogSink log_;
    std::string label_;

    uint8_t config_[pci_config::kConventionalSpaceSize] = {};
    uint8_t writable_[pci_config::kConventionalSpaceSize] = {};  // per-byte mask of what the driver may write
    uint8_t cap_pci_cfg_ = 0;
    uint8_t cap_msix_ = 0;

    uint32_t device_feature_select_ = 0;
    uint32_t driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    bool driver_features_beyond_64_ = false;  // set a bit through driver_feature_select >= 2
    uint16_t msix_config_ = kNoVector;
    uint8_t status_ = 0;
    uint8_t config_generation_ = 0;
    uint8_t isr_ = 0;
    uint16_t queue_select_ = 0;
    bool feature_refusal_logged_ = false;
    std::vector<Queue> queues_;

    uint16_t msix_vectors_ = 0;
    std::vector<uint8_t> msix_table_;  // 16 bytes per vector (PCI 3.0, 6.8.2.6-6.8.2.9)
    std::vector<bool> msix_pending_;
};

}  // namespace devmodel
