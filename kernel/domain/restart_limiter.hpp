// How often a domain may restart after resets before Vireo stops restarting it: a guest
// that resets in a loop would otherwise restart thousands of times a minute and flood the
// console. At most kMaxRestarts restarts in any kWindowUs (a sliding window), in the
// spirit of the restart policies of Xen's toolstack. Pure, host-tested.
#pragma once

#include "kernel/types.hpp"

class RestartLimiter {
public:
    static constexpr u32 kMaxRestarts = 10;
    static constexpr u64 kWindowUs = 60'000'000;

    // True when a restart at `now_us` is allowed, and then it counts.
    bool allow(u64 now_us) {
        // times_[next_] is the oldest of the last kMaxRestarts once the ring is full.
        if (count_ == kMaxRestarts && now_us - times_[next_] < kWindowUs) return false;
        times_[next_] = now_us;
        next_ = (next_ + 1) % kMaxRestarts;
        if (count_ < kMaxRestarts) ++count_;
        return true;
    }

private:
    u64 times_[kMaxRestarts] = {};
    u32 next_ = 0, count_ = 0;
};
