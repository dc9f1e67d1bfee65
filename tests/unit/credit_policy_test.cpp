// The credit policy on simulated time: vCPUs that spin or that wake on a timer, one or
// several CPUs, the policy deciding as kernel/sched/scheduler.cpp asks it to (at every
// exit, at the time it names, at a wake-up's kick).
#include "kernel/sched/credit_policy.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace {

// A guest exits at least this often (an interrupt, an I/O access) while it runs.
constexpr u64 kExitEveryUs = 300;
constexpr u64 kTenSecondsUs = 10'000'000;

struct SimVcpu {
    CreditDomain domain;
    CreditVcpu credit;
    u32 cpu = 0;
    bool runnable = true;
    // A timer-driven vCPU runs `burst_us`, then sleeps `sleep_us` (0: it spins).
    u64 burst_us = 0;
    u64 sleep_us = 0;
    u64 burst_left_us = 0;
    u64 wake_at_us = 0;
    // Wake-up latency: from its timer to its running.
    std::vector<u64> latencies_us;
    bool waiting_since_wake = false;
    u32 cpus_ran_on = 0;  // bit n: ran on CPU n

    SimVcpu() { credit.domain = &domain; }
};

class Sim {
public:
    explicit Sim(u32 cpus) : queues_(cpus) {}

    SimVcpu& add(u32 cpu, u32 weight = kCreditDefaultWeight, u32 cap = 0) {
        vcpus_.push_back(std::make_unique<SimVcpu>());
        SimVcpu& v = *vcpus_.back();
        v.cpu = cpu;
        EXPECT_TRUE(credit_set_weight(v.domain, weight));
        EXPECT_TRUE(credit_set_cap(v.domain, cap, 1));
        return v;
    }
    SimVcpu& add_timer_driven(u32 cpu, u64 burst_us, u64 sleep_us) {
        SimVcpu& v = add(cpu);
        v.burst_us = v.burst_left_us = burst_us;
        v.sleep_us = sleep_us;
        return v;
    }

    // Runs every CPU until `end_us`; with `balance`, a CPU gives a vCPU to an idle CPU
    // with an empty queue whenever the policy names one.
    void run_until(u64 end_us, bool balance = false) {
        std::vector<u64> cpu_now(queues_.size(), now_);
        while (now_ < end_us) {
            u64 next = end_us;
            for (u32 c = 0; c < queues_.size(); ++c) {
                wake_due();
                if (balance) push_from(c);
                const std::vector<CreditCandidate> q = queue_of(c);
                CreditRunQueue::Choice choice = queues_[c].pick(q.data(), u32(q.size()), c, now_);
                if (!choice.vcpu) {
                    next = std::min(next, choice.decide_again_us);
                    continue;
                }
                SimVcpu& v = of(*choice.vcpu);
                running_[c] = &v;
                if (v.waiting_since_wake) {
                    v.latencies_us.push_back(now_ - v.wake_at_us);
                    v.waiting_since_wake = false;
                }
                u64 step = std::min<u64>(kExitEveryUs, choice.decide_again_us - now_);
                if (v.burst_us) step = std::min(step, v.burst_left_us);
                next = std::min(next, now_ + std::max<u64>(step, 1));
            }
            next = std::min(next, next_wake());
            if (next <= now_) next = now_ + 1;
            const u64 ran = next - now_;
            now_ = next;
            for (u32 c = 0; c < queues_.size(); ++c) {
                SimVcpu* v = running_[c];
                running_[c] = nullptr;
                if (!v) continue;
                v->cpus_ran_on |= 1u << c;
                queues_[c].charge(v->credit, ran * charged_percent / 100, now_);
                if (v->burst_us) {
                    v->burst_left_us -= std::min(v->burst_left_us, ran);
                    if (!v->burst_left_us) {
                        v->runnable = false;
                        v->burst_left_us = v->burst_us;
                        v->wake_at_us = now_ + v->sleep_us;
                    }
                }
            }
        }
    }

