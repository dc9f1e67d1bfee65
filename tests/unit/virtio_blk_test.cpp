// virtio-blk (dom0/devmodel/virtio_blk.cpp) behind the PCI transport, driven as Linux's
// virtio_blk does it: requests in the ring, a notify, the used ring, the data and the
// MSI. Two disks sit side by side so that every hostile request also shows that it
// stops only its own device.
#include "dom0/devmodel/virtio_blk.hpp"

#include <gtest/gtest.h>

#include "dom0/devmodel/device_machine.hpp"
#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DeviceMachine;
using devmodel::VirtioBlk;
using devmodel::VirtioPciFunction;
using virtio_test::Buf;
using virtio_test::FakeGuestMemory;
using virtio_test::kMmioBase;
using virtio_test::kMsiAddress;
using virtio_test::kMsiDataBase;
using virtio_test::MemoryDisk;
using virtio_test::Msi;
using virtio_test::VirtioTestDriver;

constexpr uint64_t kAllFeatures = ~0ull;
constexpr size_t kDiskBytes = 1 << 20;  // 2048 sectors

// One disk on the bus, and its driver.
struct Disk {
    MemoryDisk* backend = nullptr;
    VirtioPciFunction* function = nullptr;
    std::unique_ptr<VirtioTestDriver> driver;
};

class VirtioBlkTest : public ::testing::Test {
protected:
    VirtioBlkTest() : ram(virtio_test::kRamBase, virtio_test::kRamSize), machine(kMmioBase) {}

    Disk add_disk(unsigned slot, bool read_only = false) {
        Disk d;
        auto backend = std::make_unique<MemoryDisk>(kDiskBytes, read_only);
        d.backend = backend.get();
        auto f =
            std::make_unique<VirtioPciFunction>(std::make_unique<VirtioBlk>(std::move(backend), "vireo-disk-0"), ram,
                                                msi, [this](const std::string& line) { log.push_back(line); });
        d.function = f.get();
        std::string error;
        EXPECT_TRUE(machine.add(slot, std::move(f), error)) << error;
        d.driver = std::make_unique<VirtioTestDriver>(machine, ram, slot);
        return d;
    }

    // A request as Linux's virtblk_add_req builds it: header, data, status, each in its
    // own descriptor. Returns the head; the header, data and status addresses in *.
    struct Request {
        uint16_t head;
        uint64_t header, data, status;
    };
    Request request(VirtioTestDriver& driver, uint32_t type, uint64_t sector, uint32_t data_len,
                    bool indirect = false) {
        Request r;
        r.header = driver.alloc(16);
        r.data = driver.alloc(data_len == 0 ? 1 : data_len);
        r.status = driver.alloc(1, 1);
        ram.put32(r.header, type);
        ram.put32(r.header + 4, 0);
        ram.put64(r.header + 8, sector);
        *ram.at(r.status) = 0xee;
        std::vector<Buf> bufs{{r.header, 16, false}};
        if (data_len != 0) bufs.push_back({r.data, data_len, type != VirtioBlk::kTypeOut});
        bufs.push_back({r.status, 1, true});
        r.head = indirect ? driver.add_indirect_chain(0, bufs) : driver.add_chain(0, bufs);
        return r;
    }

    uint8_t status(const Request& r) { return *ram.at(r.status); }
    bool needs_reset(Disk& d) { return (d.function->device_status() & 0x40) != 0; }

    // Disk `d` still serves a read of sector 3.
    void expect_working(Disk& d) {
        const uint16_t before = d.driver->used_idx(0);
        const Request r = request(*d.driver, VirtioBlk::kTypeIn, 3, 512);
        d.driver->kick(0);
        ASSERT_EQ(d.driver->used_idx(0), before + 1);
        EXPECT_EQ(status(r), VirtioBlk::kStatusOk);
        EXPECT_EQ(std::memcmp(ram.at(r.data), d.backend->bytes().data() + 3 * 512, 512), 0);
    }

    FakeGuestMemory ram;
    virtio_test::RecordingMsiSink msi;
    std::vector<std::string> log;
    DeviceMachine machine;
};

