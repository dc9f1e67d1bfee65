// Each vCPU's x87/SSE registers. The hypervisor never touches them itself (it is built
// without SSE), so a CPU keeps the last vCPU's values in its registers and switches
// them only when it runs a different vCPU: FXSAVE the old owner, FXRSTOR the new one.
#pragma once

struct Vcpu;

// The power-on state (Intel SDM vol. 1, 8.1.1 and 10.2.3): FCW 0x037f, MXCSR 0x1f80.
void fpu_reset_state(Vcpu& vcpu);
// Makes `vcpu`'s state the one in this CPU's registers.
void fpu_switch_to(Vcpu& vcpu);
// Enables FXSAVE/FXRSTOR and SSE on this CPU (CR4.OSFXSR/OSXMMEXCPT, CR0.MP/NE, no EM/TS).
void fpu_enable_this_cpu();
