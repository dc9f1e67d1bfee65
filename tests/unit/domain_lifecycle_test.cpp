#include "kernel/domain/domain_lifecycle.hpp"

#include <gtest/gtest.h>

namespace {

using S = LifecycleState;
using E = LifecycleEvent;

constexpr S kStates[] = {S::Created,      S::Running,  S::Paused, S::Restarting,
                         S::ShuttingDown, S::Shutdown, S::Dying,  S::Dead};
constexpr E kEvents[] = {E::Unpause,    E::Pause,        E::Restart, E::Restarted,
                         E::GuestEnded, E::VcpusStopped, E::Destroy, E::Released};

struct Transition {
    S from;
    E event;
    S to;
};

// Every allowed transition; the test checks that all others are refused.
constexpr Transition kAllowed[] = {
    {S::Created, E::Unpause, S::Running},
    {S::Created, E::GuestEnded, S::ShuttingDown},
    {S::Created, E::Destroy, S::Dying},
    {S::Running, E::Pause, S::Paused},
    {S::Running, E::GuestEnded, S::ShuttingDown},
    {S::Running, E::Destroy, S::Dying},
    {S::Paused, E::Unpause, S::Running},
    {S::Paused, E::GuestEnded, S::ShuttingDown},
    {S::Paused, E::Destroy, S::Dying},
    {S::Running, E::Restart, S::Restarting},
    {S::Restarting, E::Restarted, S::Running},
    {S::Restarting, E::GuestEnded, S::ShuttingDown},
    {S::Restarting, E::Destroy, S::Dying},
    {S::ShuttingDown, E::VcpusStopped, S::Shutdown},
    {S::ShuttingDown, E::Destroy, S::Dying},
    {S::Shutdown, E::Destroy, S::Dying},
    {S::Dying, E::Released, S::Dead},
};

TEST(DomainLifecycle, EveryTransitionOfTheTable) {
    for (S from : kStates) {
        for (E event : kEvents) {
            const Transition* allowed = nullptr;
            for (const Transition& t : kAllowed)
                if (t.from == from && t.event == event) allowed = &t;
            S next = S::Dead;
            const bool ok = lifecycle_next(from, event, next);
            SCOPED_TRACE(std::string(lifecycle_state_name(from)) + " + " + lifecycle_event_name(event));
            EXPECT_EQ(ok, allowed != nullptr);
            if (allowed) EXPECT_EQ(next, allowed->to);
            if (!allowed) EXPECT_EQ(next, S::Dead) << "a refused event leaves `next` alone";
        }
    }
}

TEST(DomainLifecycle, StartsCreatedAndDoesNotRun) {
    DomainLifecycle l;
    EXPECT_EQ(l.state(), S::Created);
    EXPECT_FALSE(l.may_run());
    EXPECT_FALSE(l.ended());
}

TEST(DomainLifecycle, PauseAndUnpause) {
    DomainLifecycle l;
    ASSERT_TRUE(l.apply(E::Unpause));
    EXPECT_TRUE(l.may_run());
    EXPECT_FALSE(l.apply(E::Unpause)) << "already running";
    ASSERT_TRUE(l.apply(E::Pause));
    EXPECT_FALSE(l.may_run());
    EXPECT_FALSE(l.apply(E::Pause)) << "already paused";
    ASSERT_TRUE(l.apply(E::Unpause));
    EXPECT_TRUE(l.may_run());
}

TEST(DomainLifecycle, DestroyDuringPause) {
    DomainLifecycle l;
    ASSERT_TRUE(l.apply(E::Unpause));
    ASSERT_TRUE(l.apply(E::Pause));
    ASSERT_TRUE(l.apply(E::Destroy));
    EXPECT_TRUE(l.being_destroyed());
    EXPECT_TRUE(l.ended());
    EXPECT_FALSE(l.apply(E::Unpause)) << "a dying domain cannot be unpaused";
    EXPECT_FALSE(l.apply(E::Destroy)) << "nor destroyed twice";
    EXPECT_FALSE(l.apply(E::GuestEnded)) << "nor end again";
    ASSERT_TRUE(l.apply(E::Released));
    EXPECT_EQ(l.state(), S::Dead);
    for (E e : kEvents) EXPECT_FALSE(l.apply(e)) << "dead is final";
}

TEST(DomainLifecycle, GuestShutdownThenDestroy) {
    DomainLifecycle l;
    ASSERT_TRUE(l.apply(E::Unpause));
    ASSERT_TRUE(l.apply(E::GuestEnded));
    EXPECT_TRUE(l.ended());
    EXPECT_FALSE(l.may_run());
    EXPECT_FALSE(l.apply(E::GuestEnded)) << "a crash after a shutdown keeps the first reason";
    EXPECT_FALSE(l.apply(E::Pause));
    ASSERT_TRUE(l.apply(E::VcpusStopped));
    EXPECT_EQ(l.state(), S::Shutdown);
    ASSERT_TRUE(l.apply(E::Destroy));
    ASSERT_TRUE(l.apply(E::Released));
}

TEST(DomainLifecycle, ARestartStopsTheVcpusAndRefusesAPause) {
    DomainLifecycle l;
    ASSERT_TRUE(l.apply(E::Unpause));
    ASSERT_TRUE(l.apply(E::Restart));
    EXPECT_FALSE(l.may_run()) << "no vCPU enters while it is loaded again";
    EXPECT_FALSE(l.ended());
    EXPECT_FALSE(l.apply(E::Pause)) << "a pause waits for the restart";
    EXPECT_FALSE(l.apply(E::Restart)) << "one restart at a time";
    ASSERT_TRUE(l.apply(E::Restarted));
    EXPECT_TRUE(l.may_run());
}

TEST(DomainLifecycle, NamesAreDistinct) {
    for (S a : kStates)
        for (S b : kStates)
            if (a != b) EXPECT_STRNE(lifecycle_state_name(a), lifecycle_state_name(b));
    for (E a : kEvents)
        for (E b : kEvents)
            if (a != b) EXPECT_STRNE(lifecycle_event_name(a), lifecycle_event_name(b));
}

}  // namespace
