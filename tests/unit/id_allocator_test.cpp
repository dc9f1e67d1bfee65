#include "kernel/domain/id_allocator.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace {

TEST(IdAllocator, HandsOutEveryIdOnceThenNone) {
    auto ids = std::make_unique<IdAllocator>(1, 5);
    EXPECT_EQ(ids->free_count(), 5u);
    for (u32 expect = 1; expect <= 5; ++expect) EXPECT_EQ(ids->allocate(), expect);
    EXPECT_EQ(ids->allocate(), IdAllocator::kNone);
    EXPECT_EQ(ids->free_count(), 0u);
}

TEST(IdAllocator, RoundRobinDoesNotReuseAFreedIdAtOnce) {
    auto ids = std::make_unique<IdAllocator>(1, 4);
    EXPECT_EQ(ids->allocate(), 1u);
    EXPECT_EQ(ids->allocate(), 2u);
    EXPECT_TRUE(ids->release(1));
    EXPECT_EQ(ids->allocate(), 3u) << "the next one, not the id just freed";
    EXPECT_EQ(ids->allocate(), 4u);
    EXPECT_EQ(ids->allocate(), 1u) << "wraps around to the freed id";
    EXPECT_EQ(ids->allocate(), IdAllocator::kNone);
}

TEST(IdAllocator, ReleaseRefusesIdsNotInUseOrOutOfRange) {
    auto ids = std::make_unique<IdAllocator>(10, 12);
    EXPECT_FALSE(ids->release(10)) << "not in use";
    EXPECT_FALSE(ids->release(9));
    EXPECT_FALSE(ids->release(13));
    const u32 id = ids->allocate();
    EXPECT_TRUE(ids->in_use(id));
    EXPECT_TRUE(ids->release(id));
    EXPECT_FALSE(ids->release(id)) << "double release";
    EXPECT_EQ(ids->free_count(), 3u);
}

TEST(IdAllocator, ReserveTakesOneIdAndAllocateSkipsIt) {
    auto ids = std::make_unique<IdAllocator>(0, 2);
    EXPECT_TRUE(ids->reserve(0));
    EXPECT_FALSE(ids->reserve(0));
    EXPECT_FALSE(ids->reserve(3));
    EXPECT_EQ(ids->allocate(), 1u);
    EXPECT_EQ(ids->allocate(), 2u);
    EXPECT_EQ(ids->allocate(), IdAllocator::kNone);
}

TEST(IdAllocator, ManyCyclesLoseNoId) {
    auto ids = std::make_unique<IdAllocator>(1, 65535);
    for (int i = 0; i < 200000; ++i) {
        const u32 a = ids->allocate();
        const u32 b = ids->allocate();
        ASSERT_NE(a, IdAllocator::kNone);
        ASSERT_NE(b, IdAllocator::kNone);
        ASSERT_TRUE(ids->release(a));
        ASSERT_TRUE(ids->release(b));
    }
    EXPECT_EQ(ids->free_count(), 65535u);
}

TEST(IdAllocator, AnEmptyOrTooWideRangeHasNoIds) {
    auto backwards = std::make_unique<IdAllocator>(5, 4);
    EXPECT_EQ(backwards->allocate(), IdAllocator::kNone);
    auto wide = std::make_unique<IdAllocator>(0, IdAllocator::kMaxIds);
    EXPECT_EQ(wide->allocate(), IdAllocator::kNone);
}

}  // namespace
