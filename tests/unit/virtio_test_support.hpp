// Fakes and a scripted driver for the virtio device model tests
// (tests/unit/virtio_*_test.cpp): guest RAM as a byte vector, an MSI sink that records,
// an in-memory disk, and VirtioTestDriver, which does what Linux's virtio_pci and
// virtio_ring do, one configuration or MMIO access at a time, through a DeviceMachine.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dom0/devmodel/block_backend.hpp"
#include "dom0/devmodel/device_machine.hpp"
#include "dom0/devmodel/guest_memory.hpp"
#include "dom0/devmodel/little_endian.hpp"
#include "dom0/devmodel/msi_sink.hpp"
#include "dom0/devmodel/virtio_pci_function.hpp"

namespace virtio_test {

using devmodel::VirtioPciFunction;

// RAM at [base, base + size).
class FakeGuestMemory final : public devmodel::GuestMemory {
public:
    FakeGuestMemory(uint64_t base, size_t size) : base_(base), bytes_(size, 0) {}
    bool read(uint64_t gpa, void* dst, size_t len) override {
        if (!inside(gpa, len)) return false;
        if (len != 0) std::memcpy(dst, bytes_.data() + (gpa - base_), len);
        ++reads;
        return true;
    }
    bool write(uint64_t gpa, const void* src, size_t len) override {
        if (!inside(gpa, len)) return false;
        if (len != 0) std::memcpy(bytes_.data() + (gpa - base_), src, len);
        return true;
    }
    bool inside(uint64_t gpa, size_t len) const {
        return gpa >= base_ && gpa - base_ <= bytes_.size() && len <= bytes_.size() - (gpa - base_);
    }
    uint8_t* at(uint64_t gpa) { return bytes_.data() + (gpa - base_); }
    uint16_t le16(uint64_t gpa) { return devmodel::load_le16(at(gpa)); }
    uint32_t le32(uint64_t gpa) { return devmodel::load_le32(at(gpa)); }
    void put16(uint64_t gpa, uint16_t v) { devmodel::store_le16(at(gpa), v); }
    void put32(uint64_t gpa, uint32_t v) { devmodel::store_le32(at(gpa), v); }
    void put64(uint64_t gpa, uint64_t v) { devmodel::store_le64(at(gpa), v); }
    uint64_t base() const { return base_; }
    uint64_t end() const { return base_ + bytes_.size(); }
    size_t reads = 0;

private:
    uint64_t base_;
    std::vector<uint8_t> bytes_;
};

struct Msi {
    uint64_t address;
    uint32_t data;
    bool operator==(const Msi& o) const { return address == o.address && data == o.data; }
};

class RecordingMsiSink final : public devmodel::MsiSink {
public:
    void send_msi(uint64_t address, uint32_t data) override { sent.push_back({address, data}); }
    std::vector<Msi> sent;
};

class MemoryDisk final : public devmodel::BlockBackend {
public:
    explicit MemoryDisk(size_t bytes, bool read_only = false) : bytes_(bytes), read_only_(read_only) {
        for (size_t i = 0; i < bytes; ++i) bytes_[i] = static_cast<uint8_t>(i * 7 + i / 512);
    }
    uint64_t size_bytes() const override { return bytes_.size(); }
    bool read_only() const override { return read_only_; }
    bool read(uint64_t offset, void* dst, size_t len) override {
        if (fail_io || offset + len > bytes_.size()) return false;
        std::memcpy(dst, bytes_.data() + offset, len);
        return true;
    }
    bool write(uint64_t offset, const void* src, size_t len) override {
        ++writes;
        if (fail_io || read_only_ || offset + len > bytes_.size()) return false;
        std::memcpy(bytes_.data() + offset, src, len);
        return true;
    }
    bool flush() override {
        ++flushes;
        return !fail_io;
    }
    std::vector<uint8_t>& bytes() { return bytes_; }
    int writes = 0;
    int flushes = 0;
    bool fail_io = false;

private:
    std::vector<uint8_t> bytes_;
    bool read_only_;
};

// One buffer of a chain the test driver builds.
struct Buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

constexpr uint64_t kRamBase = 0x100000;
constexpr size_t kRamSize = 8 << 20;
constexpr uint64_t kMmioBase = 0xe0000000;
constexpr uint64_t kMsiAddress = 0xfee00000;
constexpr uint32_t kMsiDataBase = 0x4040;  // vector v sends kMsiDataBase + v

// The driver of one function, as Linux's virtio_pci_modern and virtio_ring do it.
class VirtioTestDriver {
public:
    struct Queue {
        uint16_t size = 0;
        uint64_t desc = 0, avail = 0, used = 0;
        uint16_t next_desc = 0;
        uint16_t avail_idx = 0;
    };

