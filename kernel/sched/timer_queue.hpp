// One-shot timers that their owners arm, and the per-CPU queues that run them.
//
// A device model (or any other owner) arms its Timer for the moment it next has work;
// the CPU whose queue holds it runs the callback at its scheduling point once that moment
// has come, and arms its one-shot LAPIC timer for the earliest pending one
// (kernel/sched/cpu_timers.hpp is the hypervisor's side of that). Nothing is polled.
//
// Locking. Each queue has one spinlock, and a timer's fields (deadline, links, state)
// belong to the lock of the queue it is on (`Timer::queue`, the queue it is pending on or
// last was). That field only changes with both the old and the new queue's lock held,
// taken in address order, so whoever locks `timer.queue` and finds it unchanged owns the
// timer. Callbacks run with no queue lock held, so they may arm timers (their own too)
// and take their owner's locks; the owner's locks may in turn be held while arming or
// with cancel() (which never waits), but never with cancel_sync() or shutdown(), which
// wait for a running callback. In the hypervisor every operation masks interrupts while
// it holds a queue lock (kernel/spinlock.hpp: an interrupt handler on the same CPU must
// never spin on a lock its CPU holds), so the queues may be used from any context.
//
// A callback runs on one CPU at a time: a timer whose callback is running stays on that
// queue when re-armed (as Linux's timers do: kernel/time/timer.c, __mod_timer), so the
// next run is on the same CPU, after this one returns. A timer re-armed elsewhere while
// pending moves; which queue to use is the owner's choice (locality only: callbacks must
// be correct on any CPU).
//
// Pure (no hardware), so host tests run it on real threads (tests/unit/timer_queue_test.cpp).
#pragma once

#include "kernel/spinlock.hpp"
#include "kernel/types.hpp"

class TimerQueue;

struct Timer {
    // Runs on the queue's CPU at its scheduling point; `now_us` is the time the queue
    // was run at (the deadline has passed).
    using Callback = void (*)(Timer& timer, u64 now_us);

    Timer() = default;
    Timer(Callback fn, void* data) : callback(fn), owner(data) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    Callback callback = nullptr;
    void* owner = nullptr;  // for the callback

    // The queue's, under the lock of `queue` (see the locking above).
    TimerQueue* queue = nullptr;  // null until first used
    u64 deadline_us = 0;          // while pending
    Timer* prev = nullptr;
    Timer* next = nullptr;
    bool pending = false;  // on `queue`'s list
    bool running = false;  // its callback runs, on `queue`'s CPU
    bool dead = false;     // shut down: arms are refused
};

class TimerQueue {
public:
    static constexpr u64 kNever = ~0ull;
    // Callbacks one run_expired call runs at most, so that a timer that keeps re-arming
    // itself into the past cannot hold its CPU forever (the rest run at the next pass).
    static constexpr u32 kMaxRunsPerCall = 64;

    struct ArmResult {
        bool armed = false;           // false: the timer was shut down
        TimerQueue* first = nullptr;  // the queue where it is now the earliest, if so
    };

    // Arms `timer` to fire at `deadline_us` on `queue`, or re-arms it (a pending timer
    // moves to its new deadline, and to `queue`; one whose callback is running stays on
    // the queue running it). When it became the earliest of its queue, `first` names the
    // queue, whose CPU must arm its hardware timer again.
    static ArmResult arm(Timer& timer, TimerQueue& queue, u64 deadline_us);
    // Takes `timer` off its queue if it is pending; true if it was. Never waits: a
    // callback already running on another CPU may still finish, and re-arm it.
    static bool cancel(Timer& timer);
    // cancel(), then waits until its callback runs nowhere. Afterwards it fires only if
    // armed again. Not from its own callback, nor holding a lock its callback takes.
    static void cancel_sync(Timer& timer);
    // For the owner's end: cancel_sync(), and every later arm (its callback's own
    // re-arm included) is refused, so once this returns its callback never runs again
    // and the timer's memory may go. Same rules as cancel_sync().
    static void shutdown(Timer& timer);

    // Runs the callbacks of the timers due at `now_us`, earliest first (equal deadlines
    // in the order they were armed); returns how many ran. Only on this queue's CPU.
    u32 run_expired(u64 now_us);
    // The earliest pending deadline, or kNever.
    u64 next_deadline();
    u32 pending_count();
    u64 fired_count();  // callbacks run since boot

private:
    void insert(Timer& timer);
    void remove(Timer& timer);
    static TimerQueue* lock_timer(Timer& timer, TimerQueue& first_home);

    SpinLock lock_;
    Timer* head_ = nullptr;  // sorted by deadline
    u32 count_ = 0;
    u64 fired_ = 0;
};
