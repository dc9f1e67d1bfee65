#include "kernel/domain/domain_lifecycle.hpp"

const char* lifecycle_state_name(LifecycleState state) {
    switch (state) {
        case LifecycleState::Created: return "created";
        case LifecycleState::Running: return "running";
        case LifecycleState::Paused: return "paused";
        case LifecycleState::Restarting: return "restarting";
        case LifecycleState::ShuttingDown: return "shutting down";
        case LifecycleState::Shutdown: return "shut down";
        case LifecycleState::Dying: return "dying";
        case LifecycleState::Dead: return "dead";
    }
    return "?";
}

const char* lifecycle_event_name(LifecycleEvent event) {
    switch (event) {
        case LifecycleEvent::Unpause: return "unpause";
        case LifecycleEvent::Pause: return "pause";
        case LifecycleEvent::Restart: return "restart";
        case LifecycleEvent::Restarted: return "restarted";
        case LifecycleEvent::GuestEnded: return "guest ended";
        case LifecycleEvent::VcpusStopped: return "vcpus stopped";
        case LifecycleEvent::Destroy: return "destroy";
        case LifecycleEvent::Released: return "released";
    }
    return "?";
}

bool lifecycle_next(LifecycleState state, LifecycleEvent event, LifecycleState& next) {
    using S = LifecycleState;
    using E = LifecycleEvent;
    S to = state;
    switch (event) {
        case E::Unpause:
            if (state != S::Created && state != S::Paused) return false;
            to = S::Running;
            break;
        case E::Pause:
            if (state != S::Running) return false;
            to = S::Paused;
            break;
        case E::Restart:
            if (state != S::Running) return false;
            to = S::Restarting;
            break;
        case E::Restarted:
            if (state != S::Restarting) return false;
            to = S::Running;
            break;
        case E::GuestEnded:
            if (state != S::Created && state != S::Running && state != S::Paused && state != S::Restarting)
                return false;
            to = S::ShuttingDown;
            break;
        case E::VcpusStopped:
            if (state != S::ShuttingDown) return false;
            to = S::Shutdown;
            break;
        case E::Destroy:
            if (state == S::Dying || state == S::Dead) return false;
            to = S::Dying;
            break;
        case E::Released:
            if (state != S::Dying) return false;
            to = S::Dead;
            break;
    }
    next = to;
    return true;
}
