// Heap over a fake page source: size classes, alignment, reuse, large blocks, misuse
// detection, exhaustion, and a randomized stress run against a shadow model.
#include "mm/heap.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <vector>

namespace {

// Hands out 4 KiB aligned host memory and checks that every free matches an allocation.
// Freed runs are kept (poisoned) until destruction, so that a double free of a large
// block reads memory that still exists, as it would in the hypervisor's direct map.
class FakePageSource final : public HeapPageSource {
public:
    explicit FakePageSource(u64 page_limit = ~0ull) : page_limit_(page_limit) {}
    ~FakePageSource() {
        for (auto& [p, count] : live_) std::free(p);
        for (void* p : retired_) std::free(p);
    }

    void* alloc_pages(u64 count) override {
        EXPECT_GT(count, 0u);
        if (count > page_limit_ - pages_live_) return nullptr;
        void* p = std::aligned_alloc(kPageSize, count * kPageSize);
        std::memset(p, 0xcd, count * kPageSize);  // the heap must not rely on zeroed pages
        live_[p] = count;
        pages_live_ += count;
        ++calls_;
        return p;
    }
    void free_pages(void* p, u64 count) override {
        auto it = live_.find(p);
        ASSERT_NE(it, live_.end()) << "heap returned pages it never got";
        ASSERT_EQ(it->second, count) << "heap returned a run with the wrong length";
        std::memset(p, 0xdd, count * kPageSize);
        live_.erase(it);
        retired_.push_back(p);
        pages_live_ -= count;
    }

    u64 pages_live() const { return pages_live_; }
    u64 calls() const { return calls_; }
    void set_limit(u64 pages) { page_limit_ = pages; }

private:
    std::map<void*, u64> live_;
    std::vector<void*> retired_;
    u64 page_limit_;
    u64 pages_live_ = 0;
    u64 calls_ = 0;
};

struct HeapFixture {
    FakePageSource source;
    Heap heap;
    explicit HeapFixture(u64 page_limit = ~0ull) : source(page_limit) { heap.init(source); }
};

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(Heap, SmallBlocksAreAlignedToTheirSizeClass) {
    HeapFixture f;
    for (usize size : {1, 15, 16, 17, 31, 32, 33, 64, 100, 128, 200, 256, 500, 512, 1000, 1024, 2000, 2048}) {
        void* p = f.heap.alloc(size);
        ASSERT_NE(p, nullptr) << size;
        usize block = 16;
        while (block < size) block *= 2;
        EXPECT_EQ(addr(p) % block, 0u) << "size " << size;
        EXPECT_NE(addr(p) % kPageSize, 0u) << "small blocks never start a page";
        std::memset(p, 0xab, size);
    }
}

TEST(Heap, BytesInUseCountsSizeClasses) {
    HeapFixture f;
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
    EXPECT_EQ(f.heap.bytes_reserved(), 0u);
    void* a = f.heap.alloc(1);
    void* b = f.heap.alloc(100);
    void* c = f.heap.alloc(2048);
    EXPECT_EQ(f.heap.bytes_in_use(), 16u + 128u + 2048u);
    EXPECT_EQ(f.heap.bytes_reserved(), 3 * kPageSize);
    f.heap.free(b);
    EXPECT_EQ(f.heap.bytes_in_use(), 16u + 2048u);
    f.heap.free(a);
    f.heap.free(c);
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
}

TEST(Heap, HonoursAlignmentUpToAPage) {
    HeapFixture f;
    for (usize alignment = 1; alignment <= 4096; alignment *= 2) {
        for (usize size : {1, 24, 300, 3000, 5000}) {
            void* p = f.heap.alloc(size, alignment);
            ASSERT_NE(p, nullptr) << size << " @" << alignment;
            EXPECT_EQ(addr(p) % alignment, 0u) << size << " @" << alignment;
            EXPECT_EQ(addr(p) % 16, 0u);
            std::memset(p, 0x11, size);
            f.heap.free(p);
        }
    }
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
}

TEST(Heap, RejectsInvalidRequests) {
    HeapFixture f;
    EXPECT_EQ(f.heap.alloc(16, 0), nullptr);
    EXPECT_EQ(f.heap.alloc(16, 3), nullptr);
    EXPECT_EQ(f.heap.alloc(16, 48), nullptr);
    EXPECT_EQ(f.heap.alloc(16, 8192), nullptr);
    EXPECT_EQ(f.heap.alloc(Heap::kMaxAllocation + 1), nullptr);
    EXPECT_EQ(f.heap.alloc(~usize(0)), nullptr);
    EXPECT_EQ(f.heap.alloc(~usize(0) - 4095, 4096), nullptr);
    EXPECT_EQ(f.source.calls(), 0u);
}

TEST(Heap, ZeroSizeGivesDistinctPointers) {
    HeapFixture f;
    void* a = f.heap.alloc(0);
    void* b = f.heap.alloc(0);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    f.heap.free(a);
    f.heap.free(b);
}

TEST(Heap, FreedBlocksAreReused) {
    HeapFixture f;
    void* a = f.heap.alloc(64);
    void* b = f.heap.alloc(64);
    EXPECT_EQ(addr(b) - addr(a), 64u);
    f.heap.free(a);
    EXPECT_EQ(f.heap.alloc(64), a);
    EXPECT_EQ(f.heap.alloc(48), static_cast<u8*>(b) + 64);  // same class, next block
    EXPECT_EQ(f.source.calls(), 1u);
}

TEST(Heap, SlabsFillUpThenNewPagesAreTaken) {
    HeapFixture f;
    std::vector<void*> blocks;
    // 2048-byte blocks: the header takes the first half of each page.
    for (int i = 0; i < 4; ++i) blocks.push_back(f.heap.alloc(2048));
    EXPECT_EQ(f.source.pages_live(), 4u);
    // 16-byte blocks: 251 per page after the 80-byte header.
    for (int i = 0; i < 251; ++i) blocks.push_back(f.heap.alloc(16));
    EXPECT_EQ(f.source.pages_live(), 5u);
    blocks.push_back(f.heap.alloc(16));
    EXPECT_EQ(f.source.pages_live(), 6u);
    for (void* p : blocks) f.heap.free(p);
    // Empty slabs go back, except one per class that was used.
    EXPECT_EQ(f.source.pages_live(), 2u);
    EXPECT_EQ(f.heap.bytes_reserved(), 2 * kPageSize);
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
}

TEST(Heap, AllocFreeAtASlabBoundaryDoesNotThrash) {
    HeapFixture f;
    void* p = f.heap.alloc(128);
    f.heap.free(p);
    for (int i = 0; i < 100; ++i) {
        void* q = f.heap.alloc(128);
        ASSERT_EQ(q, p);
        f.heap.free(q);
    }
    EXPECT_EQ(f.source.calls(), 1u);
}

TEST(Heap, LargeBlocksGetTheirOwnPages) {
    HeapFixture f;
    void* p = f.heap.alloc(10000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr(p) % 16, 0u);
    EXPECT_EQ(f.source.pages_live(), 3u);  // 10000 + 32-byte header
    EXPECT_EQ(f.heap.bytes_in_use(), 10000u);
    EXPECT_EQ(f.heap.bytes_reserved(), 3 * kPageSize);
    std::memset(p, 0x77, 10000);
    f.heap.free(p);
    EXPECT_EQ(f.source.pages_live(), 0u);
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
    EXPECT_EQ(f.heap.bytes_reserved(), 0u);
}

TEST(Heap, PageAlignedBlocks) {
    HeapFixture f;
    void* p = f.heap.alloc(4096, 4096);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr(p) % 4096, 0u);
    EXPECT_EQ(f.source.pages_live(), 2u);  // header page + the page itself
    std::memset(p, 0x42, 4096);
    void* q = f.heap.alloc(16, 4096);
    EXPECT_EQ(addr(q) % 4096, 0u);
    f.heap.free(p);
    f.heap.free(q);
    EXPECT_EQ(f.source.pages_live(), 0u);
}

