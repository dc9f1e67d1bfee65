#include "kernel/domain/foreign_map_table.hpp"

#include <gtest/gtest.h>

namespace {

int mapper_a, mapper_b, target_x, target_y;  // owners are opaque: any distinct addresses

// The target's pages that mappings reach, as a dirty log's last take counts them.
template <u32 Slots>
u64 pages_of_target(const ForeignMapTable<Slots>& t, const void* target) {
    u64 n = 0;
    t.for_each_mapping_of(target, [&](u64, u32 count) { n += count; });
    return n;
}

TEST(ForeignMapTable, AHandleNamesItsRecordForItsMapperOnly) {
    ForeignMapTable<4> t;
    const u32 slot = t.claim(&mapper_a, &target_x);
    ASSERT_NE(slot, t.kNoSlot);
    t.record(slot).count = 3;
    const u32 h = t.handle(slot);
    EXPECT_LT(i64(h), i64(1) << 31) << "a handle is a non-negative hypercall result";
    ASSERT_NE(t.find(h, &mapper_a), nullptr);
    EXPECT_EQ(t.find(h, &mapper_a)->count, 3u);
    EXPECT_EQ(t.find(h, &mapper_b), nullptr) << "another mapper's handle";
    EXPECT_EQ(t.find(h + 1, &mapper_a), nullptr);
    EXPECT_EQ(t.find(u64(h) | (1ull << 40), &mapper_a), nullptr);
    EXPECT_EQ(pages_of_target(t, &target_x), 3u);
    EXPECT_EQ(pages_of_target(t, &target_y), 0u);
}

TEST(ForeignMapTable, EachMappingOfATargetIsVisitedWithItsPages) {
    ForeignMapTable<4> t;
    const u32 one = t.claim(&mapper_a, &target_x);
    const u32 two = t.claim(&mapper_b, &target_x);
    const u32 other = t.claim(&mapper_a, &target_y);
    t.record(one).first_gfn = 0x100;
    t.record(one).count = 2;
    t.record(two).first_gfn = 0x800;
    t.record(two).count = 7;
    t.record(other).first_gfn = 0x5;
    t.record(other).count = 1;
    u64 first[4] = {}, count[4] = {};
    u32 seen = 0;
    t.for_each_mapping_of(&target_x, [&](u64 gfn, u32 n) {
        first[seen] = gfn;
        count[seen++] = n;
    });
    ASSERT_EQ(seen, 2u) << "target_y's mapping is not target_x's";
    EXPECT_EQ(first[0] + first[1], 0x900u);
    EXPECT_EQ(count[0] + count[1], 9u);
}

TEST(ForeignMapTable, AReleasedSlotComesBackUnderANewHandle) {
    ForeignMapTable<1> t;
    const u32 slot = t.claim(&mapper_a, &target_x);
    const u32 old = t.handle(slot);
    EXPECT_EQ(t.claim(&mapper_a, &target_y), t.kNoSlot) << "full";
    t.release(t.record(slot));
    EXPECT_EQ(t.find(old, &mapper_a), nullptr);
    const u32 again = t.claim(&mapper_a, &target_y);
    ASSERT_EQ(again, slot);
    EXPECT_NE(t.handle(again), old);
    EXPECT_EQ(t.find(old, &mapper_a), nullptr) << "a stale handle never reaches the newer record";
    EXPECT_NE(t.find(t.handle(again), &mapper_a), nullptr);
}

TEST(ForeignMapTable, RevokedRecordsKeepTheirHandleAndUnmappingOnesDoNot) {
    ForeignMapTable<2> t;
    const u32 slot = t.claim(&mapper_a, &target_x);
    t.record(slot).count = 5;
    t.record(slot).state = ForeignMapState::Revoked;
    EXPECT_NE(t.find(t.handle(slot), &mapper_a), nullptr) << "the mapper still unmaps it";
    EXPECT_EQ(pages_of_target(t, &target_x), 0u) << "a revoked mapping reaches none of the target's pages";
    t.record(slot).state = ForeignMapState::Unmapping;
    EXPECT_EQ(t.find(t.handle(slot), &mapper_a), nullptr) << "being unmapped: nobody else may end it";
    u32 in_use = 0;
    t.for_each_in_use([&](ForeignMapRecord&) { ++in_use; });
    EXPECT_EQ(in_use, 1u);
}

TEST(ForeignMapTable, APageIsMappedWhileAMappedRecordOfItsTargetCoversIt) {
    ForeignMapTable<4> t;
    const u32 a = t.claim(&mapper_a, &target_x);
    t.record(a).first_gfn = 0x100;
    t.record(a).count = 4;
    const u32 b = t.claim(&mapper_b, &target_y);
    t.record(b).first_gfn = 0x200;
    t.record(b).count = 1;
    EXPECT_FALSE(t.maps_page(&target_x, 0xff));
    EXPECT_TRUE(t.maps_page(&target_x, 0x100));
    EXPECT_TRUE(t.maps_page(&target_x, 0x103));
    EXPECT_FALSE(t.maps_page(&target_x, 0x104)) << "one past the record";
    EXPECT_FALSE(t.maps_page(&target_x, 0x200)) << "another target's record";
    EXPECT_TRUE(t.maps_page(&target_y, 0x200));
    EXPECT_FALSE(t.maps_page(&mapper_a, 0x100)) << "the mapper's side is not the target's";
    t.record(a).state = ForeignMapState::Revoked;
    EXPECT_FALSE(t.maps_page(&target_x, 0x101)) << "revoked: the page is no longer reached";
    t.record(a).state = ForeignMapState::Unmapping;
    EXPECT_FALSE(t.maps_page(&target_x, 0x101)) << "being unmapped: the mapper's pages are its own again";
    t.release(t.record(b));
    EXPECT_FALSE(t.maps_page(&target_y, 0x200));
    EXPECT_FALSE(t.maps_page(&target_x, ~0ull)) << "no wrap-around at the top";
}

}  // namespace
