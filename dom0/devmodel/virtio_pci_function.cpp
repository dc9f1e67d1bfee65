#include "dom0/devmodel/virtio_pci_function.hpp"

#include <algorithm>

#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

namespace {

constexpr uint8_t kVirtioCapLength = 16;        // struct virtio_pci_cap (4.1.4)
constexpr uint8_t kVirtioNotifyCapLength = 20;  // + notify_off_multiplier (4.1.4.4)
constexpr uint8_t kVirtioPciCfgCapLength = 20;  // + pci_cfg_data[4] (4.1.4.7)
constexpr uint8_t kMsixCapLength = 12;          // PCI 3.0, 6.8.2

// The bytes [offset, offset + size) of an image as a little-endian value; bytes past
// its end read as zero.
uint64_t image_bytes(const uint8_t* image, size_t image_len, uint32_t offset, unsigned size) {
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i)
        if (offset + i < image_len) v |= static_cast<uint64_t>(image[offset + i]) << (8 * i);
    return v;
}

bool valid_size(unsigned size) { return size == 1 || size == 2 || size == 4 || size == 8; }

bool overlaps(uint32_t a, uint32_t a_len, uint32_t b, uint32_t b_len) { return a < b + b_len && b < a + a_len; }

// The common configuration's fields (4.1.4.3): offset and width.
struct CommonField {
    uint32_t offset;
    unsigned width;
};
constexpr CommonField kCommonFields[] = {
    {0x00, 4},  // device_feature_select
    {0x04, 4},  // device_feature (read-only)
    {0x08, 4},  // driver_feature_select
    {0x0c, 4},  // driver_feature
    {0x10, 2},  // msix_config
    {0x12, 2},  // num_queues (read-only)
    {0x14, 1},  // device_status
    {0x15, 1},  // config_generation (read-only)
    {0x16, 2},  // queue_select
    {0x18, 2},  // queue_size
    {0x1a, 2},  // queue_msix_vector
    {0x1c, 2},  // queue_enable
    {0x1e, 2},  // queue_notify_off (read-only)
    {0x20, 8},  // queue_desc
    {0x28, 8},  // queue_driver
    {0x30, 8},  // queue_device
};

}  // namespace

VirtioPciFunction::VirtioPciFunction(std::unique_ptr<VirtioDevice> device, GuestMemory& memory, MsiSink& msi,
                                     LogSink log)
    : device_(std::move(device)), memory_(memory), msi_(msi), log_(std::move(log)), label_(device_->name()) {
    device_->attach(*this);
    queues_.resize(device_->num_queues());
    for (uint16_t q = 0; q < queue_count(); ++q) queues_[q].size = device_->max_queue_size(q);
    // One vector per queue and one for configuration changes, as Linux asks for.
    msix_vectors_ = static_cast<uint16_t>(queues_.size() + 1);
    msix_table_.assign(size_t{msix_vectors_} * kMsixEntryBytes, 0);
    for (uint16_t v = 0; v < msix_vectors_; ++v) msix_table_[v * kMsixEntryBytes + kMsixVectorControl] = 1;
    msix_pending_.assign(msix_vectors_, false);
    build_config_space();
}

VirtioPciFunction::~VirtioPciFunction() = default;