TEST(Heap, MediumAlignmentOfALargeBlock) {
    HeapFixture f;
    void* p = f.heap.alloc(5000, 2048);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(addr(p) % 2048, 0u);
    EXPECT_NE(addr(p) % 4096, 0u);
    EXPECT_EQ(f.source.pages_live(), 2u);  // 2048 + 5000 bytes
    f.heap.free(p);
}

TEST(Heap, ExhaustionReturnsNullAndRecovers) {
    HeapFixture f(4);
    EXPECT_EQ(f.heap.alloc(5 * kPageSize), nullptr);
    void* big = f.heap.alloc(3 * kPageSize - 64);
    ASSERT_NE(big, nullptr);
    std::vector<void*> small;
    for (;;) {
        void* p = f.heap.alloc(512);
        if (!p) break;
        small.push_back(p);
    }
    EXPECT_EQ(small.size(), 7u);  // one page of 512-byte blocks
    EXPECT_EQ(f.heap.alloc(32), nullptr);
    f.heap.free(big);
    EXPECT_NE(f.heap.alloc(32), nullptr);
    for (void* p : small) f.heap.free(p);
}

TEST(Heap, NullIsIgnored) {
    HeapFixture f;
    f.heap.free(nullptr);
    EXPECT_TRUE(f.heap.try_free(nullptr));
}

TEST(Heap, DetectsDoubleFreesOfSmallBlocks) {
    HeapFixture f;
    void* keep = f.heap.alloc(32);  // keeps the slab alive after the free below
    void* p = f.heap.alloc(32);
    ASSERT_TRUE(f.heap.try_free(p));
    const usize in_use = f.heap.bytes_in_use();
    EXPECT_FALSE(f.heap.try_free(p));
    EXPECT_EQ(f.heap.bytes_in_use(), in_use);
    f.heap.free(keep);
}

