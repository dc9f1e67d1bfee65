#include "kernel/ioreq/forwarded_access_log.hpp"

#include <gtest/gtest.h>

namespace {

using Outcome = ForwardedAccessLog::Outcome;

ForwardedAccess read_at(u64 address, u8 size = 4) {
    ForwardedAccess a;
    a.type = 0;
    a.size = size;
    a.address = address;
    return a;
}

ForwardedAccess write_at(u64 address, u64 value, u8 size = 4) {
    ForwardedAccess a = read_at(address, size);
    a.write = true;
    a.data = value;
    return a;
}

// One forwarded read: the first handling asks, the second gets the answer.
TEST(ForwardedAccessLog, ReadIsAskedThenReplayed) {
    ForwardedAccessLog log;
    log.begin_handling();
    u64 value = 0;
    EXPECT_EQ(log.access(read_at(0x1000), value), Outcome::Request);
    EXPECT_TRUE(log.requested());
    EXPECT_EQ(log.request().address, 0x1000u);
    log.answered(0x1234);
    log.begin_handling();
    EXPECT_EQ(log.access(read_at(0x1000), value), Outcome::Replayed);
    EXPECT_EQ(value, 0x1234u);
    EXPECT_FALSE(log.requested());
    log.instruction_done();
    EXPECT_EQ(log.logged(), 0u);
}

// Two accesses in one instruction (MOVS between two registers): each reaches the device
// model once, in order, and the first is not sent again.
TEST(ForwardedAccessLog, SecondAccessAfterTheFirstIsReplayed) {
    ForwardedAccessLog log;
    u64 value = 0;
    log.begin_handling();
    ASSERT_EQ(log.access(read_at(0x1000), value), Outcome::Request);
    EXPECT_EQ(log.access(write_at(0x2000, 5), value), Outcome::Waiting);  // the instruction stops
    log.answered(7);
    log.begin_handling();
    EXPECT_EQ(log.access(read_at(0x1000), value), Outcome::Replayed);
    EXPECT_EQ(value, 7u);
    ASSERT_EQ(log.access(write_at(0x2000, 7), value), Outcome::Request);
    EXPECT_TRUE(log.request().write);
    EXPECT_EQ(log.request().data, 7u);
    log.answered(0);
    log.begin_handling();
    EXPECT_EQ(log.access(read_at(0x1000), value), Outcome::Replayed);
    EXPECT_EQ(log.access(write_at(0x2000, 7), value), Outcome::Replayed);
    EXPECT_FALSE(log.requested());
}

// A handling that takes another path drops what no longer applies and asks anew.
TEST(ForwardedAccessLog, DifferentAccessDropsTheStaleLog) {
    ForwardedAccessLog log;
    u64 value = 0;
    log.begin_handling();
    log.access(read_at(0x1000), value);
    log.answered(1);
    log.begin_handling();
    EXPECT_EQ(log.access(read_at(0x1004), value), Outcome::Request);
    EXPECT_EQ(log.logged(), 0u);
    // A write of another value is another request too.
    log.answered(2);
    log.begin_handling();
    log.access(read_at(0x1004), value);
    EXPECT_EQ(log.access(write_at(0x1008, 1), value), Outcome::Request);
    log.answered(0);
    log.begin_handling();
    log.access(read_at(0x1004), value);
    EXPECT_EQ(log.access(write_at(0x1008, 2), value), Outcome::Request);
}

TEST(ForwardedAccessLog, TooManyAccessesAreRefused) {
    ForwardedAccessLog log;
    u64 value = 0;
    for (usize i = 0; i < ForwardedAccessLog::kMaxAccesses; ++i) {
        log.begin_handling();
        for (usize j = 0; j < i; ++j) ASSERT_EQ(log.access(read_at(j * 8), value), Outcome::Replayed);
        ASSERT_EQ(log.access(read_at(i * 8), value), Outcome::Request);
        log.answered(i);
    }
    log.begin_handling();
    for (usize j = 0; j < ForwardedAccessLog::kMaxAccesses; ++j)
        ASSERT_EQ(log.access(read_at(j * 8), value), Outcome::Replayed);
    EXPECT_EQ(log.access(read_at(0x999), value), Outcome::TooMany);
}

// An answer with nothing asked is ignored (a device model's stray completion).
TEST(ForwardedAccessLog, AnswerWithoutRequestIsIgnored) {
    ForwardedAccessLog log;
    log.answered(5);
    EXPECT_EQ(log.logged(), 0u);
}

}  // namespace
