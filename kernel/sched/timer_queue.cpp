#include "kernel/sched/timer_queue.hpp"

#include "kernel/assert.hpp"

#if defined(VIREO_KERNEL)
#include "kernel/x86/instructions.hpp"
#endif

namespace {

// Interrupts masked on this CPU while a queue lock is held (kernel/spinlock.hpp's rule);
// host threads have none.
class InterruptsOff {
public:
#if defined(VIREO_KERNEL)
    InterruptsOff() : were_on_((x86::read_rflags() & x86::kRflagsIf) != 0) { x86::cli(); }
    ~InterruptsOff() {
        if (were_on_) x86::sti();
    }

private:
    bool were_on_;
#else
    InterruptsOff() {}
#endif
};

void relax() {
#if defined(__x86_64__)
    asm volatile("pause" ::: "memory");
#endif
}

// Where a timer that was never armed goes when it is cancelled or shut down: a queue
// nobody runs, so that those too happen under a lock that a concurrent first arm takes.
TimerQueue g_unused;

}  // namespace

// Locks the queue that owns `timer` and returns it; a timer that has none yet is given
// `first_home`.
TimerQueue* TimerQueue::lock_timer(Timer& timer, TimerQueue& first_home) {
    for (;;) {
        TimerQueue* q = __atomic_load_n(&timer.queue, __ATOMIC_ACQUIRE);
        if (!q) {
            first_home.lock_.lock();
            TimerQueue* expected = nullptr;
            if (__atomic_compare_exchange_n(&timer.queue, &expected, &first_home, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return &first_home;
            first_home.lock_.unlock();
            continue;
        }
        q->lock_.lock();
        if (__atomic_load_n(&timer.queue, __ATOMIC_RELAXED) == q) return q;
        q->lock_.unlock();  // it moved meanwhile
    }
}

void TimerQueue::insert(Timer& t) {
    Timer* prev = nullptr;
    Timer* at = head_;
    while (at && at->deadline_us <= t.deadline_us) {
        prev = at;
        at = at->next;
    }
    t.prev = prev;
    t.next = at;
    if (at) at->prev = &t;
    if (prev)
        prev->next = &t;
    else
        head_ = &t;
    t.pending = true;
    ++count_;
}

void TimerQueue::remove(Timer& t) {
    if (!t.pending) return;
    if (t.prev)
        t.prev->next = t.next;
    else
        head_ = t.next;
    if (t.next) t.next->prev = t.prev;
    t.prev = t.next = nullptr;
    t.pending = false;
    --count_;
}

TimerQueue::ArmResult TimerQueue::arm(Timer& t, TimerQueue& target, u64 deadline_us) {
    InterruptsOff irq;
    for (;;) {
        TimerQueue* q = lock_timer(t, target);
        if (t.dead) {
            q->lock_.unlock();
            return {};
        }
        TimerQueue* dest = t.running ? q : &target;
        if (dest != q) {
            // Both locks, the lower address first, so two CPUs moving timers in opposite
            // directions cannot deadlock.
            if (reinterpret_cast<usize>(dest) < reinterpret_cast<usize>(q)) {
                q->lock_.unlock();
                dest->lock_.lock();
                q->lock_.lock();
                if (__atomic_load_n(&t.queue, __ATOMIC_RELAXED) != q || t.dead || t.running) {
                    q->lock_.unlock();
                    dest->lock_.unlock();
                    continue;  // it changed while neither lock was held: look again
                }
            } else {
                dest->lock_.lock();
            }
            q->remove(t);
            __atomic_store_n(&t.queue, dest, __ATOMIC_RELEASE);
            q->lock_.unlock();
        }
        dest->remove(t);
        t.deadline_us = deadline_us;
        dest->insert(t);
        const bool first = dest->head_ == &t;
        dest->lock_.unlock();
        return {true, first ? dest : nullptr};
    }
}

bool TimerQueue::cancel(Timer& t) {
    InterruptsOff irq;
    TimerQueue* q = lock_timer(t, g_unused);
    const bool was_pending = t.pending;
    q->remove(t);
    q->lock_.unlock();
    return was_pending;
}

void TimerQueue::cancel_sync(Timer& t) {
    for (;;) {
        bool running;
        {
            InterruptsOff irq;
            TimerQueue* q = lock_timer(t, g_unused);
            q->remove(t);  // again each time: the running callback may have re-armed it
            running = t.running;
            q->lock_.unlock();
        }
        if (!running) return;
        relax();
    }
}

void TimerQueue::shutdown(Timer& t) {
    for (;;) {
        bool running;
        {
            InterruptsOff irq;
            TimerQueue* q = lock_timer(t, g_unused);
            t.dead = true;
            q->remove(t);
            running = t.running;
            q->lock_.unlock();
        }
        if (!running) return;
        relax();
    }
}

u32 TimerQueue::run_expired(u64 now_us) {
    u32 ran = 0;
    while (ran < kMaxRunsPerCall) {
        Timer* t;
        {
            InterruptsOff irq;
            LockGuard<SpinLock> guard(lock_);
            t = head_;
            if (!t || t->deadline_us > now_us) break;
            // Re-armed while its callback still runs on another CPU that rescues this
            // queue (kernel/sched/cpu_timers.hpp): it waits, so that a callback never
            // runs on two CPUs at once. The next pass takes it.
            if (t->running) break;
            // shutdown() takes a timer off its queue for good: a dead timer here would be
            // one whose owner may already be gone.
            VIREO_ASSERT(!t->dead && t->queue == this);
            remove(*t);
            t->running = true;
            ++fired_;
        }
        t->callback(*t, now_us);
        {
            // It stayed on this queue while running (arm keeps it here). Once `running`
            // is clear, shutdown() may return and its owner free it: not touched after.
            InterruptsOff irq;
            LockGuard<SpinLock> guard(lock_);
            t->running = false;
        }
        ++ran;
    }
    return ran;
}

u64 TimerQueue::next_deadline() {
    InterruptsOff irq;
    LockGuard<SpinLock> guard(lock_);
    return head_ ? head_->deadline_us : kNever;
}

u32 TimerQueue::pending_count() {
    InterruptsOff irq;
    LockGuard<SpinLock> guard(lock_);
    return count_;
}

u64 TimerQueue::fired_count() {
    InterruptsOff irq;
    LockGuard<SpinLock> guard(lock_);
    return fired_;
}