TEST(Heap, DetectsDoubleFreesOfLargeBlocks) {
    HeapFixture f;
    void* p = f.heap.alloc(9000);
    ASSERT_TRUE(f.heap.try_free(p));
    EXPECT_FALSE(f.heap.try_free(p));  // the fake source keeps the pages readable
    void* q = f.heap.alloc(64, 4096);
    ASSERT_TRUE(f.heap.try_free(q));
    EXPECT_FALSE(f.heap.try_free(q));
}

TEST(Heap, DetectsForeignAndInteriorPointers) {
    HeapFixture f;
    void* p = f.heap.alloc(64);
    void* large = f.heap.alloc(6000);
    EXPECT_FALSE(f.heap.try_free(static_cast<u8*>(p) + 1));   // misaligned
    EXPECT_FALSE(f.heap.try_free(static_cast<u8*>(p) + 16));  // inside a block
    EXPECT_FALSE(f.heap.try_free(static_cast<u8*>(p) + 64));  // a block never handed out
    EXPECT_FALSE(f.heap.try_free(static_cast<u8*>(large) + 16));
    EXPECT_FALSE(f.heap.try_free(static_cast<u8*>(large) + kPageSize));
    auto* foreign = static_cast<u8*>(std::aligned_alloc(kPageSize, 2 * kPageSize));
    std::memset(foreign, 0, 2 * kPageSize);
    EXPECT_FALSE(f.heap.try_free(foreign + 256));
    EXPECT_FALSE(f.heap.try_free(foreign + kPageSize));  // page aligned: header page is zero
    std::free(foreign);
    EXPECT_TRUE(f.heap.try_free(p));
    EXPECT_TRUE(f.heap.try_free(large));
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
}

TEST(HeapDeathTest, FreeAssertsOnDoubleFree) {
    HeapFixture f;
    void* keep = f.heap.alloc(32);
    void* p = f.heap.alloc(32);
    f.heap.free(p);
    EXPECT_DEATH(f.heap.free(p), "double free");
    f.heap.free(keep);
}

// Random sizes, alignments and frees against a shadow model of the live blocks: no two
// live blocks overlap, each keeps its contents, accounting stays exact, and everything
// goes back to the source at the end except one slab per class.
TEST(Heap, RandomizedStressAgainstAShadowModel) {
    HeapFixture f;
    struct Block {
        usize size;
        u8 fill;
    };
    std::map<uintptr_t, Block> live;
    std::mt19937_64 rng(4242);
    usize expected_in_use = 0;
    auto accounted = [](usize size, usize alignment) {
        usize block = 16;
        while (block < size) block *= 2;
        if (block < alignment) block = alignment;
        return block <= 2048 ? block : size;
    };
    std::map<uintptr_t, usize> accounting;
    for (int op = 0; op < 30000; ++op) {
        if (live.empty() || rng() % 100 < 55) {
            const usize size = rng() % 8 == 0 ? 1 + rng() % 20000 : 1 + rng() % 600;
            const usize alignment = rng() % 6 == 0 ? usize(1) << (rng() % 13) : 16;
            void* p = f.heap.alloc(size, alignment);
            ASSERT_NE(p, nullptr);
            const uintptr_t a = addr(p);
            ASSERT_EQ(a % (alignment < 16 ? 16 : alignment), 0u);
            // No overlap with the neighbours on either side.
            auto next = live.lower_bound(a);
            if (next != live.end()) ASSERT_LE(a + size, next->first) << "overlaps the next block";
            if (next != live.begin()) {
                auto prev = std::prev(next);
                ASSERT_LE(prev->first + prev->second.size, a) << "overlaps the previous block";
            }
            const u8 fill = u8(rng());
            std::memset(p, fill, size);
            live[a] = {size, fill};
            accounting[a] = accounted(size, alignment);
            expected_in_use += accounting[a];
        } else {
            auto it = live.begin();
            std::advance(it, rng() % live.size());
            const u8* bytes = reinterpret_cast<const u8*>(it->first);
            for (usize i = 0; i < it->second.size; ++i)
                ASSERT_EQ(bytes[i], it->second.fill) << "block at " << std::hex << it->first << " was overwritten";
            ASSERT_TRUE(f.heap.try_free(reinterpret_cast<void*>(it->first)));
            expected_in_use -= accounting[it->first];
            accounting.erase(it->first);
            live.erase(it);
        }
        ASSERT_EQ(f.heap.bytes_in_use(), expected_in_use);
        ASSERT_EQ(f.heap.bytes_reserved(), f.source.pages_live() * kPageSize);
    }
    for (auto& [a, block] : live) ASSERT_TRUE(f.heap.try_free(reinterpret_cast<void*>(a)));
    EXPECT_EQ(f.heap.bytes_in_use(), 0u);
    EXPECT_LE(f.source.pages_live(), 8u);  // at most one kept slab per size class
}

}  // namespace
