// The split virtqueue (dom0/devmodel/virtqueue.cpp): chains as a driver lays them out,
// and every driver mistake or attack the brief names, each refused with a reason.
#include "dom0/devmodel/virtqueue.hpp"

#include <gtest/gtest.h>

#include "tests/unit/virtio_test_support.hpp"

namespace {

using devmodel::DescriptorChain;
using devmodel::Virtqueue;
using virtio_test::FakeGuestMemory;

constexpr uint64_t kBase = 0x10000;
constexpr uint64_t kDesc = kBase;            // 16 * 8 bytes
constexpr uint64_t kAvail = kBase + 0x1000;  // driver area
constexpr uint64_t kUsed = kBase + 0x2000;   // device area
constexpr uint64_t kData = kBase + 0x4000;
constexpr uint16_t kSize = 8;

class VirtqueueTest : public ::testing::Test {
protected:
    VirtqueueTest() : ram(kBase, 0x10000) {}
    void SetUp() override {
        std::string error;
        ASSERT_TRUE(vq.start(layout(), 256, error)) << error;
    }
    static Virtqueue::Layout layout(bool indirect = true) {
        Virtqueue::Layout l;
        l.size = kSize;
        l.desc = kDesc;
        l.driver = kAvail;
        l.device = kUsed;
        l.indirect_allowed = indirect;
        return l;
    }
    void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        ram.put64(table + 16ull * i, addr);
        ram.put32(table + 16ull * i + 8, len);
        ram.put16(table + 16ull * i + 12, flags);
        ram.put16(table + 16ull * i + 14, next);
    }
    void publish(uint16_t head) {
        ram.put16(kAvail + 4 + 2ull * (avail_idx % kSize), head);
        ram.put16(kAvail + 2, ++avail_idx);
    }
    // Pops and expects an error containing `what`.
    void expect_error(const std::string& what) {
        DescriptorChain chain;
        std::string error;
        EXPECT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Error);
        EXPECT_NE(error.find(what), std::string::npos) << "error: " << error;
    }

    FakeGuestMemory ram;
    Virtqueue vq;
    uint16_t avail_idx = 0;
};

TEST_F(VirtqueueTest, PopsADirectChainAndReturnsItThroughTheUsedRing) {
    desc(kDesc, 3, kData, 16, Virtqueue::kDescFNext, 5);
    desc(kDesc, 5, kData + 0x100, 512, Virtqueue::kDescFNext | Virtqueue::kDescFWrite, 1);
    desc(kDesc, 1, kData + 0x400, 1, Virtqueue::kDescFWrite, 0);
    DescriptorChain chain;
    std::string error;
    EXPECT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Empty);
    EXPECT_FALSE(vq.has_available(ram));
    publish(3);
    EXPECT_TRUE(vq.has_available(ram));
    ASSERT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Chain) << error;
    EXPECT_EQ(chain.head, 3);
    ASSERT_EQ(chain.segments.size(), 3u);
    EXPECT_EQ(chain.segments[0].gpa, kData);
    EXPECT_EQ(chain.segments[0].len, 16u);
    EXPECT_FALSE(chain.segments[0].device_writable);
    EXPECT_EQ(chain.segments[1].gpa, kData + 0x100);
    EXPECT_TRUE(chain.segments[1].device_writable);
    EXPECT_EQ(chain.segments[2].len, 1u);
    EXPECT_EQ(chain.readable_bytes, 16u);
    EXPECT_EQ(chain.writable_bytes, 513u);
    EXPECT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Empty);

    ASSERT_TRUE(vq.push_used(ram, 3, 513, error)) << error;
    EXPECT_EQ(ram.le16(kUsed + 2), 1u);
    EXPECT_EQ(ram.le32(kUsed + 4), 3u);
    EXPECT_EQ(ram.le32(kUsed + 8), 513u);
}

TEST_F(VirtqueueTest, RingIndicesWrapAround16Bits) {
    std::string error;
    for (int round = 0; round < 70000 / kSize; ++round) {
        for (uint16_t i = 0; i < kSize; ++i) {
            desc(kDesc, i, kData, 4, 0, 0);
            publish(i);
        }
        for (uint16_t i = 0; i < kSize; ++i) {
            DescriptorChain chain;
            ASSERT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Chain) << error;
            ASSERT_EQ(chain.head, i);
            ASSERT_TRUE(vq.push_used(ram, chain.head, 0, error));
        }
    }
    EXPECT_EQ(vq.used_index(), static_cast<uint16_t>(70000 / kSize * kSize));
    EXPECT_EQ(ram.le16(kUsed + 2), vq.used_index());
}

