// The life of a domain as one state machine (the shape of ACRN's VM states and Xen's
// domain states): every change of a domain's state goes through `apply`, which refuses
// what the machine does not allow, so a control request that comes at the wrong moment
// (unpausing a dying domain, destroying one twice) gets an error instead of corrupting it.
//
//   Created --unpause--> Running <--pause/unpause--> Paused
//   Running --restart--> Restarting --restarted--> Running
//   Created, Running, Paused, Restarting --guest ended--> ShuttingDown --vCPUs stopped--> Shutdown
//   any state but Dying and Dead --destroy--> Dying --released--> Dead
//
// Created: built, never run (a control domain fills its memory, then unpauses it).
// Restarting: the guest reset its machine; its vCPUs leave their CPUs and it is loaded
// again (kernel/domain/domain_restart.cpp); a restart that fails ends it (guest ended).
// ShuttingDown: the guest shut down or crashed; its vCPUs are leaving their CPUs.
// Shutdown: none runs; memory is kept until it is destroyed (a boot domain, which has no
// toolstack to destroy it, gives it back at once). Dying: destroy asked for; its vCPUs
// are being taken off their CPUs and its resources released. Dead: nothing is left but
// the object, which goes when its last reference does.
#pragma once

#include "kernel/types.hpp"

// In this order: ended() and being_destroyed() compare.
enum class LifecycleState : u8 { Created, Running, Paused, Restarting, ShuttingDown, Shutdown, Dying, Dead };
enum class LifecycleEvent : u8 { Unpause, Pause, Restart, Restarted, GuestEnded, VcpusStopped, Destroy, Released };

const char* lifecycle_state_name(LifecycleState state);
const char* lifecycle_event_name(LifecycleEvent event);

// The state after `event`, or false (and `next` unchanged) when the event is not allowed.
bool lifecycle_next(LifecycleState state, LifecycleEvent event, LifecycleState& next);

class DomainLifecycle {
public:
    LifecycleState state() const { return LifecycleState(__atomic_load_n(&state_, __ATOMIC_ACQUIRE)); }
    // Writers hold the domain's lock; readers may look without it (an acquire load).
    bool apply(LifecycleEvent event) {
        LifecycleState next;
        if (!lifecycle_next(state(), event, next)) return false;
        __atomic_store_n(&state_, u8(next), __ATOMIC_SEQ_CST);
        return true;
    }

    // vCPUs may enter the guest only while this holds.
    bool may_run() const { return state() == LifecycleState::Running; }
    // The guest has ended or is being destroyed: nothing of it runs again.
    bool ended() const { return state() >= LifecycleState::ShuttingDown; }
    bool being_destroyed() const { return state() >= LifecycleState::Dying; }

private:
    u8 state_ = u8(LifecycleState::Created);
};
