// FrameAllocator: bitmap sizing and placement, single and contiguous allocation,
// alignment, address limits, exhaustion, double frees and reservations.
#include "mm/frame_allocator.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

namespace {

// A FrameAllocator with its bitmap in host memory (the bitmap's "physical" location is
// only a number here; the tests reserve it like the kernel does).
struct Fixture {
    std::unique_ptr<MemoryMap> map = std::make_unique<MemoryMap>();
    std::unique_ptr<FrameAllocator> frames = std::make_unique<FrameAllocator>();
    std::vector<u64> bitmap;

    bool init() {
        const u64 bytes = FrameAllocator::bitmap_bytes_for(*map);
        bitmap.assign(bytes / 8 + 1, 0x5a5a5a5a5a5a5a5aull);  // garbage: init must overwrite
        return frames->init(*map, bitmap.data(), bytes);
    }
};

std::unique_ptr<Fixture> make(const std::vector<PhysRange>& available, const std::vector<PhysRange>& reserved = {}) {
    auto f = std::make_unique<Fixture>();
    for (const PhysRange& r : available) EXPECT_TRUE(f->map->add_available(r.start, r.size()));
    for (const PhysRange& r : reserved) EXPECT_TRUE(f->map->reserve(r.start, r.end));
    EXPECT_TRUE(f->init());
    return f;
}

// QEMU -m 4G after the hypervisor reserved the low 1 MiB and its 2 MiB image.
std::unique_ptr<Fixture> qemu_4g() {
    return make({{0x0, 0x9fc00}, {0x100000, 0xbffe0000}, {0x100000000, 0x140000000}},
                {{0x0, 0x100000}, {0x200000, 0x400000}});
}

constexpr PhysAddr kNo = FrameAllocator::kNoFrame;

TEST(FrameAllocator, BitmapSizeCoversLowestToHighestUsableFrame) {
    MemoryMap map;
    EXPECT_EQ(FrameAllocator::bitmap_bytes_for(map), 0u);
    ASSERT_TRUE(map.add_available(0x100000, 127 * MiB));  // 1 MiB .. 128 MiB
    // (128 MiB - 1 MiB) / 4 KiB = 32512 frames = 508 words.
    EXPECT_EQ(FrameAllocator::bitmap_bytes_for(map), 508u * 8);
    ASSERT_TRUE(map.add_available(0x100000000, 0x1000));  // one frame at 4 GiB
    EXPECT_EQ(FrameAllocator::bitmap_bytes_for(map), (0x100001000u - 0x100000u) / 4096 / 64 * 8 + 8);
}

TEST(FrameAllocator, CountsFramesOfQemu4G) {
    auto f = qemu_4g();
    const u64 expected = (0xbffe0000 - 0x100000 - 0x200000) / 4096 + 0x40000000 / 4096;
    EXPECT_EQ(f->frames->total_frames(), expected);
    EXPECT_EQ(f->frames->free_frames(), expected);
    EXPECT_FALSE(f->frames->is_free(0x0));
    EXPECT_FALSE(f->frames->is_free(0x200000));  // image
    EXPECT_TRUE(f->frames->is_free(0x400000));
    EXPECT_FALSE(f->frames->is_free(0xc0000000));  // PCI hole
    EXPECT_TRUE(f->frames->is_free(0x13ffff000));
    EXPECT_FALSE(f->frames->is_free(0x140000000));
}

TEST(FrameAllocator, InitRejectsBadBitmaps) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x100000, 0x100000));
    const u64 bytes = FrameAllocator::bitmap_bytes_for(map);
    std::vector<u64> storage(bytes / 8 + 2);
    {
        FrameAllocator a;
        EXPECT_FALSE(a.init(map, nullptr, bytes));
    }
    {
        FrameAllocator a;
        EXPECT_FALSE(a.init(map, storage.data(), bytes - 8));
    }
    {
        FrameAllocator a;
        u64* misaligned = reinterpret_cast<u64*>(reinterpret_cast<u8*>(storage.data()) + 4);
        EXPECT_FALSE(a.init(map, misaligned, bytes));
    }
    {
        FrameAllocator a;
        EXPECT_TRUE(a.init(map, storage.data(), bytes));
        EXPECT_FALSE(a.init(map, storage.data(), bytes));  // already initialized
    }
}