TEST_F(VirtqueueTest, FollowsAnIndirectTable) {
    const uint64_t table = kData + 0x1000;
    desc(kDesc, 0, kData, 16, Virtqueue::kDescFNext, 1);  // a direct descriptor first is allowed
    // The WRITE flag of the descriptor pointing at the table is ignored (2.6.5.3.2).
    desc(kDesc, 1, table, 3 * 16, Virtqueue::kDescFIndirect | Virtqueue::kDescFWrite, 0);
    desc(table, 0, kData + 0x100, 8, Virtqueue::kDescFNext, 2);
    desc(table, 2, kData + 0x200, 4096, Virtqueue::kDescFNext | Virtqueue::kDescFWrite, 1);
    desc(table, 1, kData + 0x300, 1, Virtqueue::kDescFWrite, 0);
    publish(0);
    DescriptorChain chain;
    std::string error;
    ASSERT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Chain) << error;
    ASSERT_EQ(chain.segments.size(), 4u);
    EXPECT_EQ(chain.segments[1].gpa, kData + 0x100);
    EXPECT_FALSE(chain.segments[1].device_writable);
    EXPECT_EQ(chain.segments[2].gpa, kData + 0x200);
    EXPECT_EQ(chain.segments[3].gpa, kData + 0x300);
    EXPECT_EQ(chain.readable_bytes, 24u);
    EXPECT_EQ(chain.writable_bytes, 4097u);
}

TEST_F(VirtqueueTest, HeadOutsideTheQueue) {
    publish(kSize);
    expect_error("head descriptor 8 is outside the queue of size 8");
}

TEST_F(VirtqueueTest, NextOutsideTheQueue) {
    desc(kDesc, 0, kData, 4, Virtqueue::kDescFNext, 200);
    publish(0);
    expect_error("descriptor 0 chains to 200, outside the queue of size 8");
}

TEST_F(VirtqueueTest, ALoopEndsAtTheQueueSize) {
    desc(kDesc, 0, kData, 4, Virtqueue::kDescFNext, 1);
    desc(kDesc, 1, kData, 4, Virtqueue::kDescFNext, 0);
    publish(0);
    const size_t reads_before = ram.reads;
    expect_error("longer than the queue size 8 (a loop)");
    EXPECT_LE(ram.reads - reads_before, kSize + 3u) << "the walk stops after the queue size";
}

TEST_F(VirtqueueTest, ALoopInsideAnIndirectTable) {
    const uint64_t table = kData + 0x1000;
    desc(kDesc, 0, table, 2 * 16, Virtqueue::kDescFIndirect, 0);
    desc(table, 0, kData, 4, Virtqueue::kDescFNext, 1);
    desc(table, 1, kData, 4, Virtqueue::kDescFNext, 0);
    publish(0);
    expect_error("chains more than its 2 descriptors (a loop)");
}