    CreditRunQueue& queue(u32 cpu) { return queues_[cpu]; }
    // How much of what a vCPU ran is charged to it: the scheduler's own work between
    // runs is charged to no one.
    u64 charged_percent = 100;
    u64 now() const { return now_; }

private:
    std::vector<CreditCandidate> queue_of(u32 cpu) {
        std::vector<CreditCandidate> q;
        for (auto& v : vcpus_)
            if (v->cpu == cpu) q.push_back({&v->credit, v->runnable});
        return q;
    }
    SimVcpu& of(CreditVcpu& c) {
        for (auto& v : vcpus_)
            if (&v->credit == &c) return *v;
        ADD_FAILURE() << "unknown vCPU";
        return *vcpus_.front();
    }
    void wake_due() {
        for (auto& v : vcpus_) {
            if (v->runnable || v->wake_at_us > now_) continue;
            v->runnable = true;
            v->waiting_since_wake = true;
            credit_note_wake(v->credit);
        }
    }
    u64 next_wake() const {
        u64 t = ~0ull;
        for (auto& v : vcpus_)
            if (!v->runnable) t = std::min(t, v->wake_at_us);
        return t;
    }
    void push_from(u32 cpu) {
        for (u32 target = 0; target < queues_.size(); ++target) {
            if (target == cpu || running_[target] || !queue_of(target).empty()) continue;
            const std::vector<CreditCandidate> q = queue_of(cpu);
            CreditVcpu* go = queues_[cpu].choose_push(q.data(), u32(q.size()), cpu, target, now_);
            if (!go) return;
            queues_[cpu].forget(*go);
            of(*go).cpu = target;
            return;
        }
    }

    std::vector<std::unique_ptr<SimVcpu>> vcpus_;
    std::vector<CreditRunQueue> queues_;
    SimVcpu* running_[64] = {};
    u64 now_ = 0;
};

double ratio(const SimVcpu& a, const SimVcpu& b) { return double(a.credit.cpu_time_us) / double(b.credit.cpu_time_us); }

TEST(CreditPolicy, WeightsShareOneCpuInProportion) {
    Sim sim(1);
    SimVcpu& light = sim.add(0, 256);
    SimVcpu& heavy = sim.add(0, 512);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(ratio(heavy, light), 2.0, 0.02);
    EXPECT_NEAR(double(light.credit.cpu_time_us + heavy.credit.cpu_time_us), double(kTenSecondsUs), 1000.0);
}

TEST(CreditPolicy, WeightsHoldWhenTheSchedulersOwnTimeIsNoOnes) {
    Sim sim(1);
    sim.charged_percent = 90;
    SimVcpu& light = sim.add(0, 256);
    SimVcpu& heavy = sim.add(0, 512);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(ratio(heavy, light), 2.0, 0.02);
}

TEST(CreditPolicy, WeightsHoldBesideAVcpuThatSleeps) {
    Sim sim(1);
    SimVcpu& light = sim.add(0, 256);
    SimVcpu& heavy = sim.add(0, 512);
    SimVcpu& ticker = sim.add_timer_driven(0, 200, 4800);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(ratio(heavy, light), 2.0, 0.02);
    // It ran all it asked for: 4% of the CPU.
    EXPECT_NEAR(double(ticker.credit.cpu_time_us) / kTenSecondsUs, 0.04, 0.002);
}

TEST(CreditPolicy, EqualWeightsShareEqually) {
    Sim sim(1);
    SimVcpu& a = sim.add(0);
    SimVcpu& b = sim.add(0);
    SimVcpu& c = sim.add(0, 512);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(ratio(a, b), 1.0, 0.02);
    EXPECT_NEAR(ratio(c, a), 2.0, 0.04);
}

TEST(CreditPolicy, RoundRobinIgnoresWeightsCapsAndWakeUps) {
    Sim sim(1);
    sim.queue(0).set_round_robin(true);
    SimVcpu& light = sim.add(0, 256);
    SimVcpu& heavy = sim.add(0, 512, 25);
    SimVcpu& ticker = sim.add_timer_driven(0, 200, 4800);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(ratio(heavy, light), 1.0, 0.02);
    u64 late = 0;
    for (u64 l : ticker.latencies_us) late += l > 0;
    EXPECT_GT(late, ticker.latencies_us.size() / 2);  // it waits its turn
}

TEST(CreditPolicy, CapHoldsWhenAlone) {
    Sim sim(1);
    SimVcpu& capped = sim.add(0, 256, 25);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(double(capped.credit.cpu_time_us) / kTenSecondsUs, 0.25, 0.0125);
    EXPECT_GT(capped.credit.parked_count, 100u);
}

