// The p2m over fake table memory, in both nested formats: types and access in the
// entries, map/unmap/protect with large pages split where a range cuts them, and the
// dirty log (write-protect, fault, take, disable).
#include "mm/p2m.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "mm/ept_format.hpp"

namespace {

class FakeMemory {
public:
    static constexpr PhysAddr kBase = 0x6600000000ull;
    ~FakeMemory() {
        for (auto& [pa, table] : tables_) std::free(table);
    }
    PhysAddr alloc_table() {
        auto* t = static_cast<u64*>(std::aligned_alloc(kPageSize, kPageSize));
        std::memset(t, 0, kPageSize);
        const PhysAddr pa = kBase + next_++ * kPageSize;
        tables_[pa] = t;
        return pa;
    }
    u64* table(PhysAddr pa) { return tables_.at(pa); }
    void free_table(PhysAddr pa) {
        std::free(tables_.at(pa));
        tables_.erase(pa);
    }
    usize live() const { return tables_.size(); }

private:
    std::map<PhysAddr, u64*> tables_;
    u64 next_ = 0;
};

constexpr u64 k2M = 2 * MiB;
constexpr PhysAddr kHostRam = 0x40000000;  // where the fake guest RAM "is" on the host

template <typename Format>
class P2mTest : public ::testing::Test {
protected:
    FakeMemory memory;
    P2m<Format, FakeMemory> p2m{memory, false};
    void SetUp() override { ASSERT_TRUE(p2m.create()); }
    void TearDown() override {
        p2m.release();
        EXPECT_EQ(memory.live(), 0u) << "every table freed";
    }
    P2mEntry at(u64 gpa) {
        P2mEntry e{};
        EXPECT_TRUE(p2m.lookup(gpa, e)) << std::hex << gpa;
        return e;
    }
};

using Formats = ::testing::Types<X86PagingFormat, EptFormat>;
TYPED_TEST_SUITE(P2mTest, Formats);

TYPED_TEST(P2mTest, MapsWithTypeAccessAndLargePages) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 4 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.map(0xfe000000, 0xfed00000, kPageSize, P2mType::MmioPassthrough, true, false));
    P2mEntry e = this->at(k2M + 0x1234);
    EXPECT_EQ(e.frame, kHostRam + k2M + 0x1234);
    EXPECT_EQ(e.type, P2mType::Ram);
    EXPECT_TRUE(e.writable);
    EXPECT_TRUE(e.executable);
    EXPECT_EQ(e.page_size, k2M) << "aligned RAM takes 2 MiB leaves";
    e = this->at(0xfe000010);
    EXPECT_EQ(e.type, P2mType::MmioPassthrough);
    EXPECT_FALSE(e.executable);
    EXPECT_EQ(e.page_size, kPageSize);
    P2mEntry none;
    EXPECT_FALSE(this->p2m.lookup(4 * k2M, none)) << "past the RAM";
    EXPECT_FALSE(this->p2m.map(0, kHostRam, kPageSize, P2mType::None, true, true)) << "no entry of type None";
}

TYPED_TEST(P2mTest, UnmapSplitsALargePage) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.unmap(0x5000, kPageSize));  // a ballooned-out page
    P2mEntry e;
    EXPECT_FALSE(this->p2m.lookup(0x5000, e));
    e = this->at(0x4000);
    EXPECT_EQ(e.page_size, kPageSize) << "split into 4 KiB pages";
    EXPECT_EQ(e.frame, kHostRam + 0x4000);
    EXPECT_EQ(e.type, P2mType::Ram) << "the split keeps the type";
    EXPECT_EQ(this->at(0x6000).frame, kHostRam + 0x6000);
}

