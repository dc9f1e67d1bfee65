// The quiesce handshake on real threads: one thread plays a CPU that runs a vCPU again
// and again, the test thread pauses or destroys the domain and waits as domain_quiesce
// does; after that the "CPU" must never be inside the guest again.
#include "kernel/domain/run_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

struct FakeCpu {
    const DomainLifecycle& lifecycle;
    RunGate& gate;
    std::atomic<bool> stop{false};
    std::atomic<bool> inside{false};        // between try_enter and leave: "in the guest"
    std::atomic<unsigned long> entries{0};  // successful entries
    std::atomic<unsigned long> refused{0};

    void run() {
        while (!stop.load()) {
            if (!gate.try_enter(lifecycle)) {
                refused.fetch_add(1);
                continue;
            }
            inside.store(true);
            entries.fetch_add(1);
            std::atomic<int> spin{0};  // a guest that runs a little
            while (spin.fetch_add(1) < 50) {
            }
            inside.store(false);
            gate.leave();
        }
    }
};

void quiesce(const RunGate& gate) {
    while (gate.in_use()) std::this_thread::yield();
}

// After the lifecycle forbids running and the gate is free, the CPU stays outside:
// no entry ever succeeds again, and it is never inside.
void expect_stays_out(FakeCpu& cpu) {
    const unsigned long entries = cpu.entries.load();
    EXPECT_FALSE(cpu.inside.load());
    const unsigned long refused = cpu.refused.load();
    while (cpu.refused.load() < refused + 1000) std::this_thread::yield();  // it kept trying
    EXPECT_EQ(cpu.entries.load(), entries) << "a vCPU entered after the quiesce";
    EXPECT_FALSE(cpu.inside.load());
}

TEST(RunGate, EntersOnlyWhileTheDomainMayRun) {
    DomainLifecycle lifecycle;
    RunGate gate;
    EXPECT_FALSE(gate.try_enter(lifecycle)) << "created, not yet unpaused";
    EXPECT_FALSE(gate.in_use());
    ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Unpause));
    EXPECT_TRUE(gate.try_enter(lifecycle));
    EXPECT_TRUE(gate.in_use());
    gate.leave();
    EXPECT_FALSE(gate.in_use());
}

// 200 rounds: a thread keeps entering and leaving while this one applies `stop` and
// waits; then the thread must stay out. `after` runs with the thread still trying.
template <typename After>
void stop_while_another_cpu_runs(LifecycleEvent stop, After after) {
    for (int round = 0; round < 200; ++round) {
        DomainLifecycle lifecycle;
        ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Unpause));
        RunGate gate;
        FakeCpu cpu{lifecycle, gate};
        std::thread t([&] { cpu.run(); });
        while (cpu.entries.load() < 10) std::this_thread::yield();
        ASSERT_TRUE(lifecycle.apply(stop));
        quiesce(gate);
        expect_stays_out(cpu);
        after(lifecycle, cpu);
        cpu.stop.store(true);
        t.join();
    }
}

TEST(RunGate, PauseWhileAnotherCpuRunsTheVcpu) {
    stop_while_another_cpu_runs(LifecycleEvent::Pause, [](DomainLifecycle& lifecycle, FakeCpu& cpu) {
        // Unpaused, it runs again.
        ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Unpause));
        const unsigned long before = cpu.entries.load();
        while (cpu.entries.load() == before) std::this_thread::yield();
    });
}

TEST(RunGate, DestroyWhileAnotherCpuRunsTheVcpu) {
    // Once it stays out, its resources could go: nothing uses them.
    stop_while_another_cpu_runs(LifecycleEvent::Destroy, [](DomainLifecycle& lifecycle, FakeCpu&) {
        EXPECT_TRUE(lifecycle.apply(LifecycleEvent::Released));
    });
}

TEST(RunGate, DestroyDuringPauseNeedsNoWait) {
    DomainLifecycle lifecycle;
    ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Unpause));
    ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Pause));
    RunGate gate;
    EXPECT_FALSE(gate.try_enter(lifecycle));
    ASSERT_TRUE(lifecycle.apply(LifecycleEvent::Destroy));
    EXPECT_FALSE(gate.in_use());
    EXPECT_FALSE(gate.try_enter(lifecycle));
}

}  // namespace
