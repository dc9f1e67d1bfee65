#include "kernel/sched/credit_policy.hpp"

namespace {

// A decision made again sooner than this would cost more passes than it saves time.
constexpr u64 kMinDecisionUs = 50;

u32 load_weight(const CreditDomain& d) { return __atomic_load_n(&d.weight, __ATOMIC_RELAXED); }
u32 load_cap(const CreditDomain& d) { return __atomic_load_n(&d.cap_percent, __ATOMIC_RELAXED); }

bool allowed_on(const CreditVcpu& v, u32 cpu) {
    return cpu < 64 && (__atomic_load_n(&v.hard_affinity, __ATOMIC_RELAXED) >> cpu & 1);
}
// Soft affinity counts only when it narrows the hard one (as Xen's has_soft_affinity):
// by default it names every CPU, which prefers none.
bool prefers(const CreditVcpu& v, u32 cpu) {
    const u64 hard = __atomic_load_n(&v.hard_affinity, __ATOMIC_RELAXED);
    const u64 soft = __atomic_load_n(&v.soft_affinity, __ATOMIC_RELAXED);
    return cpu < 64 && (soft & hard) != hard && (soft >> cpu & 1);
}

// What the cap allows the domain to have run by `now_us` since boot.
u64 cap_allowance(u32 cap, u64 now_us) { return now_us / 100 * cap + now_us % 100 * cap / 100; }

// Raises the bucket's count to (allowance - one period's burst) when it lags: time the
// domain did not use is not saved up beyond one burst. Returns the count.
u64 cap_catch_up(CreditDomain& d, u32 cap, u64 now_us) {
    const u64 allowance = cap_allowance(cap, now_us);
    const u64 burst = kCreditPeriodUs * cap / 100;
    const u64 floor = allowance > burst ? allowance - burst : 0;
    u64 used = __atomic_load_n(&d.cap_used_us, __ATOMIC_RELAXED);
    while (used < floor &&
           !__atomic_compare_exchange_n(&d.cap_used_us, &used, floor, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return used < floor ? floor : used;
}

u64 weight_of(const CreditVcpu& v) { return v.domain ? load_weight(*v.domain) : kCreditDefaultWeight; }

CreditPriority priority_from_credit(i64 credit) { return credit > 0 ? CreditPriority::Under : CreditPriority::Over; }

// Higher priority first; within one, more credit (credit1 keeps a FIFO there, but two
// vCPUs that are both OVER would then share alike until one climbed back to UNDER, as
// credit2 observes); then the longest waiting.
bool runs_before(const CreditVcpu& a, const CreditVcpu& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.credit_us != b.credit_us) return a.credit_us > b.credit_us;
    return a.waiting_since < b.waiting_since;
}

u64 at_least_soon(u64 now_us, u64 delta_us) { return now_us + (delta_us < kMinDecisionUs ? kMinDecisionUs : delta_us); }

}  // namespace

const char* credit_priority_name(CreditPriority priority) {
    switch (priority) {
        case CreditPriority::Boost: return "boost";
        case CreditPriority::Under: return "under";
        case CreditPriority::Over: return "over";
        case CreditPriority::Idle: return "idle";
    }
    return "?";
}

void credit_note_wake(CreditVcpu& v) { __atomic_store_n(&v.woken, true, __ATOMIC_RELEASE); }

bool credit_share_valid(u32 weight, u32 cap_percent, u32 vcpu_count) {
    return weight >= kCreditMinWeight && weight <= kCreditMaxWeight &&
           cap_percent <= 100 * (vcpu_count ? vcpu_count : 1);
}

bool credit_set_weight(CreditDomain& d, u32 weight) {
    if (!credit_share_valid(weight, 0, 1)) return false;
    __atomic_store_n(&d.weight, weight, __ATOMIC_RELAXED);
    return true;
}

bool credit_set_cap(CreditDomain& d, u32 cap_percent, u32 vcpu_count) {
    if (!credit_share_valid(kCreditDefaultWeight, cap_percent, vcpu_count)) return false;
    // A new cap starts a new bucket: what the domain ran under another cap (a higher one
    // would park it for as long again) counts no more. Emptied, the next charge raises it
    // to one burst below the allowance (cap_catch_up). A charge racing with this store
    // loses at most its own microseconds.
    if (__atomic_exchange_n(&d.cap_percent, cap_percent, __ATOMIC_RELAXED) != cap_percent)
        __atomic_store_n(&d.cap_used_us, 0, __ATOMIC_RELAXED);
    return true;
}

bool credit_cap_exhausted(CreditDomain& d, u64 now_us) {
    const u32 cap = load_cap(d);
    if (!cap) return false;
    return cap_catch_up(d, cap, now_us) >= cap_allowance(cap, now_us);
}

u64 credit_cap_refill_time(const CreditDomain& d, u64 now_us) {
    const u32 cap = load_cap(d);
    if (!cap) return now_us;
    // The first microsecond t with allowance(t) > used: t * cap / 100 >= used + 1.
    const u64 used = __atomic_load_n(&d.cap_used_us, __ATOMIC_RELAXED);
    const u64 t = ((used + 1) * 100 + cap - 1) / cap;
    return t > now_us ? t : now_us;
}

void CreditRunQueue::charge(CreditVcpu& v, u64 ran_us, u64 now_us) {
    v.active = true;
    if (!ran_us) return;
    used_since_account_us_ += ran_us;
    v.cpu_time_us += ran_us;
    v.credit_us -= i64(ran_us);
    if (v.credit_us < -i64(kCreditDebtLimitUs)) v.credit_us = -i64(kCreditDebtLimitUs);
    if (v.priority == CreditPriority::Boost) {
        v.boost_used_us += ran_us;
        if (v.boost_used_us >= kCreditBoostUs) v.priority = priority_from_credit(v.credit_us);
    } else {
        v.priority = priority_from_credit(v.credit_us);
    }
    if (v.domain && load_cap(*v.domain)) {
        cap_catch_up(*v.domain, load_cap(*v.domain), now_us);
        __atomic_fetch_add(&v.domain->cap_used_us, ran_us, __ATOMIC_RELAXED);
    }
}

// Shares the CPU time its vCPUs used since the last accounting among those active since,
// by weight (Xen's csched_acct does this for the whole machine every 30 ms; here each CPU
// does it for its own queue). What was used, not the time that passed: the hypervisor's
// own work between runs is no one's, and handing it out would lift every vCPU's credit
// until all are UNDER and share alike. A vCPU whose credit reaches the top (one that ran
// less than its share) takes no more, and the rest goes to the others by weight, as
// credit1 drops such a vCPU from the active set: a vCPU that sleeps does not dilute the
// shares of those that compete.
void CreditRunQueue::account(const CreditCandidate* queue, u32 count, u64 now_us) {
    next_account_us_ = now_us + kCreditPeriodUs;
    ++accountings_;
    u64 pool = used_since_account_us_;
    used_since_account_us_ = 0;
    const i64 top = i64(kCreditPeriodUs);
    u64 full = 0;  // bit i: queue[i] is not (or no longer) taking a share
    for (u32 i = 0; i < count; ++i) {
        CreditVcpu& v = *queue[i].vcpu;
        if (i < 64 && (!v.active || v.credit_us >= top)) full |= 1ull << i;
        if (v.credit_us > top) v.credit_us = top;
    }
    // Water-filling: each round either hands out the whole pool or fills at least one
    // vCPU to the top, so it ends within count + 1 rounds.
    for (u32 round = 0; round <= count && pool; ++round) {
        u64 total_weight = 0;
        for (u32 i = 0; i < count && i < 64; ++i)
            if (!(full >> i & 1)) total_weight += weight_of(*queue[i].vcpu);
        if (!total_weight) break;
        bool filled = false;
        u64 given = 0;
        for (u32 i = 0; i < count && i < 64; ++i) {
            if (full >> i & 1) continue;
            CreditVcpu& v = *queue[i].vcpu;
            const u64 share = pool * weight_of(v) / total_weight;
            const u64 room = u64(top - v.credit_us);
            if (share >= room) {
                v.credit_us = top;
                given += room;
                full |= 1ull << i;
                filled = true;
            }
        }
        if (filled) {
            pool -= given < pool ? given : pool;
            continue;
        }
        for (u32 i = 0; i < count && i < 64; ++i)
            if (!(full >> i & 1)) queue[i].vcpu->credit_us += i64(pool * weight_of(*queue[i].vcpu) / total_weight);
        break;
    }
    for (u32 i = 0; i < count; ++i) {
        CreditVcpu& v = *queue[i].vcpu;
        v.active = false;
        if (v.priority != CreditPriority::Boost) v.priority = priority_from_credit(v.credit_us);
    }
}

bool CreditRunQueue::eligible(CreditVcpu& v, bool runnable, u32 cpu, u64 now_us) const {
    if (!runnable || !allowed_on(v, cpu)) return false;
    return !(v.domain && credit_cap_exhausted(*v.domain, now_us));
}

CreditRunQueue::Choice CreditRunQueue::pick(const CreditCandidate* queue, u32 count, u32 cpu, u64 now_us) {
    bool current_queued = false;
    for (u32 i = 0; i < count; ++i) {
        CreditVcpu& v = *queue[i].vcpu;
        if (&v == current_) current_queued = true;
        if (!queue[i].runnable) continue;
        v.active = true;
        if (__atomic_exchange_n(&v.woken, false, __ATOMIC_ACQ_REL)) {
            // credit1 boosts only a vCPU with credit left (csched_vcpu_wake), so one that
            // wakes often cannot take more than its share.
            if (v.priority == CreditPriority::Under && !round_robin_) {
                v.priority = CreditPriority::Boost;
                v.boost_used_us = 0;
            }
            if (&v != current_) v.waiting_since = ++turn_;
        }
    }
    if (!current_queued) current_ = nullptr;
    if (now_us >= next_account_us_) account(queue, count, now_us);

    Choice choice{nullptr, kCreditNever, 0};
    CreditVcpu* best = nullptr;
    bool current_ok = false;
    for (u32 i = 0; i < count; ++i) {
        CreditVcpu& v = *queue[i].vcpu;
        if (!queue[i].runnable || !allowed_on(v, cpu)) continue;
        if (!round_robin_ && v.domain && credit_cap_exhausted(*v.domain, now_us)) {
            if (!v.parked) ++v.parked_count;
            v.parked = true;
            const u64 refill = credit_cap_refill_time(*v.domain, now_us);
            if (refill < choice.decide_again_us) choice.decide_again_us = refill;
            continue;
        }
        v.parked = false;
        ++choice.eligible;
        if (&v == current_) {
            current_ok = true;
            continue;
        }
        if (!best || (round_robin_ ? v.waiting_since < best->waiting_since : runs_before(v, *best))) best = &v;
    }

    // The running vCPU keeps its CPU for its slice unless a higher priority waits; at
    // the slice's end it goes behind the others of its priority.
    const bool slice_over = now_us >= slice_end_us_;
    const bool keep =
        current_ok && (!best || (round_robin_ ? !slice_over
                                              : best->priority < current_->priority ||
                                                    (best->priority == current_->priority && !slice_over)));
    if (keep) {
        if (slice_over) slice_end_us_ = now_us + kCreditSliceUs;
    } else {
        if (current_) current_->waiting_since = ++turn_;
        current_ = best;
        if (best) slice_end_us_ = now_us + kCreditSliceUs;
    }
    choice.vcpu = current_;
    if (!current_) return choice;

    auto sooner = [&](u64 t) {
        if (t < choice.decide_again_us) choice.decide_again_us = t;
    };
    // A tick each period even for a vCPU alone on its CPU: its CPU time is counted at its
    // exits, so one that spins without any would show none for as long, and its CPU
    // would do its accounting late (credit1 ticks every 10 ms for the same reasons).
    sooner(now_us + kCreditPeriodUs);
    if (round_robin_) {
        if (choice.eligible >= 2) sooner(slice_end_us_);
        return choice;
    }
    CreditVcpu& chosen = *current_;
    if (choice.eligible >= 2) {
        sooner(slice_end_us_);
        sooner(next_account_us_ > now_us ? next_account_us_ : now_us + kMinDecisionUs);
        // Its credit running out lets a waiting UNDER vCPU in.
        if (chosen.credit_us > 0) sooner(at_least_soon(now_us, u64(chosen.credit_us)));
        // Its boost ending (kCreditBoostUs of CPU time) puts it back among the others.
        if (chosen.priority == CreditPriority::Boost && chosen.boost_used_us < kCreditBoostUs)
            sooner(at_least_soon(now_us, kCreditBoostUs - chosen.boost_used_us));
    }
    if (chosen.domain && load_cap(*chosen.domain)) {
        // Running drains the bucket: decide again once what is left is gone (sooner, when
        // other vCPUs of the domain run too, is harmless).
        const u32 cap = load_cap(*chosen.domain);
        const u64 used = cap_catch_up(*chosen.domain, cap, now_us);
        const u64 allowance = cap_allowance(cap, now_us);
        sooner(at_least_soon(now_us, allowance > used ? allowance - used : 0));
    }
    return choice;
}

CreditVcpu* CreditRunQueue::choose_push(const CreditCandidate* queue, u32 count, u32 cpu, u32 target,
                                        u64 now_us) const {
    u32 eligible_here = 0;
    CreditVcpu* best = nullptr;
    auto score = [&](const CreditVcpu& v) { return (prefers(v, target) ? 2 : 0) + (&v == current_ ? 1 : 0); };
    for (u32 i = 0; i < count; ++i) {
        CreditVcpu& v = *queue[i].vcpu;
        if (!eligible(v, queue[i].runnable, cpu, now_us)) continue;
        ++eligible_here;
        if (!allowed_on(v, target)) continue;
        if (!best || score(v) > score(*best) || (score(v) == score(*best) && runs_before(v, *best))) best = &v;
    }
    return eligible_here >= 2 ? best : nullptr;
}

void CreditRunQueue::forget(const CreditVcpu& v) {
    if (current_ == &v) current_ = nullptr;
}