TEST(FrameAllocator, EmptyMapAllocatesNothing) {
    MemoryMap map;
    FrameAllocator a;
    EXPECT_TRUE(a.init(map, nullptr, 0));
    EXPECT_EQ(a.total_frames(), 0u);
    EXPECT_EQ(a.alloc(), kNo);
    EXPECT_EQ(a.alloc(4, 4), kNo);
    EXPECT_FALSE(a.free(0x1000, 1));
    EXPECT_FALSE(a.reserve(0x1000, 1));
}

TEST(FrameAllocator, ChoosesTheFirstRangeBigEnoughForTheBitmap) {
    MemoryMap map;
    ASSERT_TRUE(map.add_available(0x100000, 0x2000));
    ASSERT_TRUE(map.add_available(0x200000, 0x10000));
    ASSERT_TRUE(map.add_available(0x100000000, 0x100000));
    PhysRange r = FrameAllocator::choose_bitmap_location(map, 0x1800);
    EXPECT_EQ(r.start, 0x100000u);
    EXPECT_EQ(r.end, 0x102000u);
    r = FrameAllocator::choose_bitmap_location(map, 0x2001);  // three pages: not the first range
    EXPECT_EQ(r.start, 0x200000u);
    EXPECT_EQ(r.end, 0x203000u);
    r = FrameAllocator::choose_bitmap_location(map, 0x20000);
    EXPECT_EQ(r.start, 0x100000000u);
    r = FrameAllocator::choose_bitmap_location(map, 0x20000, 4 * GiB);  // must stay below 4 GiB
    EXPECT_TRUE(r.empty());
    r = FrameAllocator::choose_bitmap_location(map, 0x8000, 0x205000);  // the range is cut by the limit
    EXPECT_TRUE(r.empty());
    r = FrameAllocator::choose_bitmap_location(map, 0x5000, 0x205000);
    EXPECT_EQ(r.start, 0x200000u);
    EXPECT_TRUE(FrameAllocator::choose_bitmap_location(map, 0).empty());
    EXPECT_TRUE(FrameAllocator::choose_bitmap_location(map, ~0ull).empty());
}

TEST(FrameAllocator, KernelBootSequenceReservesTheBitmap) {
    auto f = std::make_unique<Fixture>();
    ASSERT_TRUE(f->map->add_available(0x0, 0x9fc00));
    ASSERT_TRUE(f->map->add_available(0x100000, 0xbfee0000));
    ASSERT_TRUE(f->map->add_available(0x100000000, 0x40000000));
    ASSERT_TRUE(f->map->reserve(0, 1 * MiB));
    const u64 bytes = FrameAllocator::bitmap_bytes_for(*f->map);
    const PhysRange where = FrameAllocator::choose_bitmap_location(*f->map, bytes, 4 * GiB);
    ASSERT_FALSE(where.empty());
    EXPECT_EQ(where.start, 0x100000u);
    ASSERT_TRUE(f->init());
    const u64 pages = where.size() / kPageSize;
    const u64 total = f->frames->total_frames();
    ASSERT_TRUE(f->frames->reserve(where.start, pages));
    EXPECT_EQ(f->frames->free_frames(), total - pages);
    EXPECT_EQ(f->frames->total_frames(), total);
    for (int i = 0; i < 1000; ++i) {
        const PhysAddr p = f->frames->alloc();
        ASSERT_NE(p, kNo);
        EXPECT_TRUE(p < where.start || p >= where.end);
    }
    EXPECT_FALSE(f->frames->reserve(where.start, 1));  // already reserved
}

