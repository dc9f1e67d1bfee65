// Each vCPU's x87/SSE/AVX registers. The hypervisor never touches them itself (it is
// built without SSE), so a CPU keeps the last vCPU's values in its registers and switches
// them only when it runs a different vCPU: XSAVE the old owner (with its XCR0 in force),
// XSETBV the new owner's XCR0, XRSTOR its state (Intel SDM vol. 1, chapter 13). Without
// XSAVE the legacy FXSAVE/FXRSTOR pair does the same for x87/SSE.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"

struct Vcpu;

// Enables FXSAVE and SSE on this CPU (CR4.OSFXSR/OSXMMEXCPT, CR0.MP/NE, no EM/TS) and,
// when the CPU has it, XSAVE (CR4.OSXSAVE).
void fpu_enable_this_cpu();
// The XCR0 bits guests may set: x87, SSE and AVX as far as this CPU has them (0 without
// XSAVE). Valid once fpu_enable_this_cpu ran.
u64 fpu_guest_xcr0_supported();
// Gives the vCPU its save area (one page). False when memory ran out.
bool fpu_prepare_vcpu(Vcpu& vcpu);
void fpu_release_vcpu(Vcpu& vcpu);
// The power-on state (SDM vol. 1, 8.1.1, 10.2.3, 13.6): FCW 0x037f, MXCSR 0x1f80, XCR0 = x87.
void fpu_reset_state(Vcpu& vcpu);
// Makes `vcpu`'s state the one in this CPU's registers.
void fpu_switch_to(Vcpu& vcpu);
// If this CPU's registers hold the vCPU's state, it goes to its save area and the CPU
// forgets it (the next fpu_switch_to loads it again).
void fpu_save_if_loaded_here(Vcpu& vcpu);
// The vendor-neutral FPU state from the save area, and back. The vCPU's registers must
// not be live in any CPU (fpu_save_if_loaded_here on its CPU). set refuses (false,
// nothing changed) what XRSTOR would fault on: an XCR0 this host does not offer guests,
// MXCSR reserved bits, components outside XCR0, a compacted or non-zero reserved header.
void fpu_get_state(const Vcpu& vcpu, vcpu_state::Fpu& out);
bool fpu_set_state(Vcpu& vcpu, const vcpu_state::Fpu& in);
// The vCPU's XCR0 (read from the CPU when its state is loaded here).
u64 fpu_guest_xcr0(Vcpu& vcpu);
// XSETBV for the vCPU running on this CPU; false if `value` is not a valid XCR0 for it.
bool fpu_set_guest_xcr0(Vcpu& vcpu, u64 value);
// Pure rule (unit-tested): x87 always, AVX only with SSE, nothing outside `supported`.
bool valid_guest_xcr0(u64 value, u64 supported);
// The vCPU's XMM (xmm = true, index 0..15) or MMX (index 0..7) register, for the MMIO
// emulator: reads copy the low `size` bytes out; writes replace the low `size` bytes and
// keep the rest (callers that zero-extend pass all 16). The vCPU's state is made this
// CPU's first (it normally is: the vCPU has just exited here).
void fpu_read_vector_register(Vcpu& vcpu, bool xmm, u8 index, u8* dst, u8 size);
void fpu_write_vector_register(Vcpu& vcpu, bool xmm, u8 index, const u8* src, u8 size);
