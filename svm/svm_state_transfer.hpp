// Moves a vCPU's state between the VMCB and the vendor-neutral VcpuArchState
// (kernel/vcpu/vcpu_arch_state.hpp), for the parts a mask names. Pure (no hardware
// access), so host tests check every field both ways. The general registers, RIP and
// RFLAGS live in the vCPU's GuestRegisters between exits (SvmVcpu::run copies them into
// the VMCB before VMRUN), DR0-DR3 in its GuestDebugRegisters; the FPU part is
// fpu_state.cpp's.
#pragma once

#include "kernel/vcpu/vcpu_arch_state.hpp"
#include "kernel/vcpu/vcpu_events.hpp"
#include "kernel/vm/guest_registers.hpp"
#include "svm/vmcb.hpp"

namespace svm {

// `host_tsc` is the host's TSC now: the guest's is host_tsc + TSC_OFFSET. DR0-DR3 are
// not in the VMCB (APM vol. 2 15.5.1 and appendix B): they come from and go to `debug`,
// the vCPU's copy (kernel/vm/debug_registers.hpp); DR6 and DR7 are the VMCB's.
void vmcb_to_arch_state(const Vmcb& vmcb, const GuestRegisters& regs, const GuestDebugRegisters& debug, u32 parts,
                        VcpuArchState& out, u64 host_tsc = 0);
void arch_state_to_vmcb(const VcpuArchState& in, u32 parts, Vmcb& vmcb, GuestRegisters& regs,
                        GuestDebugRegisters& debug, u64 host_tsc = 0);

// An external interrupt whose delivery an exit cut short goes back to the guest through
// V_IRQ, not EVENTINJ: QEMU's TCG (7.2 and later, helper_vmrun) leaves its exception
// index set after delivering an EVENTINJ interrupt, and delivers the vector a second
// time, as an exception and whatever the guest's IF, at its next exit request; seen as a
// guest's triple fault in an interrupt storm. The guest is where the delivery began, IF
// set and no shadow, so V_IRQ (with IGN_TPR) takes it at once, as EVENTINJ would. A
// requested interrupt waits meanwhile: `VirqRedelivery` remembers both between
// events_to_vmcb and events_from_vmcb.
struct VirqRedelivery {
    bool active = false;
    u8 vector = 0;
    bool held_request = false;  // events.interrupt_requested, kept out of V_IRQ meanwhile
};

// Just before VMRUN: the event to inject goes to EVENTINJ (and leaves `events`: the CPU
// delivers it or reports it in EXITINTINFO), a requested interrupt to V_IRQ, which the
// CPU delivers when the guest's IF allows (APM vol. 2 15.20, 15.21.4); an interrupted
// interrupt to V_IRQ too (above).
void events_to_vmcb(VcpuEvents& events, Vmcb& vmcb, VirqRedelivery& redelivery);
// After #VMEXIT: an event whose delivery the exit interrupted comes back to be injected
// again (APM 15.7.2; EXITINTINFO without its valid bit is stale), and the interrupt stays
// requested while V_IRQ is still set (the CPU clears it when it takes the interrupt).
void events_from_vmcb(const Vmcb& vmcb, VcpuEvents& events, VirqRedelivery& redelivery);

}  // namespace svm
