// Emulated MMIO: a nested page fault on a guest-physical address that a device model
// claimed (kernel/vm/mmio_bus.hpp) is resolved by fetching, decoding and executing the
// guest's instruction in the hypervisor (kernel/emulator), its accesses going to the
// device's callbacks.
#pragma once

#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/vm_exit.hpp"

// False when no device claims npf.gpa (the caller reports the fault); otherwise the
// instruction was emulated, or its fault injected, or the domain ended with the reason.
bool emulate_mmio_access(Vcpu& vcpu, const NestedPageFaultExit& npf);
