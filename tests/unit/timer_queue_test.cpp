// The timer queues (kernel/sched/timer_queue.hpp): order, re-arm, cancel, expiry, moves
// between queues, and on real threads the promises the owners rely on: after
// cancel_sync() or shutdown() no callback runs, and a callback never runs on two CPUs
// at once.
#include "kernel/sched/timer_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

struct Recorder {
    std::vector<int> fired;
};

struct Tagged {
    Recorder* recorder;
    int tag;
};

void record(Timer& t, u64) {
    auto* tagged = static_cast<Tagged*>(t.owner);
    tagged->recorder->fired.push_back(tagged->tag);
}

TEST(TimerQueue, RunsDueTimersEarliestFirst) {
    TimerQueue q;
    Recorder r;
    Tagged a{&r, 30}, b{&r, 10}, c{&r, 20};
    Timer ta(record, &a), tb(record, &b), tc(record, &c);
    EXPECT_EQ(q.next_deadline(), TimerQueue::kNever);
    EXPECT_TRUE(TimerQueue::arm(ta, q, 30).armed);
    EXPECT_TRUE(TimerQueue::arm(tb, q, 10).armed);
    EXPECT_TRUE(TimerQueue::arm(tc, q, 20).armed);
    EXPECT_EQ(q.next_deadline(), 10u);
    EXPECT_EQ(q.pending_count(), 3u);
    EXPECT_EQ(q.run_expired(9), 0u) << "nothing is due before its deadline";
    EXPECT_EQ(q.run_expired(15), 1u);
    EXPECT_EQ(r.fired, (std::vector<int>{10}));
    EXPECT_EQ(q.next_deadline(), 20u);
    EXPECT_EQ(q.run_expired(100), 2u);
    EXPECT_EQ(r.fired, (std::vector<int>{10, 20, 30}));
    EXPECT_EQ(q.next_deadline(), TimerQueue::kNever);
    EXPECT_EQ(q.run_expired(1000), 0u) << "one-shot: each fired once";
    EXPECT_EQ(q.fired_count(), 3u);
}

