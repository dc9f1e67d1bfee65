#include "mm/balloon_pages.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace {

constexpr u64 kPerChunk = BalloonPages::kPagesPerChunk;

struct Range {
    u64 gpa;
    u64 bytes;
};

// A domain's RAM as GuestMemory keeps it, with a host of its own: chunk c at host frame
// number 1'000'000 + c * 512, single frames handed out from 9'000'000 up, and a p2m of
// RAM page -> host frame. Checks that the destroy-time plan frees every frame the domain
// owns exactly once, and nothing else.
struct FakeDomain {
    explicit FakeDomain(u64 chunks) : chunks(chunks), words(BalloonPages::words_for(chunks * kPerChunk)) {
        for (u64 p = 0; p < chunks * kPerChunk; ++p) p2m[p] = chunk_frame(p / kPerChunk) + p % kPerChunk;
    }
    static u64 chunk_frame(u64 c) { return 1'000'000 + c * kPerChunk; }

    bool release(u64 page) {
        if (!balloon.active()) balloon.attach(words.data(), chunks * kPerChunk);
        const auto it = p2m.find(page);
        if (it == p2m.end()) return false;
        released_frames.insert(it->second);
        p2m.erase(it);
        balloon.release(page);
        return true;
    }
    bool populate(u64 page) {
        if (!balloon.detached(page) || p2m.count(page)) return false;
        p2m[page] = next_single++;
        balloon.populate(page);
        return true;
    }
    // Frames the plan frees, each once (a second free fails the test).
    std::multiset<u64> plan() const {
        std::multiset<u64> freed;
        balloon.free_plan(
            chunks,
            [&](u64 c) {
                for (u64 i = 0; i < kPerChunk; ++i) freed.insert(chunk_frame(c) + i);
            },
            [&](u64 c, u64 i) { freed.insert(chunk_frame(c) + i); },
            [&](u64 page) {
                const auto it = p2m.find(page);
                if (it != p2m.end()) freed.insert(it->second);
            });
        return freed;
    }
    void expect_exact_plan() const {
        const std::multiset<u64> freed = plan();
        std::multiset<u64> owned;
        for (const auto& [page, frame] : p2m) owned.insert(frame);
        EXPECT_EQ(freed, owned) << "the plan frees exactly the frames the domain still owns";
        for (u64 f : released_frames) EXPECT_EQ(freed.count(f), 0u) << "a released frame is never freed again";
    }

    u64 chunks;
    std::vector<u64> words;
    BalloonPages balloon;
    std::map<u64, u64> p2m;
    std::set<u64> released_frames;
    u64 next_single = 9'000'000;
};

TEST(BalloonPages, NothingReleasedMeansWholeChunks) {
    FakeDomain d(3);
    u64 whole = 0, pages = 0;
    d.balloon.free_plan(
        3, [&](u64) { ++whole; }, [&](u64, u64) { ++pages; }, [&](u64) { ++pages; });
    EXPECT_EQ(whole, 3u) << "without bookkeeping every chunk is whole";
    d.balloon.attach(d.words.data(), 3 * kPerChunk);
    EXPECT_TRUE(d.balloon.active());
    whole = 0;
    d.balloon.free_plan(
        3, [&](u64) { ++whole; }, [&](u64, u64) { ++pages; }, [&](u64) { ++pages; });
    EXPECT_EQ(whole, 3u);
    EXPECT_EQ(pages, 0u);
    d.expect_exact_plan();
}

TEST(BalloonPages, ReleasedPagesAreCountedAndLeftOut) {
    FakeDomain d(4);
    ASSERT_TRUE(d.release(kPerChunk + 3));
    ASSERT_TRUE(d.release(kPerChunk + 4));
    for (u64 i = 0; i < kPerChunk; ++i) ASSERT_TRUE(d.release(3 * kPerChunk + i));  // a whole chunk
    EXPECT_EQ(d.balloon.released(), kPerChunk + 2);
    EXPECT_TRUE(d.balloon.chunk_whole(0));
    EXPECT_FALSE(d.balloon.chunk_whole(1));
    EXPECT_TRUE(d.balloon.chunk_whole(2));
    EXPECT_FALSE(d.balloon.chunk_whole(3));
    EXPECT_TRUE(d.balloon.detached(kPerChunk + 3));
    EXPECT_FALSE(d.balloon.detached(kPerChunk + 5));
    u64 whole = 0, chunk_pages = 0, detached = 0;
    d.balloon.free_plan(
        4, [&](u64) { ++whole; }, [&](u64 c, u64) { chunk_pages += c == 1; }, [&](u64) { ++detached; });
    EXPECT_EQ(whole, 2u);
    EXPECT_EQ(chunk_pages, kPerChunk - 2) << "chunk 1 goes back page by page, less its two released pages";
    EXPECT_EQ(detached, kPerChunk + 2);
    d.expect_exact_plan();
}

