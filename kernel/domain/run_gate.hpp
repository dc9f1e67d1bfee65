// The handshake between a CPU that runs a vCPU and a CPU that stops its domain (pause,
// destroy, the end of a guest): after domain_quiesce no CPU is using the vCPU, and none
// starts again until the lifecycle allows it.
//
// The runner sets `in use`, then looks at the lifecycle; the stopper changes the
// lifecycle, then looks at `in use`. Both stores and both loads are sequentially
// consistent, so at least one of them sees the other's store (the store-buffering case
// that only seq_cst rules out): either the runner sees the domain may not run and backs
// off, or the stopper sees the vCPU in use and waits for leave(). Pure, so host tests
// run it on real threads (tests/unit/run_gate_test.cpp).
#pragma once

#include "kernel/domain/domain_lifecycle.hpp"

class RunGate {
public:
    // The vCPU's own CPU, before it enters the guest: false (and not in use) when the
    // domain may not run now.
    bool try_enter(const DomainLifecycle& lifecycle) {
        __atomic_store_n(&in_use_, true, __ATOMIC_SEQ_CST);
        if (lifecycle.may_run()) return true;
        __atomic_store_n(&in_use_, false, __ATOMIC_RELEASE);
        return false;
    }
    // Once the exit has been handled.
    void leave() { __atomic_store_n(&in_use_, false, __ATOMIC_RELEASE); }
    // The stopper, after changing the lifecycle: wait while this holds.
    bool in_use() const { return __atomic_load_n(&in_use_, __ATOMIC_SEQ_CST); }

private:
    bool in_use_ = false;
};