TEST(CreditPolicy, CapHoldsBesideASpinner) {
    Sim sim(1);
    SimVcpu& capped = sim.add(0, 512, 25);
    SimVcpu& other = sim.add(0);
    sim.run_until(kTenSecondsUs);
    EXPECT_NEAR(double(capped.credit.cpu_time_us) / kTenSecondsUs, 0.25, 0.0125);
    EXPECT_NEAR(double(other.credit.cpu_time_us) / kTenSecondsUs, 0.75, 0.0125);
}

TEST(CreditPolicy, CapDoesNotSaveUpIdleTime) {
    CreditDomain d;
    ASSERT_TRUE(credit_set_cap(d, 50, 1));
    // After a second of nothing, it may run one period's burst, not half a second.
    EXPECT_FALSE(credit_cap_exhausted(d, 1'000'000));
    __atomic_fetch_add(&d.cap_used_us, kCreditPeriodUs / 2, __ATOMIC_RELAXED);
    EXPECT_TRUE(credit_cap_exhausted(d, 1'000'000));
    EXPECT_GT(credit_cap_refill_time(d, 1'000'000), 1'000'000u);
    EXPECT_FALSE(credit_cap_exhausted(d, credit_cap_refill_time(d, 1'000'000)));
}

// xm sched-credit -c at run time: a lower cap holds from then on, rather than parking the
// domain until the time it ran under the higher one is paid back at the lower rate.
TEST(CreditPolicy, ALowerCapHoldsAtOnce) {
    Sim sim(1);
    SimVcpu& capped = sim.add(0, kCreditDefaultWeight, 50);
    sim.add(0);
    sim.run_until(kTenSecondsUs);
    const u64 before = capped.credit.cpu_time_us;
    EXPECT_NEAR(double(before) / kTenSecondsUs, 0.5, 0.025);
    ASSERT_TRUE(credit_set_cap(capped.domain, 25, 1));
    sim.run_until(kTenSecondsUs + 2'000'000);
    EXPECT_NEAR(double(capped.credit.cpu_time_us - before) / 2'000'000, 0.25, 0.0125)
        << "it runs at its new cap in the next two seconds, not at 0";
}

TEST(CreditPolicy, SettingsOutOfRangeAreRefused) {
    CreditDomain d;
    EXPECT_FALSE(credit_set_weight(d, 0));
    EXPECT_FALSE(credit_set_weight(d, 65536));
    EXPECT_TRUE(credit_set_weight(d, 65535));
    EXPECT_FALSE(credit_set_cap(d, 101, 1));
    EXPECT_TRUE(credit_set_cap(d, 200, 2));
    EXPECT_EQ(d.cap_percent, 200u);
}

TEST(CreditPolicy, TimerDrivenVcpuRunsAtOnceBesideSpinners) {
    Sim sim(1);
    sim.add(0);
    sim.add(0, 512);
    SimVcpu& ticker = sim.add_timer_driven(0, 200, 4800);
    // Until the first accounting it has no credit, so no boost: within a slice.
    sim.run_until(2 * kCreditPeriodUs);
    for (u64 l : ticker.latencies_us) ASSERT_LE(l, kCreditSliceUs);
    ticker.latencies_us.clear();
    // Then its wake-ups preempt the spinners at once.
    sim.run_until(kTenSecondsUs);
    ASSERT_GT(ticker.latencies_us.size(), 1500u);
    for (u64 l : ticker.latencies_us) ASSERT_EQ(l, 0u);
}

TEST(CreditPolicy, AVcpuAloneIsLookedAtEveryPeriod) {
    CreditDomain d;
    CreditVcpu v;
    v.domain = &d;
    CreditCandidate c{&v, true};
    for (bool round_robin : {false, true}) {
        CreditRunQueue q;
        q.set_round_robin(round_robin);
        const CreditRunQueue::Choice choice = q.pick(&c, 1, 0, 1000);
        EXPECT_EQ(choice.vcpu, &v);
        EXPECT_EQ(choice.decide_again_us, 1000 + kCreditPeriodUs);
        c.runnable = false;
        EXPECT_EQ(q.pick(&c, 1, 0, 2000).decide_again_us, kCreditNever);  // an idle CPU sleeps
        c.runnable = true;
    }
}

