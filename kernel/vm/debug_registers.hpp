// Each vCPU's debug address registers DR0-DR3, and DR6 where the control structure does
// not hold it (VT-x). Neither vendor switches DR0-DR3 at VM entry or exit: AMD-V's VMRUN
// loads DR6 and DR7 from the VMCB and #VMEXIT saves them there (APM vol. 2 15.5.1), and
// VT-x loads and saves DR7 only, with the "load debug controls" and "save debug controls"
// controls (Intel SDM vol. 3C 26.3.2.1, 28.3.1). A guest writes them without an exit: the
// hypervisor sets no MOV-DR intercept (APM vol. 2 15.12, SDM vol. 3C 25.6.2).
//
// The scheme: the registers are read back into vcpu.debug after every exit (four MOVs
// from DRn, five on VT-x), so the vCPU's values are always in memory while it is not in
// the guest, and get_state, set_state, reset and migration need nothing else. They are
// written before an entry only when this CPU's registers may not hold exactly that
// vCPU's latest values: another vCPU ran here since, or the values were replaced (reset,
// set_state). So a guest never sees another's values, and a vCPU that keeps its CPU pays
// only the reads. (NOVA, KVM and Xen go further: they intercept MOV DR and switch nothing
// until a guest first touches the registers; that saves the reads at the cost of an exit
// handler for MOV DR on both vendors.) The hypervisor sets no breakpoints of its own, and
// a guest's DR0-DR3 are inert while the host runs since every exit leaves DR7 with all
// breakpoints disabled (SDM vol. 3C 28.5.1: DR7 = 400H; on AMD-V the host's DR7, which
// VMRUN saved, comes back at #VMEXIT: APM vol. 2 15.5.1).
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

// The power-on and INIT values (SDM vol. 3A 10.1.1, table 10-1): DR0-DR3 0, DR6 FFFF0FF0H.
void debug_reset_state(Vcpu& vcpu);
// vcpu.debug was replaced (set_state): the next entry loads it.
void debug_state_changed(Vcpu& vcpu);
// Before entering the guest, on its CPU: its values are in this CPU's registers.
void debug_load(Vcpu& vcpu);
// After the exit, on its CPU: the registers as the guest left them go to vcpu.debug.
void debug_save(Vcpu& vcpu);
// The vCPU leaves this CPU (moves, or goes away): the CPU no longer counts as holding
// its values, so it loads them again should the vCPU come back.
void debug_forget_here(Vcpu& vcpu);
