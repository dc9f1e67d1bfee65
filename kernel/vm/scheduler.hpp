// The vCPU scheduler: each physical CPU runs the vCPUs assigned to it round-robin,
// with a periodic tick that preempts a running guest, drives the guests' virtual
// timers and wakes halted vCPUs. (The real scheduler is its own issue.)
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/vcpu.hpp"

struct Domain;

// Creates the backend of every vCPU of `domain`, starts vCPU 0 at `entry` and assigns
// the vCPUs to CPUs. The other vCPUs wait until the guest starts them.
bool scheduler_add_domain(Domain& domain, const GuestEntryState& entry, const char** error);
// Starts a vCPU that has never run; false if it already has.
bool scheduler_start_vcpu(Vcpu& vcpu, const GuestEntryState& entry);

// When set (command line debug_exit), the machine powers off once every domain has ended.
void scheduler_power_off_when_done(bool enabled);

// This CPU's loop: run vCPUs, handle their exits, idle when there is nothing to run.
[[noreturn]] void scheduler_run_this_cpu();