TEST(FrameAllocator, AllocatesEveryFrameOnceThenRunsOut) {
    auto f = make({{0x100000, 0x140000}, {0x200000, 0x210000}});
    const u64 total = f->frames->total_frames();
    ASSERT_EQ(total, 64u + 16u);
    std::set<PhysAddr> seen;
    for (u64 i = 0; i < total; ++i) {
        const PhysAddr p = f->frames->alloc();
        ASSERT_NE(p, kNo);
        EXPECT_TRUE(is_aligned(p, kPageSize));
        EXPECT_TRUE((p >= 0x100000 && p < 0x140000) || (p >= 0x200000 && p < 0x210000)) << std::hex << p;
        EXPECT_TRUE(seen.insert(p).second) << "handed out twice: " << std::hex << p;
    }
    EXPECT_EQ(f->frames->free_frames(), 0u);
    EXPECT_EQ(f->frames->alloc(), kNo);
    EXPECT_EQ(f->frames->alloc(2), kNo);
    // Everything comes back and can be handed out again.
    for (PhysAddr p : seen) ASSERT_TRUE(f->frames->free(p, 1));
    EXPECT_EQ(f->frames->free_frames(), total);
    EXPECT_EQ(f->frames->alloc(16, 16), 0x100000u);
}

TEST(FrameAllocator, NextFitMovesOnAndWrapsAround) {
    auto f = make({{0x100000, 0x104000}});  // four frames
    const PhysAddr a = f->frames->alloc();
    EXPECT_EQ(a, 0x100000u);
    ASSERT_TRUE(f->frames->free(a, 1));
    EXPECT_EQ(f->frames->alloc(), 0x101000u);  // does not rescan from the bottom
    EXPECT_EQ(f->frames->alloc(), 0x102000u);
    EXPECT_EQ(f->frames->alloc(), 0x103000u);
    EXPECT_EQ(f->frames->alloc(), 0x100000u);  // wrapped around
    EXPECT_EQ(f->frames->alloc(), kNo);
}

TEST(FrameAllocator, ContiguousRunsRespectAlignment) {
    auto f = qemu_4g();
    const PhysAddr two_mib = f->frames->alloc(512, 512);
    ASSERT_NE(two_mib, kNo);
    EXPECT_TRUE(is_aligned(two_mib, 2 * MiB));
    EXPECT_EQ(two_mib, 0x400000u);  // 0x100000..0x200000 is too short, 0x200000.. is the image
    const PhysAddr four = f->frames->alloc(4, 4);
    ASSERT_NE(four, kNo);
    EXPECT_TRUE(is_aligned(four, 4 * kPageSize));
    EXPECT_EQ(four, 0x100000u);
    const PhysAddr odd = f->frames->alloc(3);
    EXPECT_EQ(odd, 0x104000u);
    const PhysAddr aligned_single = f->frames->alloc(1, 8);
    EXPECT_EQ(aligned_single, 0x108000u);
    EXPECT_EQ(f->frames->alloc(1, 1), 0x107000u);  // the hole the aligned request skipped
}

TEST(FrameAllocator, OneGiBAlignedRuns) {
    auto f = qemu_4g();
    constexpr u64 kGiBFrames = GiB / kPageSize;
    EXPECT_EQ(f->frames->alloc(kGiBFrames, kGiBFrames), 1 * GiB);
    // 2..3 GiB ends at 0xbffe0000, short of the next GiB boundary; the next whole one is at 4 GiB.
    EXPECT_EQ(f->frames->alloc(kGiBFrames, kGiBFrames), 4 * GiB);
    EXPECT_EQ(f->frames->alloc(kGiBFrames, kGiBFrames), kNo);
    EXPECT_EQ(f->frames->alloc(kGiBFrames), kNo);             // no unaligned GiB is left either
    EXPECT_EQ(f->frames->alloc(kGiBFrames - 0x20), 2 * GiB);  // exactly 0x80000000..0xbffe0000
}

TEST(FrameAllocator, RunsDoNotSpanHoles) {
    auto f = make({{0x100000, 0x200000}, {0x201000, 0x300000}});
    EXPECT_EQ(f->frames->alloc(257), kNo);  // 256 + 255 frames, but not contiguous
    EXPECT_EQ(f->frames->alloc(256), 0x100000u);
    EXPECT_EQ(f->frames->alloc(255), 0x201000u);
    EXPECT_EQ(f->frames->free_frames(), 0u);
}

