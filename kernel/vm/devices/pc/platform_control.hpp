// What the platform's power and reset logic (ACPI PM1 control, port 0xCF9, the keyboard
// controller's reset line) asks of the hypervisor: the whole-machine transitions a
// device model cannot carry out itself. Both requests may arrive in the middle of a
// guest port access; the implementation records them and acts once the access is done.
#pragma once

#include "kernel/types.hpp"

class PlatformControl {
public:
    // The guest entered S5 (soft off): the domain stops as if its power went away.
    virtual void request_power_off() = 0;
    // The guest pulled the platform reset: every CPU restarts at the reset vector.
    virtual void request_reset() = 0;

protected:
    ~PlatformControl() = default;
};
