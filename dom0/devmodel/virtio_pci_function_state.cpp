// VirtioPciFunction's save and restore: its state to a VirtioFunctionState and back
// (virtio_function_state.hpp has the fields, docs/save-format.md the bytes). A restore
// checks everything first and changes nothing unless all of it is acceptable, so a
// broken or foreign state never leaves a half-restored device.
#include <string>
#include <vector>

#include "dom0/devmodel/little_endian.hpp"
#include "dom0/devmodel/virtio_pci_function.hpp"

namespace devmodel {

namespace {

constexpr uint8_t kKnownStatus = VirtioPciFunction::kStatusAcknowledge | VirtioPciFunction::kStatusDriver |
                                 VirtioPciFunction::kStatusDriverOk | VirtioPciFunction::kStatusFeaturesOk |
                                 VirtioPciFunction::kStatusNeedsReset | VirtioPciFunction::kStatusFailed;

bool fail(std::string& error, const std::string& why) {
    error = why;
    return false;
}

}  // namespace

bool VirtioPciFunction::save(StateOut& out, std::string& error) const {
    VirtioFunctionState s;
    s.device_id = device_->device_id();
    s.command = config16(pci_config::kCommand);
    s.cache_line_size = config_[pci_config::kCacheLineSize];
    s.interrupt_line = config_[pci_config::kInterruptLine];
    s.bar0 = load_le32(config_ + pci_config::kBar0);
    s.msix_control = msix_control();
    s.pci_cfg_bar = config_[cap_pci_cfg_ + 4];
    s.pci_cfg_offset = load_le32(config_ + cap_pci_cfg_ + 8);
    s.pci_cfg_length = load_le32(config_ + cap_pci_cfg_ + 12);
    s.pci_cfg_data = load_le32(config_ + cap_pci_cfg_ + kPciCfgDataOffset);
    for (uint16_t v = 0; v < msix_vectors_; ++v) {
        const uint8_t* entry = msix_table_.data() + size_t{v} * kMsixEntryBytes;
        s.msix_table.push_back({load_le64(entry), load_le32(entry + 8), load_le32(entry + kMsixVectorControl)});
        s.msix_pending.push_back(msix_pending_[v]);
    }
    s.device_feature_select = device_feature_select_;
    s.driver_feature_select = driver_feature_select_;
    s.driver_features = driver_features_;
    s.driver_features_beyond_64 = driver_features_beyond_64_;
    s.msix_config = msix_config_;
    s.device_status = status_;
    s.config_generation = config_generation_;
    s.isr = isr_;
    s.queue_select = queue_select_;
    for (uint16_t i = 0; i < queue_count(); ++i) {
        const Queue& q = queues_[i];
        VirtioQueueState qs;
        qs.size = q.size;
        qs.msix_vector = q.msix_vector;
        qs.enabled = q.enabled;
        qs.desc = q.desc;
        qs.driver = q.driver;
        qs.device = q.device;
        if (q.enabled) {
            // Chains the device still holds are given back (VirtioDevice::held_chains);
            // any other gap between the positions is a request in flight.
            const uint16_t held = device_->held_chains(i);
            qs.last_avail_idx = static_cast<uint16_t>(q.ring.last_avail_index() - held);
            qs.used_idx = q.ring.used_index();
            if (qs.last_avail_idx != qs.used_idx)
                return fail(error, label_ + ": queue " + std::to_string(i) + " has " +
                                       std::to_string(static_cast<uint16_t>(qs.last_avail_idx - qs.used_idx)) +
                                       " requests in flight; a device is saved quiesced");
        }
        s.queues.push_back(qs);
    }
    StateOut device_out;
    device_->save_state(device_out);
    s.device_state = device_out.data();
    encode_function_state(s, out);
    return true;
}

bool VirtioPciFunction::read_only_bits_match(uint32_t reg, unsigned width, uint32_t value) const {
    for (unsigned i = 0; i < width; ++i)
        if (((static_cast<uint8_t>(value >> (8 * i)) ^ config_[reg + i]) & ~writable_[reg + i]) != 0) return false;
    return true;
}

bool VirtioPciFunction::check_pci(const VirtioFunctionState& s, std::string& error) const {
    // Only bits the driver can write (build_config_space's mask) may differ from this
    // function's own: a live function's read-only bits (the MSI-X table size, say)
    // never change.
    if (!read_only_bits_match(pci_config::kCommand, 2, s.command))
        return fail(error, "command register " + hex(s.command) + " sets bits this function does not implement");
    if (!read_only_bits_match(pci_config::kBar0, 4, s.bar0))
        return fail(error, "BAR0 " + hex(s.bar0) + " is not a 32 KiB-aligned 32-bit memory BAR");
    if (!read_only_bits_match(cap_msix_ + 2u, 2, s.msix_control))
        return fail(error, "MSI-X message control " + hex(s.msix_control) + " sets read-only bits");
    if (s.msix_table.size() != msix_vectors_ || s.msix_pending.size() != msix_vectors_)
        return fail(error, "an MSI-X table of " + std::to_string(s.msix_table.size()) + " entries, this function has " +
                               std::to_string(msix_vectors_));
    for (size_t v = 0; v < s.msix_table.size(); ++v) {
        const MsixEntryState& e = s.msix_table[v];
        // PCI 3.0, 6.8.2.6 and 6.8.2.9: address bits 1:0 are 0, only the mask bit exists.
        if ((e.address & 3) != 0 || (e.control & ~1u) != 0)
            return fail(error, "MSI-X entry " + std::to_string(v) + " has reserved bits set");
    }
    return true;
}

bool VirtioPciFunction::check_queues(const VirtioFunctionState& s, std::string& error) const {
    if (s.queues.size() != queues_.size())
        return fail(error,
                    std::to_string(s.queues.size()) + " queues, this device has " + std::to_string(queues_.size()));
    const auto vector_ok = [&](uint16_t v) { return v == kNoVector || v < msix_vectors_; };
    for (uint16_t i = 0; i < queue_count(); ++i) {
        const VirtioQueueState& q = s.queues[i];
        const std::string name = "queue " + std::to_string(i);
        if (!vector_ok(q.msix_vector))
            return fail(error, name + ": MSI-X vector " + std::to_string(q.msix_vector) + " is not in the table");
        // A queue the driver has not enabled keeps whatever it wrote, checked when it
        // enables it (4.1.4.3.2); an enabled one must be a queue the device would run.
        if (!q.enabled) continue;
        Virtqueue::Layout layout;
        layout.size = q.size;
        layout.desc = q.desc;
        layout.driver = q.driver;
        layout.device = q.device;
        Virtqueue scratch;
        std::string why;
        if (!scratch.start(layout, device_->max_queue_size(i), why))
            return fail(error, std::string(name).append(": ").append(why));
        // 2.6: the descriptor table, available ring (with used_event) and used ring
        // (with avail_event) lie in the domU's RAM.
        const struct {
            uint64_t gpa;
            uint64_t len;
            const char* what;
        } areas[] = {{q.desc, 16ull * q.size, "descriptor table"},
                     {q.driver, 6ull + 2ull * q.size, "available ring"},
                     {q.device, 6ull + 8ull * q.size, "used ring"}};
        for (const auto& a : areas) {
            std::vector<uint8_t> probe(static_cast<size_t>(a.len));
            if (!memory_.read(a.gpa, probe.data(), probe.size()))
                return fail(error, name + ": the " + std::string(a.what) + " at " + hex(a.gpa) + " is not guest RAM");
        }
        if (q.last_avail_idx != q.used_idx)
            return fail(error, name + ": " + std::to_string(static_cast<uint16_t>(q.last_avail_idx - q.used_idx)) +
                                   " requests in flight (a state is taken quiesced)");
    }
    return true;
}

bool VirtioPciFunction::check(const VirtioFunctionState& s, std::string& error) const {
    std::string why;
    if (!check_common(s, why) || !check_pci(s, why) || !check_queues(s, why)) return fail(error, label_ + ": " + why);
    StateIn device_in(s.device_state);
    if (!device_->check_state(device_in))
        return fail(error, label_ + ": " + device_->name() + " state: " + device_in.error());
    return true;
}

bool VirtioPciFunction::check_common(const VirtioFunctionState& s, std::string& error) const {
    if (s.device_id != device_->device_id())
        return fail(error, "the state is of virtio device type " + std::to_string(s.device_id) + ", this is " +
                               std::to_string(device_->device_id()));
    if ((s.device_status & ~kKnownStatus) != 0)
        return fail(error, "device_status " + hex(s.device_status) + " has undefined bits (2.1)");
    if ((s.isr & ~(kIsrQueue | kIsrConfig)) != 0)
        return fail(error, "ISR status " + hex(s.isr) + " has undefined bits (4.1.4.5)");
    if (s.msix_config != kNoVector && s.msix_config >= msix_vectors_)
        return fail(error, "msix_config " + std::to_string(s.msix_config) + " is not in the MSI-X table");
    if ((s.device_status & kStatusFeaturesOk) == 0) return true;
    // 3.1.1: FEATURES_OK stays set only for features the device offered, VERSION_1 among them.
    const uint64_t offered = (device_->device_features() & kDeviceFeatureBits) | kTransportFeatures;
    if (s.driver_features_beyond_64 || (s.driver_features & ~offered) != 0 ||
        (s.driver_features & kVirtioFVersion1) == 0)
        return fail(error, "FEATURES_OK with features " + hex(s.driver_features) +
                               ", not a set this device accepts (it offers " + hex(offered) + ")");
    return true;
}

bool VirtioPciFunction::restore(const VirtioFunctionState& state, std::string& error) {
    if (!check(state, error)) return false;
    apply(state);
    return true;
}

void VirtioPciFunction::apply(const VirtioFunctionState& s) {
    store_le16(config_ + pci_config::kCommand, s.command);
    config_[pci_config::kCacheLineSize] = s.cache_line_size;
    config_[pci_config::kInterruptLine] = s.interrupt_line;
    store_le32(config_ + pci_config::kBar0, s.bar0);
    store_le16(config_ + cap_msix_ + 2, s.msix_control);
    config_[cap_pci_cfg_ + 4] = s.pci_cfg_bar;
    store_le32(config_ + cap_pci_cfg_ + 8, s.pci_cfg_offset);
    store_le32(config_ + cap_pci_cfg_ + 12, s.pci_cfg_length);
    store_le32(config_ + cap_pci_cfg_ + kPciCfgDataOffset, s.pci_cfg_data);
    for (uint16_t v = 0; v < msix_vectors_; ++v) {
        uint8_t* entry = msix_table_.data() + size_t{v} * kMsixEntryBytes;
        store_le64(entry, s.msix_table[v].address);
        store_le32(entry + 8, s.msix_table[v].data);
        store_le32(entry + kMsixVectorControl, s.msix_table[v].control);
        msix_pending_[v] = s.msix_pending[v];
    }
    device_feature_select_ = s.device_feature_select;
    driver_feature_select_ = s.driver_feature_select;
    driver_features_ = s.driver_features;
    driver_features_beyond_64_ = s.driver_features_beyond_64;
    msix_config_ = s.msix_config;
    status_ = s.device_status;
    config_generation_ = s.config_generation;
    isr_ = s.isr;
    queue_select_ = s.queue_select;
    feature_refusal_logged_ = false;
    for (uint16_t i = 0; i < queue_count(); ++i) {
        const VirtioQueueState& qs = s.queues[i];
        Queue& q = queues_[i];
        q.ring.stop();
        q.size = qs.size;
        q.msix_vector = qs.msix_vector;
        q.enabled = qs.enabled;
        q.desc = qs.desc;
        q.driver = qs.driver;
        q.device = qs.device;
        if (!q.enabled) continue;
        Virtqueue::Layout layout;
        layout.size = q.size;
        layout.desc = q.desc;
        layout.driver = q.driver;
        layout.device = q.device;
        layout.indirect_allowed = (driver_features_ & kVirtioFIndirectDesc) != 0;
        std::string unused;  // check_queues started the same layout
        q.ring.start(layout, device_->max_queue_size(i), unused);
        q.ring.resume_at(qs.last_avail_idx, qs.used_idx);
    }
    StateIn device_in(s.device_state);
    device_->apply_state(device_in);
}

void VirtioPciFunction::resume() {
    // As after DRIVER_OK (3.1.1): chains made available before the save, notified or
    // not, are served now; pending MSI-X messages whose vectors are unmasked go out.
    deliver_unmasked_pending();
    for (uint16_t q = 0; q < queue_count() && live(); ++q)
        if (queues_[q].enabled) device_->process_queue(q);
}

}  // namespace devmodel