TEST(FrameAllocator, RejectsInvalidRequests) {
    auto f = qemu_4g();
    const u64 free_before = f->frames->free_frames();
    EXPECT_EQ(f->frames->alloc(0), kNo);
    EXPECT_EQ(f->frames->alloc(1, 0), kNo);
    EXPECT_EQ(f->frames->alloc(1, 3), kNo);
    EXPECT_EQ(f->frames->alloc(1, 1ull << 63), kNo);
    EXPECT_EQ(f->frames->alloc(~0ull), kNo);
    EXPECT_EQ(f->frames->free_frames(), free_before);
}

TEST(FrameAllocator, LimitKeepsTheWholeRunBelowIt) {
    auto f = qemu_4g();
    // Frames must end at or below the limit; an unaligned limit rounds down.
    EXPECT_EQ(f->frames->alloc(1, 1, 0x101800), 0x100000u);
    EXPECT_EQ(f->frames->alloc(1, 1, 0x101800), kNo);
    EXPECT_EQ(f->frames->alloc(1, 1, 0x100000), kNo);  // nothing usable below 1 MiB
    EXPECT_EQ(f->frames->alloc(2, 1, 0x103000), 0x101000u);
    EXPECT_EQ(f->frames->alloc(2, 1, 0x104000), kNo);  // only 0x103000 is left below the limit
    EXPECT_EQ(f->frames->alloc(1, 1, 0x104000), 0x103000u);
    const PhysAddr below_4g = f->frames->alloc(1, 1, 4 * GiB);
    ASSERT_NE(below_4g, kNo);
    EXPECT_LT(below_4g + kPageSize, 4 * GiB + 1);
    const PhysAddr run = f->frames->alloc(8, 1, 0x500000);
    ASSERT_NE(run, kNo);
    EXPECT_LE(run + 8 * kPageSize, 0x500000u);
}

TEST(FrameAllocator, LimitedRequestsDoNotDragTheHintDown) {
    auto f = make({{0x100000, 0x200000}});
    EXPECT_EQ(f->frames->alloc(), 0x100000u);
    EXPECT_EQ(f->frames->alloc(), 0x101000u);
    EXPECT_EQ(f->frames->alloc(1, 1, 0x200000), 0x102000u);
    f = make({{0x100000, 0x200000}});
    for (int i = 0; i < 16; ++i) f->frames->alloc();
    ASSERT_TRUE(f->frames->free(0x100000, 1));
    EXPECT_EQ(f->frames->alloc(1, 1, 0x104000), 0x100000u);  // below the limit: found after wrap
    EXPECT_EQ(f->frames->alloc(), 0x110000u);                // the hint stayed where it was
}

TEST(FrameAllocator, FreeRejectsDoubleFreesAndForeignFrames) {
    auto f = qemu_4g();
    const PhysAddr p = f->frames->alloc(4);
    ASSERT_NE(p, kNo);
    EXPECT_FALSE(f->frames->free(p + 1, 1));        // unaligned
    EXPECT_FALSE(f->frames->free(p, 0));            // empty
    EXPECT_FALSE(f->frames->free(0x0, 1));          // never usable (low memory)
    EXPECT_FALSE(f->frames->free(0x200000, 1));     // never usable (image)
    EXPECT_FALSE(f->frames->free(0xc0000000, 1));   // PCI hole
    EXPECT_FALSE(f->frames->free(0x140000000, 1));  // above RAM
    EXPECT_FALSE(f->frames->free(0xbffdf000, 2));   // runs off the end of a range
    EXPECT_FALSE(f->frames->free(~0ull & ~0xfffull, 1));
    EXPECT_FALSE(f->frames->free(p, ~0ull));
    EXPECT_FALSE(f->frames->free(p, 5));  // the fifth frame is free
    const u64 free_before = f->frames->free_frames();
    ASSERT_TRUE(f->frames->free(p + kPageSize, 2));  // part of a run is fine
    EXPECT_FALSE(f->frames->free(p, 4));             // double free of the middle: nothing changes
    EXPECT_EQ(f->frames->free_frames(), free_before + 2);
    EXPECT_FALSE(f->frames->is_free(p));
    EXPECT_TRUE(f->frames->free(p, 1));
    EXPECT_TRUE(f->frames->free(p + 3 * kPageSize, 1));
    EXPECT_FALSE(f->frames->free(p, 1));
}