void VirtioPciFunction::build_config_space() {
    uint8_t* c = config_;
    store_le16(c + pci_config::kVendorId, kVendorId);
    store_le16(c + pci_config::kDeviceId, static_cast<uint16_t>(kDeviceIdBase + device_->device_id()));
    store_le16(c + pci_config::kStatus, pci_config::kStatusCapabilityList);
    c[pci_config::kRevisionId] = kRevision;
    const uint32_t class_code = device_->pci_class_code();
    c[pci_config::kClassCode] = static_cast<uint8_t>(class_code);
    c[pci_config::kClassCode + 1] = static_cast<uint8_t>(class_code >> 8);
    c[pci_config::kClassCode + 2] = static_cast<uint8_t>(class_code >> 16);
    store_le16(c + pci_config::kSubsystemVendorId, kVendorId);
    store_le16(c + pci_config::kSubsystemId, device_->device_id());  // the virtio device ID
    // Writable: the command register's memory, bus master and INTx-disable bits; cache
    // line size and interrupt line (scratch registers for firmware); BAR0's address
    // bits above its 32 KiB size (its low bits read 0: 32-bit, non-prefetchable memory,
    // PCI 3.0, 6.2.5.1). Everything else is read-only.
    store_le16(writable_ + pci_config::kCommand,
               pci_config::kCommandMemorySpace | pci_config::kCommandBusMaster | pci_config::kCommandIntxDisable);
    writable_[pci_config::kCacheLineSize] = 0xff;
    writable_[pci_config::kInterruptLine] = 0xff;
    store_le32(writable_ + pci_config::kBar0, ~(kBar0Size - 1));

    // The capability list (PCI 3.0, 6.7), each entry linked from the previous one's next.
    uint32_t next_free = pci_config::kFirstCapabilityOffset;
    uint32_t link = pci_config::kCapabilityPointer;
    auto add = [&](uint8_t id, uint8_t length) {
        const uint32_t at = next_free;
        c[link] = static_cast<uint8_t>(at);
        c[at] = id;
        c[at + 1] = 0;
        link = at + 1;
        next_free += (length + 3u) & ~3u;
        return at;
    };
    auto add_virtio = [&](uint8_t cfg_type, uint32_t offset, uint32_t length, uint8_t cap_length) {
        const uint32_t at = add(pci_config::kCapabilityVendor, cap_length);
        c[at + 2] = cap_length;
        c[at + 3] = cfg_type;
        c[at + 4] = 0;  // BAR0
        store_le32(c + at + 8, offset);
        store_le32(c + at + 12, length);
        return at;
    };
    add_virtio(kCapCommonCfg, kCommonCfgOffset, kCommonCfgLength, kVirtioCapLength);
    const uint32_t notify = add_virtio(
        kCapNotifyCfg, kNotifyOffset, kNotifyOffMultiplier * static_cast<uint32_t>(std::max<size_t>(queues_.size(), 1)),
        kVirtioNotifyCapLength);
    store_le32(c + notify + 16, kNotifyOffMultiplier);
    add_virtio(kCapIsrCfg, kIsrOffset, 1, kVirtioCapLength);
    if (device_->config_size() != 0)
        add_virtio(kCapDeviceCfg, kDeviceCfgOffset, std::min(device_->config_size(), kRegionSize), kVirtioCapLength);
    // 4.1.4.7: bar, offset and length are the driver's to write, and so is the data.
    cap_pci_cfg_ = static_cast<uint8_t>(add_virtio(kCapPciCfg, 0, 0, kVirtioPciCfgCapLength));
    writable_[cap_pci_cfg_ + 4] = 0xff;
    store_le32(writable_ + cap_pci_cfg_ + 8, ~0u);
    store_le32(writable_ + cap_pci_cfg_ + 12, ~0u);
    store_le32(writable_ + cap_pci_cfg_ + kPciCfgDataOffset, ~0u);
    // MSI-X (PCI 3.0, 6.8.2.3-6.8.2.5): table size - 1, table and PBA in BAR0.
    cap_msix_ = static_cast<uint8_t>(add(pci_config::kCapabilityMsix, kMsixCapLength));
    store_le16(c + cap_msix_ + 2, static_cast<uint16_t>(msix_vectors_ - 1));
    store_le32(c + cap_msix_ + 4, kMsixTableOffset);  // BIR 0
    store_le32(c + cap_msix_ + 8, kMsixPbaOffset);
    writable_[cap_msix_ + 3] = static_cast<uint8_t>((kMsixEnable | kMsixFunctionMask) >> 8);
}