TYPED_TEST(P2mTest, ProtectChangesAccessOfMappedPagesOnly) {
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.unmap(k2M, kPageSize));
    // Read-only from the middle of the first large page to inside the second.
    ASSERT_TRUE(this->p2m.protect(k2M - 0x2000, 0x4000, false, true));
    EXPECT_TRUE(this->at(k2M - 0x3000).writable) << "before the range";
    EXPECT_FALSE(this->at(k2M - 0x2000).writable);
    EXPECT_FALSE(this->at(k2M - 0x1000).writable);
    P2mEntry e;
    EXPECT_FALSE(this->p2m.lookup(k2M, e)) << "an unmapped page stays unmapped";
    EXPECT_FALSE(this->at(k2M + 0x1000).writable);
    EXPECT_TRUE(this->at(k2M + 0x2000).writable) << "after the range";
    EXPECT_EQ(this->at(k2M - 0x2000).frame, kHostRam + k2M - 0x2000) << "frames unchanged";
    // A whole large page keeps its size.
    ASSERT_TRUE(this->p2m.map(4 * k2M, kHostRam + 4 * k2M, k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.protect(4 * k2M, k2M, true, false));
    e = this->at(4 * k2M);
    EXPECT_EQ(e.page_size, k2M);
    EXPECT_FALSE(e.executable);
    EXPECT_FALSE(this->p2m.protect(0x800, kPageSize, true, true)) << "unaligned";
}

TYPED_TEST(P2mTest, DirtyLogWriteProtectsFaultsAndTakes) {
    constexpr u64 kPages = 2 * k2M / kPageSize;
    ASSERT_TRUE(this->p2m.map(0, kHostRam, 2 * k2M, P2mType::Ram, true, true));
    ASSERT_TRUE(this->p2m.protect(0x10000, kPageSize, false, true));  // a read-only page stays so
    std::vector<u64> bitmap(kPages / 64, ~0ull), taken(kPages / 64, 0);
    ASSERT_TRUE(this->p2m.dirty_log_enable(bitmap.data(), kPages));
    EXPECT_FALSE(this->p2m.dirty_log_enable(bitmap.data(), kPages)) << "one log at a time";
    EXPECT_EQ(bitmap[0], 0u) << "the bitmap starts clean";
    P2mEntry e = this->at(0x3000);
    EXPECT_EQ(e.type, P2mType::RamLogDirty);
    EXPECT_FALSE(e.writable);
    EXPECT_EQ(this->at(k2M + 0x3000).page_size, k2M) << "an untouched large page is write-protected whole";
    EXPECT_EQ(this->at(0x10000).type, P2mType::Ram) << "an already read-only page is not logged";

    EXPECT_TRUE(this->p2m.dirty_log_write_fault(0x3008));
    EXPECT_TRUE(this->at(0x3000).writable) << "the guest retries and goes on";
    EXPECT_EQ(this->at(0x3000).type, P2mType::Ram);
    EXPECT_FALSE(this->at(0x4000).writable) << "its neighbours still logged";
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(k2M + 0x7000));
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x3000)) << "already writable: not the log's fault";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x10000)) << "a read-only page: not the log's fault";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(8 * k2M)) << "unmapped";

    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 2u);
    EXPECT_EQ(taken[0], 1ull << 3);
    EXPECT_EQ(taken[(k2M / kPageSize + 7) / 64], 1ull << ((k2M / kPageSize + 7) % 64));
    EXPECT_FALSE(this->at(0x3000).writable) << "protected again for the next round";
    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 0u) << "nothing new";
    EXPECT_TRUE(this->p2m.dirty_log_write_fault(0x3000));
    EXPECT_EQ(this->p2m.dirty_log_take(taken.data()), 1u) << "the same page dirtied again";

    ASSERT_TRUE(this->p2m.dirty_log_disable());
    EXPECT_TRUE(this->at(0x4000).writable);
    EXPECT_EQ(this->at(0x4000).type, P2mType::Ram);
    EXPECT_TRUE(this->at(k2M + 0x100000).writable);
    EXPECT_FALSE(this->at(0x10000).writable) << "the read-only page stays read-only";
    EXPECT_FALSE(this->p2m.dirty_log_write_fault(0x4000)) << "no log any more";
    EXPECT_FALSE(this->p2m.dirty_log_disable());
}

}  // namespace