TEST(TimerQueue, EqualDeadlinesFireInArmOrder) {
    TimerQueue q;
    Recorder r;
    Tagged a{&r, 1}, b{&r, 2}, c{&r, 3};
    Timer ta(record, &a), tb(record, &b), tc(record, &c);
    TimerQueue::arm(ta, q, 5);
    TimerQueue::arm(tb, q, 5);
    TimerQueue::arm(tc, q, 5);
    q.run_expired(5);
    EXPECT_EQ(r.fired, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueue, ReArmMovesTheDeadline) {
    TimerQueue q;
    Recorder r;
    Tagged a{&r, 1}, b{&r, 2};
    Timer ta(record, &a), tb(record, &b);
    EXPECT_NE(TimerQueue::arm(ta, q, 10).first, nullptr) << "the only timer is the earliest";
    EXPECT_EQ(TimerQueue::arm(tb, q, 20).first, nullptr) << "a later one is not";
    EXPECT_EQ(TimerQueue::arm(ta, q, 50).first, nullptr) << "later again: tb is now first";
    EXPECT_EQ(q.pending_count(), 2u) << "re-armed, not armed twice";
    EXPECT_EQ(q.next_deadline(), 20u);
    q.run_expired(30);
    EXPECT_EQ(r.fired, (std::vector<int>{2}));
    EXPECT_EQ(TimerQueue::arm(ta, q, 5).first, &q) << "earlier: first again";
    q.run_expired(30);
    EXPECT_EQ(r.fired, (std::vector<int>{2, 1}));
}

TEST(TimerQueue, CancelledTimersDoNotFire) {
    TimerQueue q;
    Recorder r;
    Tagged a{&r, 1}, b{&r, 2};
    Timer ta(record, &a), tb(record, &b), never(record, &a);
    TimerQueue::arm(ta, q, 10);
    TimerQueue::arm(tb, q, 20);
    EXPECT_TRUE(TimerQueue::cancel(ta));
    EXPECT_FALSE(TimerQueue::cancel(ta)) << "no longer pending";
    EXPECT_FALSE(TimerQueue::cancel(never)) << "never armed";
    TimerQueue::cancel_sync(never);
    EXPECT_EQ(q.next_deadline(), 20u);
    q.run_expired(100);
    EXPECT_EQ(r.fired, (std::vector<int>{2}));
    TimerQueue::arm(ta, q, 200);  // a cancelled timer may be armed again
    q.run_expired(200);
    EXPECT_EQ(r.fired, (std::vector<int>{2, 1}));
}

TEST(TimerQueue, ShutdownRefusesLaterArms) {
    TimerQueue q;
    Recorder r;
    Tagged a{&r, 1};
    Timer ta(record, &a), unarmed(record, &a);
    TimerQueue::arm(ta, q, 10);
    TimerQueue::shutdown(ta);
    EXPECT_EQ(q.pending_count(), 0u);
    EXPECT_FALSE(TimerQueue::arm(ta, q, 20).armed);
    TimerQueue::shutdown(unarmed);  // an owner that never armed its timer
    EXPECT_FALSE(TimerQueue::arm(unarmed, q, 20).armed);
    q.run_expired(1000);
    EXPECT_TRUE(r.fired.empty());
}

TEST(TimerQueue, ReArmOnAnotherQueueMovesIt) {
    TimerQueue q0, q1;
    Recorder r;
    Tagged a{&r, 1};
    Timer ta(record, &a);
    TimerQueue::arm(ta, q0, 10);
    EXPECT_EQ(TimerQueue::arm(ta, q1, 10).first, &q1);
    EXPECT_EQ(q0.pending_count(), 0u);
    EXPECT_EQ(q1.pending_count(), 1u);
    EXPECT_EQ(q0.run_expired(100), 0u);
    EXPECT_EQ(q1.run_expired(100), 1u);
}

// A callback that re-arms its timer runs again only at a later run: a timer re-armed
// into the past at each run cannot keep its CPU for ever.
struct Periodic {
    TimerQueue* queue;
    u64 period;
    int runs = 0;
};

void periodic(Timer& t, u64 now) {
    auto& p = *static_cast<Periodic*>(t.owner);
    ++p.runs;
    TimerQueue::arm(t, *p.queue, now + p.period);
}

TEST(TimerQueue, CallbackReArmsItself) {
    TimerQueue q, other;
    Periodic p{&other, 10};  // asks for another queue: it stays where it runs
    Timer t(periodic, &p);
    TimerQueue::arm(t, q, 10);
    EXPECT_EQ(q.run_expired(10), 1u);
    EXPECT_EQ(q.next_deadline(), 20u);
    EXPECT_EQ(other.pending_count(), 0u);
    EXPECT_EQ(q.run_expired(35), 1u) << "re-armed for 45 by the run at 35";
    EXPECT_EQ(q.next_deadline(), 45u);
    p.period = 0;  // into the past
    EXPECT_EQ(q.run_expired(1000), TimerQueue::kMaxRunsPerCall);
    EXPECT_EQ(q.pending_count(), 1u);
}

// The threads below play CPUs that run their queues in a loop.
struct Runner {
    TimerQueue& queue;
    std::atomic<bool> stop{false};
    std::thread thread;
    explicit Runner(TimerQueue& q)
        : queue(q), thread([this] {
              u64 now = 0;
              while (!stop.load()) queue.run_expired(++now);
          }) {}
    ~Runner() {
        stop.store(true);
        thread.join();
    }
};

struct Busy {
    TimerQueue* home;
    std::atomic<int> inside{0};
    std::atomic<unsigned long> runs{0};
    std::atomic<bool> overlapped{false};
};

// Runs a little, re-arms itself at once, and notes if it ever ran twice at a time.
void busy(Timer& t, u64 now) {
    auto& b = *static_cast<Busy*>(t.owner);
    if (b.inside.fetch_add(1) != 0) b.overlapped.store(true);
    std::atomic<int> spin{0};
    while (spin.fetch_add(1) < 200) {
    }
    b.runs.fetch_add(1);
    b.inside.fetch_sub(1);
    TimerQueue::arm(t, *b.home, now);
}

// After `stop` returns while another thread runs the timer: it is not running, never
// runs again, and (shut down) refuses arms.
template <typename Stop>
void stop_while_running(Stop stop, bool dead) {
    for (int round = 0; round < 50; ++round) {
        TimerQueue q;
        Busy b{&q};
        Timer t(busy, &b);
        Runner cpu(q);
        TimerQueue::arm(t, q, 0);
        while (b.runs.load() < 5) std::this_thread::yield();
        stop(t);
        EXPECT_EQ(b.inside.load(), 0) << "a callback still ran after the stop";
        const unsigned long runs = b.runs.load();
        for (int i = 0; i < 100; ++i) std::this_thread::yield();
        EXPECT_EQ(b.runs.load(), runs) << "it ran again";
        EXPECT_EQ(q.pending_count(), 0u);
        EXPECT_EQ(TimerQueue::arm(t, q, 1000000).armed, !dead);
        TimerQueue::cancel_sync(t);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(TimerQueue, CancelSyncWhileAnotherCpuRunsTheCallback) {
    stop_while_running([](Timer& t) { TimerQueue::cancel_sync(t); }, false);
}

TEST(TimerQueue, ShutdownWhileAnotherCpuRunsTheCallback) {
    stop_while_running([](Timer& t) { TimerQueue::shutdown(t); }, true);
}

// Two CPUs run their queues while two others keep moving the same timers between them:
// each callback runs on one CPU at a time, no timer is lost or doubled, and shutdown
// still leaves nothing behind.
TEST(TimerQueue, MovesBetweenRunningQueues) {
    TimerQueue q0, q1;
    constexpr int kTimers = 4;
    Busy busies[kTimers] = {{&q0}, {&q1}, {&q0}, {&q1}};
    std::vector<Timer*> timers;
    for (Busy& b : busies) timers.push_back(new Timer(busy, &b));
    Runner cpu0(q0), cpu1(q1);
    std::atomic<bool> stop{false};
    auto mover = [&](int seed) {
        unsigned x = unsigned(seed);
        while (!stop.load()) {
            x = x * 1103515245u + 12345u;
            const int i = int((x >> 8) % kTimers);
            TimerQueue::arm(*timers[i], (x >> 16) & 1 ? q1 : q0, (x >> 4) % 64);
            if ((x >> 20) % 16 == 0) TimerQueue::cancel(*timers[i]);
        }
    };
    std::thread m0(mover, 1), m1(mover, 2);
    for (Busy& b : busies)
        while (b.runs.load() < 200) std::this_thread::yield();
    stop.store(true);
    m0.join();
    m1.join();
    for (Timer* t : timers) TimerQueue::shutdown(*t);
    EXPECT_EQ(q0.pending_count() + q1.pending_count(), 0u);
    for (Busy& b : busies) {
        EXPECT_FALSE(b.overlapped.load()) << "a callback ran on two CPUs at once";
        EXPECT_EQ(b.inside.load(), 0);
    }
    for (Timer* t : timers) delete t;  // nothing refers to them any more
}

}  // namespace

namespace {

// Another CPU's pass runs a queue's overdue timers (kernel/sched/cpu_timers.hpp, the
// rescue of a lost timer interrupt) while its own CPU may run them too: each timer's
// callback runs exactly once, and one that re-arms itself stays on its queue.
TEST(TimerQueue, TwoCpusRunningOneQueueRunEachTimerOnce) {
    constexpr int kTimers = 2000;
    TimerQueue q;
    std::atomic<int> runs[kTimers];
    for (auto& r : runs) r = 0;
    struct Slot {
        std::atomic<int>* runs;
    };
    std::vector<Slot> slots(kTimers);
    std::vector<Timer> timers(kTimers);
    for (int i = 0; i < kTimers; ++i) {
        slots[i].runs = &runs[i];
        timers[i].callback = [](Timer& t, u64) { ++*static_cast<Slot*>(t.owner)->runs; };
        timers[i].owner = &slots[i];
        ASSERT_TRUE(TimerQueue::arm(timers[i], q, u64(i % 97)).armed);
    }
    auto runner = [&] {
        while (q.pending_count() != 0) q.run_expired(1000);
    };
    std::thread a(runner), b(runner);
    a.join();
    b.join();
    for (int i = 0; i < kTimers; ++i) EXPECT_EQ(runs[i].load(), 1) << "timer " << i;
    EXPECT_EQ(q.fired_count(), u64(kTimers));
}

}  // namespace