    VirtioTestDriver(devmodel::DeviceMachine& machine, FakeGuestMemory& ram, unsigned slot)
        : machine_(machine),
          ram_(ram),
          bdf_(devmodel::DeviceMachine::bdf(0, slot, 0)),
          next_free_(kRamBase + 0x80000ull * (slot + 1)) {}

    uint32_t cfg_read(uint32_t reg, unsigned size) { return machine_.pci_config_read(bdf_, reg, size); }
    void cfg_write(uint32_t reg, unsigned size, uint32_t v) { machine_.pci_config_write(bdf_, reg, size, v); }

    // PCI: find the virtio capabilities by walking the list (4.1.4.1), size BAR0 and
    // turn on memory decoding and bus mastering.
    void probe_pci() {
        ASSERT_EQ(cfg_read(0x00, 2), 0x1af4u);
        ASSERT_NE(cfg_read(0x06, 2) & 0x10, 0u) << "capabilities list bit";
        unsigned guard = 0;
        for (uint32_t at = cfg_read(0x34, 1) & ~3u; at != 0; at = cfg_read(at + 1, 1) & ~3u) {
            ASSERT_LT(++guard, 48u) << "capability list loops";
            const uint8_t id = static_cast<uint8_t>(cfg_read(at, 1));
            if (id == 0x11) msix_cap = at;
            if (id != 0x09) continue;
            const uint8_t type = static_cast<uint8_t>(cfg_read(at + 3, 1));
            if (caps.count(type) != 0) continue;  // the first of each type counts
            caps[type] = {at, cfg_read(at + 4, 1), cfg_read(at + 8, 4), cfg_read(at + 12, 4)};
            if (type == 2) notify_multiplier = cfg_read(at + 16, 4);
        }
        // BAR sizing as Linux's __pci_read_base: decoding off, all ones, read the mask.
        const uint32_t bar = cfg_read(0x10, 4);
        cfg_write(0x10, 4, 0xffffffff);
        bar_size = ~(cfg_read(0x10, 4) & ~0xfu) + 1;
        cfg_write(0x10, 4, bar);
        bar0 = cfg_read(0x10, 4) & ~0xfu;
        cfg_write(0x04, 2, cfg_read(0x04, 2) | 0x6);  // memory space, bus master
    }

    // The address of offset `off` of the structure of virtio capability `type`.
    uint64_t at(uint8_t type, uint32_t off) { return bar0 + caps.at(type).offset + off; }
    uint64_t mmio_read(uint64_t gpa, unsigned size) { return machine_.mmio_read(gpa, size); }
    void mmio_write(uint64_t gpa, unsigned size, uint64_t v) { machine_.mmio_write(gpa, size, v); }
    uint64_t common_read(uint32_t off, unsigned size) { return mmio_read(at(1, off), size); }
    void common_write(uint32_t off, unsigned size, uint64_t v) { mmio_write(at(1, off), size, v); }

    uint8_t status() { return static_cast<uint8_t>(common_read(0x14, 1)); }
    void set_status(uint8_t s) { common_write(0x14, 1, s); }

    uint64_t device_features() {
        common_write(0x00, 4, 0);
        uint64_t f = common_read(0x04, 4);
        common_write(0x00, 4, 1);
        return f | (common_read(0x04, 4) << 32);
    }
    void write_driver_features(uint64_t f) {
        common_write(0x08, 4, 0);
        common_write(0x0c, 4, static_cast<uint32_t>(f));
        common_write(0x08, 4, 1);
        common_write(0x0c, 4, static_cast<uint32_t>(f >> 32));
    }