TEST_F(VirtioBlkTest, LinuxReadsAndWritesThroughTheRing) {
    Disk d = add_disk(3);
    VirtioTestDriver& drv = *d.driver;
    drv.probe_pci();
    EXPECT_EQ(drv.cfg_read(0x02, 2), 0x1042u);
    EXPECT_EQ(drv.cfg_read(0x2e, 2), 2u);
    EXPECT_EQ(drv.cfg_read(0x08, 4) >> 8, 0x010000u);
    // VERSION_1, INDIRECT_DESC, SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH; not RO.
    EXPECT_EQ(drv.device_features(), (1ull << 32) | (1ull << 28) | (1u << 1) | (1u << 2) | (1u << 6) | (1u << 9));
    drv.bring_up(kAllFeatures, 1);
    ASSERT_EQ(drv.status(), 0xf);
    // struct virtio_blk_config: capacity, size_max, seg_max, blk_size.
    EXPECT_EQ(drv.mmio_read(drv.at(4, 0), 8), kDiskBytes / 512);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 8), 4), 128u * 1024);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 12), 4), 510u);
    EXPECT_EQ(drv.mmio_read(drv.at(4, 20), 4), 512u);
    EXPECT_EQ(drv.caps.at(4).length, 60u);
    drv.common_write(0x16, 2, 0);
    EXPECT_EQ(drv.common_read(0x18, 2), 512u);

    // Read sectors 2-3.
    const Request rd = request(drv, VirtioBlk::kTypeIn, 2, 1024);
    drv.kick(0);
    ASSERT_EQ(drv.used_idx(0), 1u);
    EXPECT_EQ(drv.used(0, 0), std::make_pair(uint32_t{rd.head}, 1025u));
    EXPECT_EQ(status(rd), VirtioBlk::kStatusOk);
    EXPECT_EQ(std::memcmp(ram.at(rd.data), d.backend->bytes().data() + 1024, 1024), 0);
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 1}));

    // Write sector 5.
    const Request wr = request(drv, VirtioBlk::kTypeOut, 5, 512);
    for (int i = 0; i < 512; ++i) ram.at(wr.data)[i] = static_cast<uint8_t>(0xa0 ^ i);
    drv.kick(0);
    ASSERT_EQ(drv.used_idx(0), 2u);
    EXPECT_EQ(drv.used(0, 1), std::make_pair(uint32_t{wr.head}, 1u));
    EXPECT_EQ(status(wr), VirtioBlk::kStatusOk);
    EXPECT_EQ(std::memcmp(ram.at(wr.data), d.backend->bytes().data() + 5 * 512, 512), 0);
    EXPECT_EQ(msi.sent.size(), 2u);

    // Two requests, one notification, one interrupt.
    request(drv, VirtioBlk::kTypeIn, 0, 512);
    request(drv, VirtioBlk::kTypeIn, 2047, 512);
    drv.kick(0);
    EXPECT_EQ(drv.used_idx(0), 4u);
    EXPECT_EQ(msi.sent.size(), 3u);
    EXPECT_TRUE(log.empty());
}

TEST_F(VirtioBlkTest, GetIdFlushAndUnsupportedRequests) {
    Disk d = add_disk(3);
    d.driver->bring_up(kAllFeatures, 1);
    const Request id = request(*d.driver, VirtioBlk::kTypeGetId, 0, 20);
    const Request flush = request(*d.driver, VirtioBlk::kTypeFlush, 0, 0);
    const Request discard = request(*d.driver, 11, 0, 16);  // VIRTIO_BLK_T_DISCARD, not offered
    d.driver->kick(0);
    ASSERT_EQ(d.driver->used_idx(0), 3u);
    EXPECT_EQ(status(id), VirtioBlk::kStatusOk);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ram.at(id.data))), "vireo-disk-0");
    EXPECT_EQ(d.driver->used(0, 0).second, 21u);
    EXPECT_EQ(status(flush), VirtioBlk::kStatusOk);
    EXPECT_EQ(d.backend->flushes, 1);
    EXPECT_EQ(status(discard), VirtioBlk::kStatusUnsupp);
    EXPECT_EQ(d.driver->used(0, 2).second, 1u);
}

