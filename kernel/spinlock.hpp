// Ticket spinlock (FIFO-fair) and a guard that also masks interrupts on this CPU, so an
// interrupt handler on the same CPU can never spin on a lock its own CPU holds.
#pragma once

#include "kernel/types.hpp"

class SpinLock {
public:
    void lock() {
        const u32 ticket = __atomic_fetch_add(&next_, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&serving_, __ATOMIC_ACQUIRE) != ticket) cpu_relax();
    }
    // Gives up after `spins` attempts; used by the panic path, which must print even
    // when another CPU died holding the console lock.
    bool try_lock_for(u64 spins) {
        for (u64 i = 0; i < spins; ++i) {
            u32 serving = __atomic_load_n(&serving_, __ATOMIC_ACQUIRE);
            u32 expected = serving;
            if (__atomic_compare_exchange_n(&next_, &expected, serving + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return true;
            cpu_relax();
        }
        return false;
    }
    void unlock() { __atomic_store_n(&serving_, serving_ + 1, __ATOMIC_RELEASE); }

private:
    static void cpu_relax() {
#if defined(__x86_64__)
        asm volatile("pause" ::: "memory");
#endif
    }
    u32 next_ = 0;
    u32 serving_ = 0;
};

template <typename Lock>
class LockGuard {
public:
    explicit LockGuard(Lock& lock) : lock_(lock) { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Lock& lock_;
};

#if defined(VIREO_KERNEL)
#include "kernel/x86/instructions.hpp"

// Holds `lock` with interrupts masked; restores the previous interrupt flag on exit.
class IrqLockGuard {
public:
    explicit IrqLockGuard(SpinLock& lock) : lock_(lock) {
        interrupts_were_on_ = (x86::read_rflags() & x86::kRflagsIf) != 0;
        x86::cli();
        lock_.lock();
    }
    ~IrqLockGuard() {
        lock_.unlock();
        if (interrupts_were_on_) x86::sti();
    }
    IrqLockGuard(const IrqLockGuard&) = delete;
    IrqLockGuard& operator=(const IrqLockGuard&) = delete;

private:
    SpinLock& lock_;
    bool interrupts_were_on_;
};
#endif