    // MSI-X as Linux's msix_capability_init: enable with the function masked, program
    // and unmask each entry, then clear the function mask.
    void enable_msix(unsigned vectors) {
        ASSERT_NE(msix_cap, 0u);
        const uint32_t control = cfg_read(msix_cap + 2, 2);
        const uint32_t table = cfg_read(msix_cap + 4, 4);
        ASSERT_EQ(table & 7, 0u) << "table in BAR0";
        ASSERT_LE(vectors, (control & 0x7ff) + 1);
        msix_table = bar0 + (table & ~7u);
        cfg_write(msix_cap + 2, 2, control | 0xc000);
        for (unsigned v = 0; v < vectors; ++v) {
            mmio_write(msix_table + 16 * v, 4, static_cast<uint32_t>(kMsiAddress));
            mmio_write(msix_table + 16 * v + 4, 4, 0);
            mmio_write(msix_table + 16 * v + 8, 4, kMsiDataBase + v);
            mmio_write(msix_table + 16 * v + 12, 4, 0);
        }
        cfg_write(msix_cap + 2, 2, (control | 0x8000) & ~0x4000u);
    }

    // Memory for rings and buffers: 512 KiB per slot.
    uint64_t alloc(uint64_t size, uint64_t align = 16) {
        next_free_ = (next_free_ + align - 1) & ~(align - 1);
        const uint64_t at = next_free_;
        next_free_ += size;
        return at;
    }

    // 3.1.1 up to FEATURES_OK; true when the device kept FEATURES_OK.
    bool negotiate(uint64_t wanted) {
        set_status(0);
        set_status(1);
        set_status(1 | 2);
        write_driver_features(device_features() & wanted);
        set_status(1 | 2 | 8);
        return (status() & 8) != 0;
    }

    // 4.1.5.1.3: one queue, `size` entries (0: the device's maximum), MSI-X vector.
    void setup_queue(uint16_t q, uint16_t size, uint16_t vector) {
        common_write(0x16, 2, q);
        const uint16_t max = static_cast<uint16_t>(common_read(0x18, 2));
        ASSERT_NE(max, 0u);
        Queue& dq = queues[q];
        dq.size = size != 0 ? size : max;
        common_write(0x18, 2, dq.size);
        dq.desc = alloc(16u * dq.size, 16);
        dq.avail = alloc(6u + 2u * dq.size, 2);
        dq.used = alloc(6u + 8u * dq.size, 4);
        common_write(0x1a, 2, vector);
        ASSERT_EQ(common_read(0x1a, 2), vector) << "the device took the vector";
        write64(0x20, dq.desc);
        write64(0x28, dq.avail);
        write64(0x30, dq.used);
        common_write(0x1c, 2, 1);
    }
    void write64(uint32_t off, uint64_t v) {  // as vp_iowrite64_twopart
        common_write(off, 4, static_cast<uint32_t>(v));
        common_write(off + 4, 4, static_cast<uint32_t>(v >> 32));
    }

    // Everything Linux does for a device with `queues` queues: vector 0 for
    // configuration changes, vector q + 1 for queue q.
    void bring_up(uint64_t features, uint16_t nqueues, uint16_t queue_size = 0) {
        probe_pci();
        ASSERT_TRUE(negotiate(features));
        enable_msix(nqueues + 1u);
        common_write(0x10, 2, 0);
        ASSERT_EQ(common_read(0x10, 2), 0u);
        for (uint16_t q = 0; q < nqueues; ++q) setup_queue(q, queue_size, static_cast<uint16_t>(q + 1));
        set_status(1 | 2 | 8 | 4);
    }