TEST(FrameAllocator, ReserveTakesSpecificFreeFrames) {
    auto f = qemu_4g();
    const u64 free_before = f->frames->free_frames();
    ASSERT_TRUE(f->frames->reserve(0x100000, 16));
    EXPECT_EQ(f->frames->free_frames(), free_before - 16);
    EXPECT_EQ(f->frames->alloc(), 0x110000u);
    EXPECT_FALSE(f->frames->reserve(0x10f000, 2));  // overlaps the first reservation
    EXPECT_FALSE(f->frames->reserve(0x110000, 1));  // allocated
    EXPECT_FALSE(f->frames->reserve(0x8000, 1));    // not usable RAM
    EXPECT_FALSE(f->frames->reserve(0x111000, 0));
    EXPECT_EQ(f->frames->free_frames(), free_before - 17);
    // A reserved frame is returned like an allocated one.
    EXPECT_TRUE(f->frames->free(0x100000, 16));
    EXPECT_EQ(f->frames->free_frames(), free_before - 1);
}

TEST(FrameAllocator, BitmapWordBoundaries) {
    // Ranges that start and end in the middle of bitmap words.
    auto f = make({{0x103000, 0x143000}, {0x150000, 0x151000}});
    EXPECT_EQ(f->frames->total_frames(), 64u + 1u);
    EXPECT_EQ(f->frames->alloc(64), 0x103000u);
    EXPECT_EQ(f->frames->alloc(), 0x150000u);
    EXPECT_EQ(f->frames->alloc(), kNo);
    ASSERT_TRUE(f->frames->free(0x103000, 64));
    EXPECT_EQ(f->frames->alloc(64, 1), 0x103000u);
}

// Random operations against a model: allocations never overlap, stay inside usable
// RAM, honour alignment and limit; the counters always agree with the model.
TEST(FrameAllocator, RandomizedAgainstAModel) {
    auto f = make({{0x0, 0x9fc00}, {0x100000, 0x900000}, {0xa00000, 0xa40000}, {0x1000000, 0x1400000}},
                  {{0x0, 0x100000}, {0x300000, 0x301000}});
    const u64 total = f->frames->total_frames();
    std::mt19937_64 rng(99);
    std::map<PhysAddr, u64> live;  // start -> pages
    std::set<u64> used_frames;
    for (int op = 0; op < 20000; ++op) {
        if (live.empty() || rng() % 100 < 55) {
            const u64 pages = rng() % 4 == 0 ? 1 + rng() % 64 : 1;
            const u64 align = 1ull << (rng() % 4 == 0 ? rng() % 10 : 0);
            const PhysAddr limit = rng() % 4 == 0 ? 0x100000 + (rng() % 0x1400000) : ~0ull;
            const PhysAddr p = f->frames->alloc(pages, align, limit);
            if (p == kNo) continue;
            ASSERT_TRUE(is_aligned(p, align * kPageSize));
            ASSERT_LE(p + pages * kPageSize, limit);
            ASSERT_TRUE(f->map->contains(p, p + pages * kPageSize)) << std::hex << p;
            for (u64 i = 0; i < pages; ++i) ASSERT_TRUE(used_frames.insert(p / kPageSize + i).second);
            live[p] = pages;
        } else {
            auto it = live.begin();
            std::advance(it, rng() % live.size());
            ASSERT_TRUE(f->frames->free(it->first, it->second));
            ASSERT_FALSE(f->frames->free(it->first, it->second));  // second time: rejected
            for (u64 i = 0; i < it->second; ++i) used_frames.erase(it->first / kPageSize + i);
            live.erase(it);
        }
        ASSERT_EQ(f->frames->free_frames(), total - used_frames.size());
    }
}

}  // namespace