TEST_F(VirtqueueTest, IndirectInsideIndirect) {
    const uint64_t table = kData + 0x1000;
    desc(kDesc, 0, table, 16, Virtqueue::kDescFIndirect, 0);
    desc(table, 0, table, 16, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("holds another indirect descriptor");
}

TEST_F(VirtqueueTest, IndirectTableOfABadLength) {
    desc(kDesc, 0, kData, 24, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("is not 1 to 1024 whole descriptors");
    vq.stop();
    std::string error;
    ASSERT_TRUE(vq.start(layout(), 256, error));
    avail_idx = 0;
    desc(kDesc, 0, kData, 0, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("is not 1 to 1024 whole descriptors");
    vq.stop();
    ASSERT_TRUE(vq.start(layout(), 256, error));
    avail_idx = 0;
    desc(kDesc, 0, kData, 0x80000000u, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("is not 1 to 1024 whole descriptors");
}

TEST_F(VirtqueueTest, IndirectWithNextOrWithoutTheFeature) {
    desc(kDesc, 0, kData, 16, Virtqueue::kDescFIndirect | Virtqueue::kDescFNext, 1);
    publish(0);
    expect_error("has both INDIRECT and NEXT");

    std::string error;
    ASSERT_TRUE(vq.start(layout(false), 256, error));
    avail_idx = 0;
    desc(kDesc, 0, kData, 16, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("VIRTIO_F_INDIRECT_DESC was not negotiated");
}

TEST_F(VirtqueueTest, IndirectTableOutsideRam) {
    desc(kDesc, 0, 0x7fff0000, 16, Virtqueue::kDescFIndirect, 0);
    publish(0);
    expect_error("indirect table at 0x7fff0000 (16 bytes) is not guest RAM");
}

TEST_F(VirtqueueTest, AHugeChainIsRefused) {
    desc(kDesc, 0, kData, 0x80000000u, 0, 0);
    publish(0);
    expect_error("holds more than 64 MiB");
    // Several buffers that only add up to too much.
    std::string error;
    ASSERT_TRUE(vq.start(layout(), 256, error));
    avail_idx = 0;
    for (uint16_t i = 0; i < 4; ++i) desc(kDesc, i, kData, 20u << 20, i < 3 ? Virtqueue::kDescFNext : 0, i + 1);
    publish(0);
    expect_error("holds more than 64 MiB");
}

TEST_F(VirtqueueTest, ABufferThatWrapsTheAddressSpace) {
    desc(kDesc, 0, ~0ull - 8, 64, 0, 0);
    publish(0);
    expect_error("wraps around the top of the address space");
}

TEST_F(VirtqueueTest, ReadableAfterWritable) {
    desc(kDesc, 0, kData, 4, Virtqueue::kDescFWrite | Virtqueue::kDescFNext, 1);
    desc(kDesc, 1, kData, 4, 0, 0);
    publish(0);
    expect_error("a device-readable buffer at 0x14000 follows a device-writable one");
}

TEST_F(VirtqueueTest, AnAvailableIndexTooFarAhead) {
    ram.put16(kAvail + 2, kSize + 1);
    expect_error("moved 9 entries ahead, more than the queue size 8");
}

TEST_F(VirtqueueTest, RingsOutsideRam) {
    std::string error;
    Virtqueue::Layout l = layout();
    l.driver = 0x900000;
    ASSERT_TRUE(vq.start(l, 256, error));
    expect_error("the available ring at 0x900000 is not guest RAM");
    EXPECT_TRUE(vq.has_available(ram)) << "pop is the one to tell";

    l = layout();
    l.desc = 0x900000;
    ASSERT_TRUE(vq.start(l, 256, error));
    publish(0);
    expect_error("the descriptor table at 0x900000 is not guest RAM");

    l = layout();
    l.device = 0x900000;
    ASSERT_TRUE(vq.start(l, 256, error));
    EXPECT_FALSE(vq.push_used(ram, 0, 0, error));
    EXPECT_EQ(error, "the used ring at 0x900000 is not guest RAM");
}

TEST_F(VirtqueueTest, StartChecksTheLayout) {
    std::string error;
    Virtqueue::Layout l = layout();
    l.size = 6;
    EXPECT_FALSE(vq.start(l, 256, error));
    EXPECT_EQ(error, "queue size 6 is not a power of two from 1 to 256");
    EXPECT_FALSE(vq.running());
    l.size = 512;
    EXPECT_FALSE(vq.start(l, 256, error));
    l.size = 0;
    EXPECT_FALSE(vq.start(l, 256, error));
    l = layout();
    l.desc += 8;
    EXPECT_FALSE(vq.start(l, 256, error));
    EXPECT_NE(error.find("misaligned"), std::string::npos);
    l = layout();
    l.device += 2;
    EXPECT_FALSE(vq.start(l, 256, error));
    l = layout();
    l.driver = ~0ull - 1;
    EXPECT_FALSE(vq.start(l, 256, error));
    EXPECT_EQ(error, "a ring wraps around the top of the address space");
    EXPECT_TRUE(vq.start(layout(), 256, error));
}

TEST_F(VirtqueueTest, NoInterruptFlag) {
    EXPECT_TRUE(vq.driver_wants_interrupt(ram));
    ram.put16(kAvail, Virtqueue::kAvailFNoInterrupt);
    EXPECT_FALSE(vq.driver_wants_interrupt(ram));
    ram.put16(kAvail, 0);
    EXPECT_TRUE(vq.driver_wants_interrupt(ram));
}

TEST_F(VirtqueueTest, StopForgetsTheIndices) {
    desc(kDesc, 0, kData, 4, 0, 0);
    publish(0);
    DescriptorChain chain;
    std::string error;
    ASSERT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Chain);
    ASSERT_TRUE(vq.push_used(ram, 0, 0, error));
    vq.stop();
    EXPECT_EQ(vq.last_avail_index(), 0);
    EXPECT_EQ(vq.used_index(), 0);
    EXPECT_EQ(vq.pop(ram, chain, error), Virtqueue::Pop::Error);
}

}  // namespace