uint16_t VirtioPciFunction::config16(uint32_t reg) const { return load_le16(config_ + reg); }
uint16_t VirtioPciFunction::msix_control() const { return config16(cap_msix_ + 2); }

uint32_t VirtioPciFunction::config_read(uint32_t reg, unsigned size) {
    if (size != 1 && size != 2 && size != 4) return ~0u;
    if (reg >= pci_config::kConventionalSpaceSize) return 0;
    if (overlaps(reg, size, cap_pci_cfg_ + kPciCfgDataOffset, 4)) pci_cfg_window(false);
    return static_cast<uint32_t>(image_bytes(config_, pci_config::kConventionalSpaceSize, reg, size));
}

void VirtioPciFunction::config_write(uint32_t reg, unsigned size, uint32_t value) {
    if ((size != 1 && size != 2 && size != 4) || reg >= pci_config::kConventionalSpaceSize) return;
    const uint16_t old_msix = msix_control();
    for (unsigned i = 0; i < size && reg + i < pci_config::kConventionalSpaceSize; ++i) {
        const uint8_t b = static_cast<uint8_t>(value >> (8 * i));
        uint8_t& r = config_[reg + i];
        r = static_cast<uint8_t>((r & ~writable_[reg + i]) | (b & writable_[reg + i]));
    }
    if (overlaps(reg, size, cap_pci_cfg_ + kPciCfgDataOffset, 4)) pci_cfg_window(true);
    // Clearing the function mask or setting the enable bit may release pending vectors.
    if (msix_control() != old_msix) deliver_unmasked_pending();
}

void VirtioPciFunction::pci_cfg_window(bool write) {
    // 4.1.4.7.2: an access to pci_cfg_data is an access of cap.length bytes at
    // cap.offset of BAR cap.bar. The driver keeps length 1, 2 or 4 and offset aligned
    // to it (4.1.4.7.1); anything else, or another BAR, does nothing.
    const uint8_t* cap = config_ + cap_pci_cfg_;
    const uint32_t offset = load_le32(cap + 8);
    const uint32_t length = load_le32(cap + 12);
    if (cap[4] != 0 || (length != 1 && length != 2 && length != 4) || offset % length != 0 || offset >= kBar0Size)
        return;
    uint8_t* data = config_ + cap_pci_cfg_ + kPciCfgDataOffset;
    if (write) {
        bar0_write(offset, length, image_bytes(data, 4, 0, length));
    } else {
        const uint64_t v = bar0_read(offset, length);
        for (uint32_t i = 0; i < length; ++i) data[i] = static_cast<uint8_t>(v >> (8 * i));
    }
}

uint32_t VirtioPciFunction::bar0_base() const { return load_le32(config_ + pci_config::kBar0) & ~(kBar0Size - 1); }

bool VirtioPciFunction::bar0_enabled() const {
    return (config16(pci_config::kCommand) & pci_config::kCommandMemorySpace) != 0;
}

bool VirtioPciFunction::mmio_read(uint64_t gpa, unsigned size, uint64_t& value) {
    if (!bar0_enabled() || gpa < bar0_base() || gpa - bar0_base() >= kBar0Size) return false;
    value = bar0_read(static_cast<uint32_t>(gpa - bar0_base()), size);
    return true;
}

bool VirtioPciFunction::mmio_write(uint64_t gpa, unsigned size, uint64_t value) {
    if (!bar0_enabled() || gpa < bar0_base() || gpa - bar0_base() >= kBar0Size) return false;
    bar0_write(static_cast<uint32_t>(gpa - bar0_base()), size, value);
    return true;
}

uint64_t VirtioPciFunction::bar0_read(uint32_t offset, unsigned size) {
    if (!valid_size(size) || offset >= kBar0Size) return 0;
    // A 64-bit access is its two 32-bit halves, low first (4.1.3.1 lets a driver access
    // a 64-bit field that way).
    if (size == 8) return read_region(offset, 4) | (offset + 4 < kBar0Size ? read_region(offset + 4, 4) << 32 : 0);
    return read_region(offset, size);
}

