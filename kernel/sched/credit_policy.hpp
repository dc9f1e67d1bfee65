// The credit scheduling policy: which vCPU a CPU runs next, for how long, and which one
// a busy CPU gives to an idle one. After Xen's credit scheduler (credit1: Xen's
// docs/features/sched_credit.pandoc and xen/common/sched/credit.c), reworked for a
// tickless hypervisor that measures what each vCPU ran rather than sampling it:
//
//  - Credit is CPU time in microseconds. Every accounting period (kCreditPeriodUs) a CPU
//    shares the time its vCPUs ran among the vCPUs that were active on it (ran, or were
//    runnable), in proportion to their domains' weights; a vCPU is charged exactly what
//    it ran (kernel/sched/scheduler.cpp measures it with the TSC). Credit stays at or
//    below +kCreditPeriodUs, so a vCPU that idled does not hoard it (what a full one
//    cannot take goes to the others), and above -kCreditDebtLimitUs.
//    Accounting is per CPU (each run queue is its own market): vCPUs pinned together
//    share their CPU by weight whatever runs elsewhere. A domain's weight applies to
//    each of its vCPUs (credit2's reading; credit1 divides it among them).
//  - Priorities as in credit1: BOOST (woke up with credit left: it runs before the
//    others, for at most kCreditBoostUs of CPU time), UNDER (credit left), OVER (none).
//    The highest priority runs; within one priority, the longest waiting. The running
//    vCPU keeps its CPU for a slice (kCreditSliceUs) unless one of a higher priority is
//    waiting. (IDLE is a CPU with nothing to run: the caller halts it.)
//  - A cap (percent of one CPU, for the whole domain) is a token bucket shared by the
//    domain's vCPUs on every CPU: the domain may have run, since boot, cap% of the time
//    that passed plus one period's burst; once it has used that, its vCPUs are parked
//    (never picked) until the bucket refills. Its long-run share cannot pass the cap.
//  - Hard affinity: a vCPU is picked only on its allowed CPUs. Soft affinity: the CPUs
//    it prefers, which decide which vCPU a busy CPU gives to an idle one (Xen's load
//    balancer steals from its peers; here the busy CPU pushes, since a vCPU's VMCS and
//    FPU state must leave its CPU from that CPU).
//
// Pure logic: no hardware, no kernel locks. A run queue's state, and each queued vCPU's,
// belong to that queue's CPU; other CPUs only set a vCPU's `woken` flag and change
// weights, caps and affinities, all with atomic accesses. Host-tested on simulated time
// (tests/unit/credit_policy_test.cpp).
#pragma once

#include "kernel/types.hpp"

inline constexpr u32 kCreditDefaultWeight = 256;
inline constexpr u32 kCreditMinWeight = 1;
inline constexpr u32 kCreditMaxWeight = 65535;  // Xen's bounds (xl sched-credit -w)
inline constexpr u64 kCreditSliceUs = 10000;
inline constexpr u64 kCreditPeriodUs = 30000;  // credit1's accounting period (3 ticks of 10 ms)
inline constexpr u64 kCreditBoostUs = 2000;
// The most credit a vCPU may owe. Each accounting hands out what was used, so credit only
// moves between the vCPUs of a queue: a debt cut off would be time given away, and the
// pair that owes what a sleeper saved up would drift towards sharing alike. This bound
// only stops a debt from outliving its cause for long.
inline constexpr u64 kCreditDebtLimitUs = 10 * kCreditPeriodUs;
inline constexpr u64 kCreditNever = ~0ull;

// Ordered as Xen's CSCHED_PRI_*: greater runs first.
enum class CreditPriority : i8 { Boost = 0, Under = -1, Over = -2, Idle = -64 };

// "boost", "under", "over", "idle" (debug key 's').
const char* credit_priority_name(CreditPriority priority);

// A domain's share: one per domain, read by all its vCPUs' CPUs.
struct CreditDomain {
    u32 weight = kCreditDefaultWeight;  // atomic
    u32 cap_percent = 0;                // of one CPU; 0: none. Atomic
    // The time its vCPUs ran since boot, as the cap's bucket counts it: raised to
    // (now * cap% - one period's allowance) when it lags, so that idling saves no more
    // than a period's burst. Atomic.
    u64 cap_used_us = 0;
};