TEST(CreditPolicy, WakeWithoutCreditIsNotBoosted) {
    CreditDomain d;
    CreditVcpu v;
    v.domain = &d;
    CreditRunQueue q;
    CreditCandidate c{&v, true};
    ASSERT_EQ(q.pick(&c, 1, 0, 0).vcpu, &v);
    q.charge(v, kCreditPeriodUs, kCreditPeriodUs / 2);  // more than it was given
    EXPECT_EQ(v.priority, CreditPriority::Over);
    credit_note_wake(v);
    q.pick(&c, 1, 0, kCreditPeriodUs / 2);
    EXPECT_EQ(v.priority, CreditPriority::Over);
    EXPECT_FALSE(__atomic_load_n(&v.woken, __ATOMIC_RELAXED));
}

TEST(CreditPolicy, BoostPreemptsAndEndsAfterItsBudget) {
    CreditDomain da, db;
    CreditVcpu a, b;
    a.domain = &da;
    b.domain = &db;
    b.credit_us = 5000;
    CreditRunQueue q;
    CreditCandidate c[2] = {{&a, true}, {&b, false}};
    ASSERT_EQ(q.pick(c, 2, 0, 0).vcpu, &a);
    q.charge(a, 1000, 1000);
    c[1].runnable = true;
    credit_note_wake(b);
    CreditRunQueue::Choice choice = q.pick(c, 2, 0, 1000);
    EXPECT_EQ(choice.vcpu, &b);  // mid-slice
    EXPECT_EQ(b.priority, CreditPriority::Boost);
    EXPECT_LE(choice.decide_again_us, 1000 + kCreditBoostUs);
    q.charge(b, kCreditBoostUs, 1000 + kCreditBoostUs);
    EXPECT_EQ(b.priority, CreditPriority::Under);
}

TEST(CreditPolicy, HardAffinityIsHonoured) {
    CreditDomain d;
    CreditVcpu pinned, free_one;
    pinned.domain = free_one.domain = &d;
    pinned.hard_affinity = 1u << 1;
    CreditRunQueue q;
    CreditCandidate c[2] = {{&pinned, true}, {&free_one, false}};
    EXPECT_EQ(q.pick(c, 2, 0, 0).vcpu, nullptr);
    EXPECT_EQ(q.pick(c, 2, 1, 0).vcpu, &pinned);
    c[1].runnable = true;
    // Two could run on CPU 1; only the free one may go to CPU 2.
    EXPECT_EQ(q.choose_push(c, 2, 1, 2, 20'000), &free_one);
    free_one.hard_affinity = 1u << 1;
    EXPECT_EQ(q.choose_push(c, 2, 1, 2, 20'000), nullptr);
}

TEST(CreditPolicy, PushPrefersSoftAffinity) {
    CreditDomain d;
    CreditVcpu a, b, c3;
    a.domain = b.domain = c3.domain = &d;
    b.soft_affinity = 1u << 3;
    CreditRunQueue q;
    CreditCandidate c[3] = {{&a, true}, {&b, true}, {&c3, true}};
    q.pick(c, 3, 0, 0);
    EXPECT_EQ(q.choose_push(c, 3, 0, 3, 20'000), &b);
    EXPECT_NE(q.choose_push(c, 3, 0, 2, 20'000), &b);
}

TEST(CreditPolicy, PinnedVcpuNeverRunsElsewhere) {
    Sim sim(4);
    SimVcpu& pinned = sim.add(0);
    pinned.credit.hard_affinity = 1u << 0;
    for (int i = 0; i < 3; ++i) sim.add(0);
    sim.run_until(2'000'000, true);
    EXPECT_EQ(pinned.cpus_ran_on, 1u);
}

TEST(CreditPolicy, SpinnersOnOneCpuSpreadOverFour) {
    Sim sim(4);
    SimVcpu* v[4];
    for (SimVcpu*& s : v) s = &sim.add(0);
    sim.run_until(200'000, true);
    for (SimVcpu* s : v) s->credit.cpu_time_us = 0;
    sim.run_until(1'200'000, true);
    // Each had a CPU of its own for the last second.
    for (SimVcpu* s : v) EXPECT_NEAR(double(s->credit.cpu_time_us), 1'000'000.0, 1000.0);
}

TEST(CreditPolicy, AnIdleVcpuDoesNotHoardCredit) {
    Sim sim(1);
    SimVcpu& sleeper = sim.add_timer_driven(0, 100, 1'000'000);
    sim.add(0);
    sim.run_until(3'000'000);
    EXPECT_LE(sleeper.credit.credit_us, i64(kCreditPeriodUs));
}

}  // namespace