TEST_F(VirtioBlkTest, ReadOnlyDisk) {
    Disk d = add_disk(3, true);
    d.driver->probe_pci();
    EXPECT_NE(d.driver->device_features() & (1u << 5), 0u) << "VIRTIO_BLK_F_RO";
    d.driver->bring_up(kAllFeatures, 1);
    const std::vector<uint8_t> before = d.backend->bytes();
    const Request wr = request(*d.driver, VirtioBlk::kTypeOut, 1, 512);
    d.driver->kick(0);
    ASSERT_EQ(d.driver->used_idx(0), 1u);
    EXPECT_EQ(status(wr), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(d.backend->writes, 0) << "nothing written";
    EXPECT_EQ(d.backend->bytes(), before);
    EXPECT_FALSE(needs_reset(d)) << "a request error, not a driver error";
    expect_working(d);
}

TEST_F(VirtioBlkTest, SectorsPastTheEndAndPartialSectors) {
    Disk d = add_disk(3);
    d.driver->bring_up(kAllFeatures, 1);
    const Request past = request(*d.driver, VirtioBlk::kTypeIn, 2048, 512);
    const Request straddles = request(*d.driver, VirtioBlk::kTypeOut, 2047, 1024);
    const Request huge_sector = request(*d.driver, VirtioBlk::kTypeIn, ~0ull / 256, 512);
    const Request partial = request(*d.driver, VirtioBlk::kTypeIn, 0, 100);
    d.driver->kick(0);
    ASSERT_EQ(d.driver->used_idx(0), 4u);
    EXPECT_EQ(status(past), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(status(straddles), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(status(huge_sector), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(status(partial), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(d.backend->writes, 0);
    EXPECT_FALSE(needs_reset(d));
}

TEST_F(VirtioBlkTest, BackendErrorsAreIoErrors) {
    Disk d = add_disk(3);
    d.driver->bring_up(kAllFeatures, 1);
    d.backend->fail_io = true;
    const Request rd = request(*d.driver, VirtioBlk::kTypeIn, 0, 512);
    const Request wr = request(*d.driver, VirtioBlk::kTypeOut, 0, 512);
    const Request flush = request(*d.driver, VirtioBlk::kTypeFlush, 0, 0);
    d.driver->kick(0);
    EXPECT_EQ(status(rd), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(status(wr), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(status(flush), VirtioBlk::kStatusIoErr);
    EXPECT_EQ(d.driver->used(0, 0).second, 1u);
}

TEST_F(VirtioBlkTest, AnyFramingAndIndirectTables) {
    Disk d = add_disk(3);
    d.driver->bring_up(kAllFeatures, 1);
    VirtioTestDriver& drv = *d.driver;
    // The header split 4 + 12, and the data and status in one writable buffer.
    const uint64_t h = drv.alloc(16);
    const uint64_t data = drv.alloc(513);
    ram.put32(h, VirtioBlk::kTypeIn);
    ram.put64(h + 8, 7);
    drv.add_chain(0, {{h, 4, false}, {h + 4, 12, false}, {data, 513, true}});
    // A read of 192 KiB in three buffers (more than the device's staging buffer), through
    // an indirect table.
    const uint64_t big = drv.alloc(3 * 65536);
    const uint64_t h2 = drv.alloc(16);
    const uint64_t st = drv.alloc(1);
    ram.put32(h2, VirtioBlk::kTypeIn);
    ram.put64(h2 + 8, 100);
    drv.add_indirect_chain(
        0,
        {{h2, 16, false}, {big, 65536, true}, {big + 65536, 65536, true}, {big + 131072, 65536, true}, {st, 1, true}});
    drv.kick(0);
    ASSERT_EQ(drv.used_idx(0), 2u);
    EXPECT_EQ(std::memcmp(ram.at(data), d.backend->bytes().data() + 7 * 512, 512), 0);
    EXPECT_EQ(*ram.at(data + 512), VirtioBlk::kStatusOk);
    EXPECT_EQ(std::memcmp(ram.at(big), d.backend->bytes().data() + 100 * 512, 3 * 65536), 0);
    EXPECT_EQ(*ram.at(st), VirtioBlk::kStatusOk);
    EXPECT_EQ(drv.used(0, 1).second, 3u * 65536 + 1);
    // An indirect write.
    const Request wr = request(drv, VirtioBlk::kTypeOut, 9, 1024, true);
    std::memset(ram.at(wr.data), 0x5a, 1024);
    drv.kick(0);
    EXPECT_EQ(status(wr), VirtioBlk::kStatusOk);
    EXPECT_EQ(d.backend->bytes()[9 * 512 + 1023], 0x5a);
}

// A hostile or broken request on disk A: A needs a reset, says why once, raises its
// configuration interrupt, and ignores further notifications; disk B goes on.
struct Hostile {
    const char* name;
    const char* reason;  // part of the log line
    void (*make)(VirtioBlkTest& t, VirtioTestDriver& drv, FakeGuestMemory& ram);
};

class VirtioBlkHostileTest : public VirtioBlkTest, public ::testing::WithParamInterface<Hostile> {};

TEST_P(VirtioBlkHostileTest, StopsOnlyThatDiskUntilReset) {
    Disk a = add_disk(3);
    Disk b = add_disk(4);
    a.driver->bring_up(kAllFeatures, 1);
    b.driver->bring_up(kAllFeatures, 1);
    GetParam().make(*this, *a.driver, ram);
    a.driver->kick(0);
    EXPECT_TRUE(needs_reset(a));
    EXPECT_EQ(a.driver->used_idx(0), 0u);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find(GetParam().reason), std::string::npos) << log[0];
    EXPECT_EQ(log[0].rfind("virtio-blk: ", 0), 0u) << "the label: " << log[0];
    ASSERT_EQ(msi.sent.size(), 1u);
    EXPECT_EQ(msi.sent[0], (Msi{kMsiAddress, kMsiDataBase + 0})) << "configuration change vector";
    a.driver->kick(0);
    EXPECT_EQ(log.size(), 1u);

    expect_working(b);
    EXPECT_FALSE(needs_reset(b));

    // The driver resets A and sets it up again: it works.
    a.driver->queues.clear();
    a.driver->bring_up(kAllFeatures, 1);
    EXPECT_FALSE(needs_reset(a));
    expect_working(a);
}

uint64_t outside_ram() { return virtio_test::kRamBase + virtio_test::kRamSize + 0x1000; }

const Hostile kHostile[] = {
    {"DescriptorLoop", "(a loop)",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         const uint64_t h = drv.alloc(16);
         drv.write_desc(0, 0, h, 16, 1, 1);
         drv.write_desc(0, 1, h, 16, 1, 0);
         drv.publish(0, 0);
     }},
    {"BadHeadIndex", "head descriptor 600 is outside the queue of size 512",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) { drv.publish(0, 600); }},
    {"BadNextIndex", "chains to 4096",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.write_desc(0, 0, drv.alloc(16), 16, 1, 4096);
         drv.publish(0, 0);
     }},
    {"DataOutsideRam", "is not guest RAM",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory& ram) {
         const uint64_t h = drv.alloc(16), s = drv.alloc(1);
         ram.put32(h, VirtioBlk::kTypeIn);
         drv.add_chain(0, {{h, 16, false}, {outside_ram(), 512, true}, {s, 1, true}});
     }},
    {"HeaderOutsideRam", "is not guest RAM",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.add_chain(0, {{outside_ram(), 16, false}, {drv.alloc(1), 1, true}});
     }},
    {"HugeLength", "holds more than 64 MiB",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory& ram) {
         const uint64_t h = drv.alloc(16);
         ram.put32(h, VirtioBlk::kTypeIn);
         drv.add_chain(0, {{h, 16, false}, {drv.alloc(4096), 0xfffff000u, true}, {drv.alloc(1), 1, true}});
     }},
    {"IndirectInsideIndirect", "holds another indirect descriptor",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory& ram) {
         const uint64_t inner = drv.alloc(16);
         const uint64_t outer = drv.alloc(16);
         ram.put64(outer, inner);
         ram.put32(outer + 8, 16);
         ram.put16(outer + 12, 4);
         drv.write_desc(0, 0, outer, 16, 4, 0);
         drv.publish(0, 0);
     }},
    {"HeaderTooShort", "has a header of 8 bytes, not 16",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.add_chain(0, {{drv.alloc(16), 8, false}, {drv.alloc(1), 1, true}});
     }},
    {"NoStatusByte", "has no device-writable status byte",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.add_chain(0, {{drv.alloc(16), 16, false}, {drv.alloc(512), 512, false}});
     }},
    {"StatusReadOnly", "has no device-writable status byte",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.add_chain(0, {{drv.alloc(16), 16, false}, {drv.alloc(1), 1, false}});
     }},
    {"RingOutsideRam", "the available ring entry",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory& ram) {
         // The available index says 1, but the ring entry lies past RAM: a queue whose
         // available ring straddles the end of RAM.
         drv.set_status(0);
         drv.queues.clear();
         drv.probe_pci();
         ASSERT_TRUE(drv.negotiate(kAllFeatures));
         drv.enable_msix(2);
         drv.common_write(0x10, 2, 0);
         drv.common_write(0x16, 2, 0);
         drv.common_write(0x18, 2, 256);
         VirtioTestDriver::Queue& q = drv.queues[0];
         q.size = 256;
         q.desc = drv.alloc(4096);
         q.avail = ram.end() - 4;  // flags and idx in RAM, the ring entries not
         q.used = drv.alloc(4096, 4);
         drv.write64(0x20, q.desc);
         drv.write64(0x28, q.avail);
         drv.write64(0x30, q.used);
         drv.common_write(0x1c, 2, 1);
         drv.set_status(0xf);
         ram.put16(ram.end() - 2, 1);
     }},
    {"AvailableIndexJumps", "more than the queue size 512",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory& ram) { ram.put16(drv.queues[0].avail + 2, 1000); }},
    {"ReadableAfterWritable", "follows a device-writable one",
     [](VirtioBlkTest&, VirtioTestDriver& drv, FakeGuestMemory&) {
         drv.add_chain(0, {{drv.alloc(16), 16, false}, {drv.alloc(1), 1, true}, {drv.alloc(16), 16, false}});
     }},
};

INSTANTIATE_TEST_SUITE_P(Virtio, VirtioBlkHostileTest, ::testing::ValuesIn(kHostile),
                         [](const ::testing::TestParamInfo<Hostile>& info) { return std::string(info.param.name); });

}  // namespace