// A vCPU as the policy sees it.
struct CreditVcpu {
    CreditDomain* domain = nullptr;
    u64 hard_affinity = ~0ull;  // bit n: may run on CPU n. Atomic
    u64 soft_affinity = ~0ull;  // bit n: prefers CPU n. Atomic
    bool woken = false;         // set from any CPU by credit_note_wake; atomic
    // Its CPU's:
    i64 credit_us = 0;
    CreditPriority priority = CreditPriority::Under;
    u64 waiting_since = 0;  // its turn within its priority: lower goes first
    u64 boost_used_us = 0;
    bool active = false;   // ran or was runnable since its CPU's last accounting
    u64 cpu_time_us = 0;   // everything charged to it: its CPU time
    u64 parked_count = 0;  // times its cap parked it
    bool parked = false;
};

// What the caller knows of each queued vCPU at a decision.
struct CreditCandidate {
    CreditVcpu* vcpu;
    bool runnable;
};

// Something woke `v` (an interrupt, its timer, I/O done): from any CPU. Its CPU boosts
// it at its next decision if it still has credit.
void credit_note_wake(CreditVcpu& v);
// Sets a domain's weight (kCreditMinWeight..kCreditMaxWeight) and cap (0..100 per vCPU);
// false (nothing changes) when out of range.
bool credit_set_weight(CreditDomain& d, u32 weight);
// Whether both are in range: a caller that sets both checks first, so that a refused pair
// changes neither.
bool credit_share_valid(u32 weight, u32 cap_percent, u32 vcpu_count);
bool credit_set_cap(CreditDomain& d, u32 cap_percent, u32 vcpu_count);
// Whether `d`'s cap parks its vCPUs at `now_us`, and from when it may run again.
bool credit_cap_exhausted(CreditDomain& d, u64 now_us);
u64 credit_cap_refill_time(const CreditDomain& d, u64 now_us);

// One CPU's run queue state.
class CreditRunQueue {
public:
    struct Choice {
        CreditVcpu* vcpu;  // null: nothing to run here (the CPU idles)
        // The earliest time this choice may change without a wake-up: the end of the
        // slice when another vCPU waits, the chosen vCPU's cap running out, a parked
        // vCPU's refill, the next accounting while several compete; at most a period
        // away while a vCPU runs. kCreditNever if none.
        u64 decide_again_us;
        u32 eligible;  // runnable vCPUs that may run here now (parked ones are not)
    };

    // Charges `ran_us` of CPU time to `v` (its credit, its boost, its domain's cap).
    void charge(CreditVcpu& v, u64 ran_us, u64 now_us);
    // Chooses what CPU `cpu` runs from its queue at `now_us`: accounting first when due.
    Choice pick(const CreditCandidate* queue, u32 count, u32 cpu, u64 now_us);
    // Which runnable vCPU, other than one that cannot, this CPU should give to idle CPU
    // `target`: one that may run there (hard affinity), preferably one that prefers it
    // (soft affinity), then the one whose slice just ended, then the highest priority.
    // Null when fewer than two could run here, or none may go.
    CreditVcpu* choose_push(const CreditCandidate* queue, u32 count, u32 cpu, u32 target, u64 now_us) const;
    // `v` leaves this queue (another CPU, or for good).
    void forget(const CreditVcpu& v);

    // Round-robin instead (sched=rr, to compare against): every vCPU alike, in turn, a
    // slice each; weights, caps and boosts are ignored. Before the queue is used.
    void set_round_robin(bool on) { round_robin_ = on; }

    CreditVcpu* current() const { return current_; }
    u64 slice_end_us() const { return slice_end_us_; }
    u64 accountings() const { return accountings_; }

private:
    void account(const CreditCandidate* queue, u32 count, u64 now_us);
    bool eligible(CreditVcpu& v, bool runnable, u32 cpu, u64 now_us) const;

    CreditVcpu* current_ = nullptr;
    u64 slice_end_us_ = 0;
    u64 used_since_account_us_ = 0;  // charged here since the last accounting
    u64 next_account_us_ = 0;
    u64 turn_ = 0;  // hands out waiting_since
    u64 accountings_ = 0;
    bool round_robin_ = false;
};