void VirtioPciFunction::bar0_write(uint32_t offset, unsigned size, uint64_t value) {
    if (!valid_size(size) || offset >= kBar0Size) return;
    const bool notify = offset >= kNotifyOffset && offset < kNotifyOffset + kRegionSize;
    if (size == 8 && !notify) {
        write_region(offset, 4, value & 0xffffffff);
        if (offset + 4 < kBar0Size) write_region(offset + 4, 4, value >> 32);
        return;
    }
    write_region(offset, size, value);
}

uint64_t VirtioPciFunction::read_region(uint32_t offset, unsigned size) {
    const uint32_t off = offset % kRegionSize;
    switch (offset - off) {
        case kCommonCfgOffset: {
            uint8_t image[kCommonCfgLength];
            common_image(image);
            return image_bytes(image, sizeof(image), off, size);
        }
        case kIsrOffset: {
            if (off != 0) return 0;
            // 4.1.4.5: reading the ISR status clears it.
            const uint8_t v = isr_;
            isr_ = 0;
            return v;
        }
        case kDeviceCfgOffset: {
            const uint32_t config_size = std::min(device_->config_size(), kRegionSize);
            if (off >= config_size) return 0;
            uint8_t bytes[8] = {};
            device_->read_config(off, bytes, std::min<uint32_t>(size, config_size - off));
            return image_bytes(bytes, sizeof(bytes), 0, size);
        }
        case kMsixTableOffset: return image_bytes(msix_table_.data(), msix_table_.size(), off, size);
        case kMsixPbaOffset: {
            std::vector<uint8_t> image;
            pba_image(image);
            return image_bytes(image.data(), image.size(), off, size);
        }
        default: return 0;
    }
}

void VirtioPciFunction::write_region(uint32_t offset, unsigned size, uint64_t value) {
    const uint32_t off = offset % kRegionSize;
    switch (offset - off) {
        case kCommonCfgOffset: common_write(off, size, value); break;
        case kDeviceCfgOffset: {
            const uint32_t config_size = std::min(device_->config_size(), kRegionSize);
            if (off >= config_size) break;
            uint8_t bytes[8];
            store_le64(bytes, value);
            device_->write_config(off, bytes, std::min<uint32_t>(size, config_size - off));
            break;
        }
        case kNotifyOffset:
            // 4.1.4.4: queue q's notification address is queue_notify_off (= q) times
            // the multiplier; the value written (the queue index) adds nothing.
            notify(static_cast<uint16_t>(off / kNotifyOffMultiplier));
            break;
        case kMsixTableOffset: msix_table_write(off, size, value); break;
        default: break;  // ISR and PBA are read-only
    }
}

void VirtioPciFunction::common_image(uint8_t* image) const {
    std::fill(image, image + kCommonCfgLength, 0);
    const uint64_t offered = (device_->device_features() & kDeviceFeatureBits) | kTransportFeatures;
    store_le32(image + 0x00, device_feature_select_);
    store_le32(image + 0x04,
               device_feature_select_ < 2 ? static_cast<uint32_t>(offered >> (32 * device_feature_select_)) : 0);
    store_le32(image + 0x08, driver_feature_select_);
    store_le32(image + 0x0c, driver_feature_select_ < 2
                                 ? static_cast<uint32_t>(driver_features_ >> (32 * driver_feature_select_))
                                 : 0);
    store_le16(image + 0x10, msix_config_);
    store_le16(image + 0x12, static_cast<uint16_t>(queues_.size()));
    image[0x14] = status_;
    image[0x15] = config_generation_;
    store_le16(image + 0x16, queue_select_);
    if (queue_select_ < queues_.size()) {
        // A queue that does not exist reads as size 0, "unavailable" (4.1.4.3).
        const Queue& q = queues_[queue_select_];
        store_le16(image + 0x18, q.size);
        store_le16(image + 0x1a, q.msix_vector);
        store_le16(image + 0x1c, q.enabled ? 1 : 0);
        store_le16(image + 0x1e, queue_select_);  // queue_notify_off
        store_le64(image + 0x20, q.desc);
        store_le64(image + 0x28, q.driver);
        store_le64(image + 0x30, q.device);
    }
}