    // Descriptor table entry i of queue q.
    void write_desc(uint16_t q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        const uint64_t d = queues[q].desc + 16ull * i;
        ram_.put64(d, addr);
        ram_.put32(d + 8, len);
        ram_.put16(d + 12, flags);
        ram_.put16(d + 14, next);
    }
    // Makes head available (avail ring entry, then the index).
    void publish(uint16_t q, uint16_t head) {
        Queue& dq = queues[q];
        ram_.put16(dq.avail + 4 + 2ull * (dq.avail_idx % dq.size), head);
        ++dq.avail_idx;
        ram_.put16(dq.avail + 2, dq.avail_idx);
    }
    // A direct chain from the next free descriptors; returns its head.
    uint16_t add_chain(uint16_t q, const std::vector<Buf>& bufs) {
        Queue& dq = queues[q];
        const uint16_t head = dq.next_desc;
        for (size_t i = 0; i < bufs.size(); ++i) {
            const uint16_t index = static_cast<uint16_t>((head + i) % dq.size);
            const uint16_t next = static_cast<uint16_t>((head + i + 1) % dq.size);
            const bool last = i + 1 == bufs.size();
            write_desc(q, index, bufs[i].gpa, bufs[i].len,
                       static_cast<uint16_t>((last ? 0 : 1) | (bufs[i].writable ? 2 : 0)), last ? 0 : next);
        }
        dq.next_desc = static_cast<uint16_t>((head + bufs.size()) % dq.size);
        publish(q, head);
        return head;
    }
    // One descriptor pointing at an indirect table holding `bufs`.
    uint16_t add_indirect_chain(uint16_t q, const std::vector<Buf>& bufs) {
        const uint64_t table = alloc(16 * bufs.size(), 16);
        for (size_t i = 0; i < bufs.size(); ++i) {
            const uint64_t d = table + 16 * i;
            const bool last = i + 1 == bufs.size();
            ram_.put64(d, bufs[i].gpa);
            ram_.put32(d + 8, bufs[i].len);
            ram_.put16(d + 12, static_cast<uint16_t>((last ? 0 : 1) | (bufs[i].writable ? 2 : 0)));
            ram_.put16(d + 14, static_cast<uint16_t>(last ? 0 : i + 1));
        }
        Queue& dq = queues[q];
        const uint16_t head = dq.next_desc;
        write_desc(q, head, table, static_cast<uint32_t>(16 * bufs.size()), 4, 0);
        dq.next_desc = static_cast<uint16_t>((head + 1) % dq.size);
        publish(q, head);
        return head;
    }
    void kick(uint16_t q) { mmio_write(at(2, 0) + uint64_t{notify_multiplier} * queue_notify_off(q), 2, q); }
    uint16_t queue_notify_off(uint16_t q) {
        common_write(0x16, 2, q);
        return static_cast<uint16_t>(common_read(0x1e, 2));
    }
    uint16_t used_idx(uint16_t q) { return ram_.le16(queues[q].used + 2); }
    // Used element i of queue q: {id, len}.
    std::pair<uint32_t, uint32_t> used(uint16_t q, uint16_t i) {
        const uint64_t e = queues[q].used + 4 + 8ull * (i % queues[q].size);
        return {ram_.le32(e), ram_.le32(e + 4)};
    }

    // Takes over another driver's bookkeeping (capabilities, BAR, queues, free memory):
    // the same guest driver, now talking to a restored device model.
    void adopt(const VirtioTestDriver& other) {
        caps = other.caps;
        msix_cap = other.msix_cap;
        notify_multiplier = other.notify_multiplier;
        bar_size = other.bar_size;
        bar0 = other.bar0;
        msix_table = other.msix_table;
        queues = other.queues;
        next_free_ = other.next_free_;
    }

    struct Cap {
        uint32_t at;
        uint32_t bar, offset, length;
    };
    std::map<uint8_t, Cap> caps;
    uint32_t msix_cap = 0;
    uint32_t notify_multiplier = 0;
    uint32_t bar_size = 0;
    uint64_t bar0 = 0;
    uint64_t msix_table = 0;
    std::map<uint16_t, Queue> queues;

private:
    devmodel::DeviceMachine& machine_;
    FakeGuestMemory& ram_;
    uint16_t bdf_;
    uint64_t next_free_;
};

}  // namespace virtio_test