TEST(BalloonPages, PopulatedPagesKeepTheirBitAndTheirOwnFrame) {
    FakeDomain d(2);
    ASSERT_TRUE(d.release(7));
    ASSERT_TRUE(d.release(8));
    ASSERT_TRUE(d.release(kPerChunk + 100));
    EXPECT_FALSE(d.release(7)) << "released twice";
    ASSERT_TRUE(d.populate(8));
    EXPECT_FALSE(d.populate(8)) << "populated twice";
    EXPECT_FALSE(d.populate(9)) << "never released";
    EXPECT_EQ(d.balloon.released(), 2u);
    EXPECT_TRUE(d.balloon.detached(8)) << "its frame is its own, not the chunk's";
    EXPECT_FALSE(d.balloon.chunk_whole(0));
    d.expect_exact_plan();
    // Released again: its own frame goes back this time.
    ASSERT_TRUE(d.release(8));
    EXPECT_EQ(d.balloon.released(), 3u);
    EXPECT_TRUE(d.released_frames.count(9'000'000));
    ASSERT_TRUE(d.populate(7));
    ASSERT_TRUE(d.populate(8));
    ASSERT_TRUE(d.populate(kPerChunk + 100));
    EXPECT_EQ(d.balloon.released(), 0u);
    d.expect_exact_plan();
}

TEST(BalloonPages, EveryPageOfAChunkReleasedAndPopulatedAgain) {
    FakeDomain d(2);
    for (u64 i = 0; i < kPerChunk; ++i) ASSERT_TRUE(d.release(i));
    for (u64 i = 0; i < kPerChunk; i += 2) ASSERT_TRUE(d.populate(i));
    EXPECT_EQ(d.balloon.released(), kPerChunk / 2);
    d.expect_exact_plan();
}

TEST(BalloonPages, OutOfRangePagesChangeNothing) {
    FakeDomain d(1);
    d.balloon.attach(d.words.data(), kPerChunk);
    d.balloon.release(kPerChunk);
    d.balloon.populate(kPerChunk);
    EXPECT_EQ(d.balloon.released(), 0u);
    EXPECT_FALSE(d.balloon.detached(kPerChunk));
    EXPECT_TRUE(d.balloon.chunk_whole(0));
    BalloonPages none;
    none.release(0);
    EXPECT_FALSE(none.detached(0));
    EXPECT_EQ(none.released(), 0u);
}

TEST(BalloonPages, DetachGivesTheWordsBackAndForgets) {
    FakeDomain d(1);
    ASSERT_TRUE(d.release(5));
    EXPECT_EQ(d.balloon.detach(), d.words.data());
    EXPECT_FALSE(d.balloon.active());
    EXPECT_EQ(d.balloon.released(), 0u);
    EXPECT_FALSE(d.balloon.detached(5));
    EXPECT_EQ(d.balloon.detach(), nullptr);
}

TEST(BalloonPages, SizesAreWholeWords) {
    EXPECT_EQ(BalloonPages::words_for(0), 0u);
    EXPECT_EQ(BalloonPages::words_for(1), 1u);
    EXPECT_EQ(BalloonPages::words_for(64), 1u);
    EXPECT_EQ(BalloonPages::words_for(65), 2u);
    EXPECT_EQ(BalloonPages::bytes_for(16 * GiB / kPageSize), 512 * KiB) << "a bit per 4 KiB page: RAM / 32768";
}

// A virtual PC's RAM: below its MMIO hole and from 4 GiB, one after another in RAM order.
TEST(BalloonPages, RamPagesRunAcrossTheRanges) {
    const Range ranges[] = {{0, 3 * GiB}, {4 * GiB, 1 * GiB}};
    u64 page = 0, gpa = 0;
    ASSERT_TRUE(ram_page_of(ranges, 2, 0x5000, page));
    EXPECT_EQ(page, 5u);
    ASSERT_TRUE(ram_page_of(ranges, 2, 3 * GiB - kPageSize, page));
    EXPECT_EQ(page, 3 * GiB / kPageSize - 1);
    ASSERT_TRUE(ram_page_of(ranges, 2, 4 * GiB + 0x1234, page));
    EXPECT_EQ(page, 3 * GiB / kPageSize + 1) << "the high range follows the low one, offsets inside pages dropped";
    EXPECT_FALSE(ram_page_of(ranges, 2, 3 * GiB, page)) << "the hole";
    EXPECT_FALSE(ram_page_of(ranges, 2, 5 * GiB, page)) << "past the end";
    for (u64 p : {u64(0), u64(1), 3 * GiB / kPageSize - 1, 3 * GiB / kPageSize, 4 * GiB / kPageSize - 1}) {
        ASSERT_TRUE(gpa_of_ram_page(ranges, 2, p, gpa)) << p;
        ASSERT_TRUE(ram_page_of(ranges, 2, gpa, page)) << p;
        EXPECT_EQ(page, p) << "each is the other's inverse";
    }
    ASSERT_TRUE(gpa_of_ram_page(ranges, 2, 3 * GiB / kPageSize, gpa));
    EXPECT_EQ(gpa, 4 * GiB);
    EXPECT_FALSE(gpa_of_ram_page(ranges, 2, 4 * GiB / kPageSize, gpa)) << "past the end of RAM";
}

}  // namespace