void VirtioPciFunction::common_write(uint32_t offset, unsigned size, uint64_t value) {
    // Merge the written bytes into the current image, then store every field they touch:
    // a driver writes each field whole (4.1.3.1) or a 64-bit field in 32-bit halves, and
    // a narrower write changes only the bytes it covers.
    uint8_t image[kCommonCfgLength];
    common_image(image);
    for (unsigned i = 0; i < size && offset + i < kCommonCfgLength; ++i)
        image[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    for (const CommonField& f : kCommonFields)
        if (overlaps(offset, size, f.offset, f.width))
            common_field_write(f.offset, image_bytes(image, kCommonCfgLength, f.offset, f.width));
}

void VirtioPciFunction::common_field_write(uint32_t field, uint64_t value) {
    Queue* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
    switch (field) {
        case 0x00: device_feature_select_ = static_cast<uint32_t>(value); break;
        case 0x08: driver_feature_select_ = static_cast<uint32_t>(value); break;
        case 0x0c:
            // The features are settled once FEATURES_OK is (3.1.1).
            if ((status_ & kStatusFeaturesOk) != 0) break;
            if (driver_feature_select_ < 2) {
                const unsigned shift = 32 * driver_feature_select_;
                driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | (value << shift);
            } else if (value != 0) {
                driver_features_beyond_64_ = true;
            }
            break;
        case 0x10: msix_config_ = vector_or_none(static_cast<uint16_t>(value)); break;
        case 0x14: write_status(static_cast<uint8_t>(value)); break;
        case 0x16: queue_select_ = static_cast<uint16_t>(value); break;
        case 0x18:
            if (q != nullptr && !q->enabled) q->size = static_cast<uint16_t>(value);
            break;
        case 0x1a:
            if (q != nullptr) q->msix_vector = vector_or_none(static_cast<uint16_t>(value));
            break;
        case 0x1c:
            // 4.1.4.3.2: the driver never writes 0; a queue is disabled only by a reset.
            if (q != nullptr && value == 1 && !q->enabled) enable_queue(queue_select_);
            break;
        case 0x20:
            if (q != nullptr && !q->enabled) q->desc = value;
            break;
        case 0x28:
            if (q != nullptr && !q->enabled) q->driver = value;
            break;
        case 0x30:
            if (q != nullptr && !q->enabled) q->device = value;
            break;
        default: break;  // read-only fields
    }
}

void VirtioPciFunction::reset_device() {
    // 2.1 and 4.1.4.3.1: writing 0 resets the device; everything the driver set returns
    // to its initial value, vectors to "no vector" (4.1.5.1.2).
    status_ = 0;
    isr_ = 0;
    device_feature_select_ = 0;
    driver_feature_select_ = 0;
    driver_features_ = 0;
    driver_features_beyond_64_ = false;
    msix_config_ = kNoVector;
    queue_select_ = 0;
    feature_refusal_logged_ = false;
    for (uint16_t i = 0; i < queue_count(); ++i) {
        Queue& q = queues_[i];
        q.ring.stop();
        q.size = device_->max_queue_size(i);
        q.msix_vector = kNoVector;
        q.enabled = false;
        q.desc = q.driver = q.device = 0;
    }
    device_->reset();
}

void VirtioPciFunction::write_status(uint8_t value) {
    if (value == 0) {
        reset_device();
        return;
    }
    const uint8_t old = status_;
    // DEVICE_NEEDS_RESET is the device's bit: the driver neither sets nor clears it.
    uint8_t next = static_cast<uint8_t>((value & ~kStatusNeedsReset) | (old & kStatusNeedsReset));
    if ((next & kStatusFeaturesOk) != 0 && (old & kStatusFeaturesOk) == 0) {
        std::string why;
        if (!features_acceptable(why)) {
            // 2.2.2 and 3.1.1: the driver re-reads the status and finds FEATURES_OK clear.
            next = static_cast<uint8_t>(next & ~kStatusFeaturesOk);
            if (!feature_refusal_logged_) log_(label_ + ": FEATURES_OK refused: " + why);
            feature_refusal_logged_ = true;
        }
    }
    status_ = next;
    if ((next & kStatusDriverOk) != 0 && (old & kStatusDriverOk) == 0 && live()) {
        device_->driver_ok();
        // Buffers made available before DRIVER_OK were not consumed (3.1.1); look now.
        for (uint16_t q = 0; q < queue_count() && live(); ++q)
            if (queues_[q].enabled) device_->process_queue(q);
    }
}

bool VirtioPciFunction::features_acceptable(std::string& why) const {
    const uint64_t offered = (device_->device_features() & kDeviceFeatureBits) | kTransportFeatures;
    if (driver_features_beyond_64_ || (driver_features_ & ~offered) != 0) {
        why = "the driver accepted features " + hex(driver_features_ & ~offered) +
              (driver_features_beyond_64_ ? " (and bits above 63)" : "") + " that were not offered";
        return false;
    }
    if ((driver_features_ & kVirtioFVersion1) == 0) {
        why = "the driver did not accept VIRTIO_F_VERSION_1 (this device has no legacy interface)";
        return false;
    }
    return true;
}

void VirtioPciFunction::enable_queue(uint16_t q) {
    Queue& queue = queues_[q];
    Virtqueue::Layout layout;
    layout.size = queue.size;
    layout.desc = queue.desc;
    layout.driver = queue.driver;
    layout.device = queue.device;
    layout.indirect_allowed = (driver_features_ & kVirtioFIndirectDesc) != 0;
    std::string why;
    if (!queue.ring.start(layout, device_->max_queue_size(q), why)) {
        driver_error("queue " + std::to_string(q) + ": " + why);
        return;
    }
    queue.enabled = true;
}

bool VirtioPciFunction::live() const {
    const uint8_t required = kStatusDriverOk | kStatusFeaturesOk;
    return (status_ & required) == required && (status_ & (kStatusNeedsReset | kStatusFailed)) == 0 &&
           (config16(pci_config::kCommand) & pci_config::kCommandBusMaster) != 0;
}

Virtqueue* VirtioPciFunction::running_queue(uint16_t q) {
    if (!live() || q >= queues_.size() || !queues_[q].enabled) return nullptr;
    return &queues_[q].ring;
}

void VirtioPciFunction::notify(uint16_t q) {
    if (running_queue(q) != nullptr) device_->process_queue(q);
}

void VirtioPciFunction::ring_doorbell(uint16_t queue) { notify(queue); }

std::optional<VirtioPciFunction::NotifyRegion> VirtioPciFunction::notify_region() const {
    if (!bar0_enabled()) return std::nullopt;
    NotifyRegion region;
    region.gpa = uint64_t{bar0_base()} + kNotifyOffset;
    region.length = kNotifyOffMultiplier * static_cast<uint32_t>(std::max<size_t>(queues_.size(), 1));
    region.multiplier = kNotifyOffMultiplier;
    return region;
}

void VirtioPciFunction::queue_used(uint16_t q) {
    if (q >= queues_.size() || !queues_[q].ring.driver_wants_interrupt(memory_)) return;
    // 4.1.4.5: the queue bit of the ISR is for INTx only, i.e. without MSI-X.
    if ((msix_control() & kMsixEnable) == 0) isr_ |= kIsrQueue;
    signal(queues_[q].msix_vector);
}

void VirtioPciFunction::config_changed() {
    ++config_generation_;
    config_interrupt();
}

void VirtioPciFunction::config_interrupt() {
    // 4.1.5.4: the ISR's configuration bit, then msix_config's vector; a driver hears of
    // changes only once it is running (DRIVER_OK).
    isr_ |= kIsrConfig;
    if ((status_ & kStatusDriverOk) != 0) signal(msix_config_);
}

void VirtioPciFunction::driver_error(const std::string& reason) {
    if ((status_ & kStatusNeedsReset) != 0) return;
    // 2.1.2: DEVICE_NEEDS_RESET, and with DRIVER_OK a configuration change notification.
    status_ |= kStatusNeedsReset;
    log_(label_ + ": " + reason + "; the device is stopped until the driver resets it (DEVICE_NEEDS_RESET)");
    config_interrupt();
}

uint16_t VirtioPciFunction::vector_or_none(uint16_t vector) const {
    // 4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR.
    return vector < msix_vectors_ ? vector : kNoVector;
}

bool VirtioPciFunction::vector_masked(uint16_t vector) const {
    return (msix_table_[size_t{vector} * kMsixEntryBytes + kMsixVectorControl] & 1) != 0;
}

void VirtioPciFunction::signal(uint16_t vector) {
    if (vector >= msix_vectors_) return;  // includes kNoVector
    const uint16_t control = msix_control();
    if ((control & kMsixEnable) == 0 || (config16(pci_config::kCommand) & pci_config::kCommandBusMaster) == 0) return;
    // PCI 3.0, 6.8.2.9: a masked vector's message waits as its pending bit.
    if ((control & kMsixFunctionMask) != 0 || vector_masked(vector)) {
        msix_pending_[vector] = true;
        return;
    }
    const uint8_t* entry = msix_table_.data() + size_t{vector} * kMsixEntryBytes;
    msi_.send_msi(load_le64(entry), load_le32(entry + 8));
}

void VirtioPciFunction::deliver_unmasked_pending() {
    const uint16_t control = msix_control();
    if ((control & kMsixEnable) == 0 || (control & kMsixFunctionMask) != 0) return;
    if ((config16(pci_config::kCommand) & pci_config::kCommandBusMaster) == 0) return;
    for (uint16_t v = 0; v < msix_vectors_; ++v) {
        if (!msix_pending_[v] || vector_masked(v)) continue;
        msix_pending_[v] = false;
        signal(v);
    }
}

void VirtioPciFunction::msix_table_write(uint32_t offset, unsigned size, uint64_t value) {
    // PCI 3.0, 6.8.2: software uses aligned DWORD or QWORD accesses (QWORDs arrive here
    // as two DWORDs); anything else is undefined, and ignored here.
    if (size != 4 || offset % 4 != 0 || offset + 4 > msix_table_.size()) return;
    uint32_t v = static_cast<uint32_t>(value);
    const uint32_t field = offset % kMsixEntryBytes;
    if (field == 0) v &= ~3u;                  // message address bits 1:0 read as 0 (6.8.2.6)
    if (field == kMsixVectorControl) v &= 1u;  // only the mask bit is defined (6.8.2.9)
    store_le32(msix_table_.data() + offset, v);
    if (field == kMsixVectorControl) deliver_unmasked_pending();
}

void VirtioPciFunction::pba_image(std::vector<uint8_t>& image) const {
    image.assign(size_t{(msix_vectors_ + 63u) / 64u} * 8, 0);
    for (uint16_t v = 0; v < msix_vectors_; ++v)
        if (msix_pending_[v]) image[v / 8] = static_cast<uint8_t>(image[v / 8] | (1u << (v % 8)));
}

}  // namespace devmodel
