#include "dom0/devmodel/virtio_function_state.hpp"

#include "dom0/devmodel/little_endian.hpp"

namespace devmodel {

void encode_function_state(const VirtioFunctionState& s, StateOut& out) {
    out.u32(VirtioFunctionState::kMagic);
    out.u16(VirtioFunctionState::kVersion);
    out.u16(s.device_id);

    out.u16(s.command);
    out.u8(s.cache_line_size);
    out.u8(s.interrupt_line);
    out.u32(s.bar0);
    out.u16(s.msix_control);
    out.u8(s.pci_cfg_bar);
    out.u8(0);
    out.u32(s.pci_cfg_offset);
    out.u32(s.pci_cfg_length);
    out.u32(s.pci_cfg_data);

    out.u16(static_cast<uint16_t>(s.msix_table.size()));
    out.u16(0);
    for (size_t v = 0; v < s.msix_table.size(); ++v) {
        const MsixEntryState& e = s.msix_table[v];
        out.u64(e.address);
        out.u32(e.data);
        out.u32(e.control);
        out.u8(v < s.msix_pending.size() && s.msix_pending[v] ? 1 : 0);
    }

    out.u32(s.device_feature_select);
    out.u32(s.driver_feature_select);
    out.u64(s.driver_features);
    out.u8(s.driver_features_beyond_64 ? 1 : 0);
    out.u8(s.device_status);
    out.u8(s.config_generation);
    out.u8(s.isr);
    out.u16(s.msix_config);
    out.u16(s.queue_select);

    out.u16(static_cast<uint16_t>(s.queues.size()));
    out.u16(0);
    for (const VirtioQueueState& q : s.queues) {
        out.u16(q.size);
        out.u16(q.msix_vector);
        out.u8(q.enabled ? 1 : 0);
        out.u8(0);
        out.u16(0);  // flags: none in version 1 (event-idx state would go here)
        out.u64(q.desc);
        out.u64(q.driver);
        out.u64(q.device);
        out.u16(q.last_avail_idx);
        out.u16(q.used_idx);
    }

    out.u32(static_cast<uint32_t>(s.device_state.size()));
    out.bytes(s.device_state.data(), s.device_state.size());
}

namespace {

bool flag(StateIn& in, const char* what) {
    const uint8_t v = in.u8(what);
    if (v > 1) in.fail(std::string(what) + " is " + std::to_string(v) + ", not 0 or 1");
    return v == 1;
}

void zero(StateIn& in, uint64_t v, const char* what) {
    if (v != 0) in.fail(std::string(what) + " (reserved) is not 0");
}

}  // namespace

bool decode_function_state(StateIn& in, VirtioFunctionState& out, std::string& error) {
    VirtioFunctionState s;
    const uint32_t magic = in.u32("the function state's magic");
    const uint16_t version = in.u16("the function state's version");
    if (in.ok() && magic != VirtioFunctionState::kMagic)
        in.fail("not a virtio function state (magic " + hex(magic) + ")");
    if (in.ok() && version != VirtioFunctionState::kVersion)
        in.fail("function state version " + std::to_string(version) + ", this vireo-dm reads version " +
                std::to_string(VirtioFunctionState::kVersion));
    s.device_id = in.u16("device_id");

    s.command = in.u16("command");
    s.cache_line_size = in.u8("cache_line_size");
    s.interrupt_line = in.u8("interrupt_line");
    s.bar0 = in.u32("bar0");
    s.msix_control = in.u16("msix_control");
    s.pci_cfg_bar = in.u8("pci_cfg bar");
    zero(in, in.u8("pci_cfg pad"), "the byte after pci_cfg bar");
    s.pci_cfg_offset = in.u32("pci_cfg offset");
    s.pci_cfg_length = in.u32("pci_cfg length");
    s.pci_cfg_data = in.u32("pci_cfg_data");

    const uint16_t vectors = in.u16("the MSI-X table size");
    zero(in, in.u16("MSI-X pad"), "the word after the MSI-X table size");
    if (in.ok() && vectors > VirtioFunctionState::kMaxVectors)
        in.fail("an MSI-X table of " + std::to_string(vectors) + " entries");
    for (uint16_t v = 0; in.ok() && v < vectors; ++v) {
        MsixEntryState e;
        e.address = in.u64("an MSI-X entry");
        e.data = in.u32("an MSI-X entry");
        e.control = in.u32("an MSI-X entry");
        s.msix_table.push_back(e);
        s.msix_pending.push_back(flag(in, "an MSI-X pending bit"));
    }

    s.device_feature_select = in.u32("device_feature_select");
    s.driver_feature_select = in.u32("driver_feature_select");
    s.driver_features = in.u64("driver_features");
    s.driver_features_beyond_64 = flag(in, "the features-above-63 flag");
    s.device_status = in.u8("device_status");
    s.config_generation = in.u8("config_generation");
    s.isr = in.u8("isr");
    s.msix_config = in.u16("msix_config");
    s.queue_select = in.u16("queue_select");

    const uint16_t queues = in.u16("the queue count");
    zero(in, in.u16("queue count pad"), "the word after the queue count");
    if (in.ok() && queues > VirtioFunctionState::kMaxQueues) in.fail(std::to_string(queues) + " queues");
    for (uint16_t i = 0; in.ok() && i < queues; ++i) {
        VirtioQueueState q;
        q.size = in.u16("a queue");
        q.msix_vector = in.u16("a queue");
        q.enabled = flag(in, "queue_enable");
        zero(in, in.u8("a queue"), "a queue's pad byte");
        zero(in, in.u16("a queue"), "a queue's flags");
        q.desc = in.u64("a queue");
        q.driver = in.u64("a queue");
        q.device = in.u64("a queue");
        q.last_avail_idx = in.u16("a queue");
        q.used_idx = in.u16("a queue");
        s.queues.push_back(q);
    }

    const uint32_t device_len = in.u32("the device state's length");
    if (in.ok() && device_len > VirtioFunctionState::kMaxDeviceState)
        in.fail("a device state of " + std::to_string(device_len) + " bytes");
    if (in.ok()) s.device_state = in.bytes(device_len, "the device state");
    if (!in.ok()) {
        error = in.error();
        return false;
    }
    out = std::move(s);
    return true;
}

}  // namespace devmodel
