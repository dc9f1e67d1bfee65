// Moves a vCPU's state between the VMCB and the vendor-neutral VcpuArchState
// (kernel/vcpu/vcpu_arch_state.hpp), for the parts a mask names. Pure (no hardware
// access), so host tests check every field both ways. The general registers, RIP and
// RFLAGS live in the vCPU's GuestRegisters between exits (SvmVcpu::run copies them into
// the VMCB before VMRUN); the FPU part is fpu_state.cpp's.
#pragma once

#include "kernel/vcpu/vcpu_arch_state.hpp"
#include "kernel/vcpu/vcpu_events.hpp"
#include "kernel/vm/guest_registers.hpp"
#include "svm/vmcb.hpp"

namespace svm {

// `host_tsc` is the host's TSC now: the guest's is host_tsc + TSC_OFFSET.
void vmcb_to_arch_state(const Vmcb& vmcb, const GuestRegisters& regs, u32 parts, VcpuArchState& out, u64 host_tsc = 0);
void arch_state_to_vmcb(const VcpuArchState& in, u32 parts, Vmcb& vmcb, GuestRegisters& regs, u64 host_tsc = 0);

// Just before VMRUN: the event to inject goes to EVENTINJ (and leaves `events`: the CPU
// delivers it or reports it in EXITINTINFO), a requested interrupt to V_IRQ, which the
// CPU delivers when the guest's IF allows (APM vol. 2 15.20, 15.21.4).
void events_to_vmcb(VcpuEvents& events, Vmcb& vmcb);
// After #VMEXIT: an event whose delivery the exit interrupted comes back to be injected
// again (APM 15.7.2; EXITINTINFO without its valid bit is stale), and the interrupt stays
// requested while V_IRQ is still set (the CPU clears it when it takes the interrupt).
void events_from_vmcb(const Vmcb& vmcb, VcpuEvents& events);

}  // namespace svm
