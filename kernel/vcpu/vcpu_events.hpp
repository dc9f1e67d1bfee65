// The events a vCPU has to take, in one place for both backends: the event delivered at
// the next entry and the external interrupt waiting for the guest to be able to take it.
// Exit handlers and platforms raise them here; svm/ and vmx/ turn them into EVENTINJ and
// V_IRQ (AMD APM vol. 2 15.20, 15.21.4) or the VM-entry interruption information and an
// interrupt-window exit (Intel SDM vol. 3C 26.6, 25.6.2) just before each entry, and
// after the exit bring back what the hardware did not deliver (EXITINTINFO, APM 15.7.2;
// IDT-vectoring information, SDM 28.2.4). So the state of a stopped vCPU (save,
// migration) and the decisions of generic code read one record, whichever vendor.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"

struct VcpuEvents {
    // Delivered at the next entry before anything else: an exception a handler raised, or
    // an event whose delivery an exit interrupted. kind None: nothing.
    vcpu_state::Event injected{};
    // An external interrupt, delivered once the guest's RFLAGS.IF is set and no STI or
    // MOV SS shadow blocks it; it stays requested until delivery has begun.
    bool interrupt_requested = false;
    u8 interrupt_vector = 0;
    // An NMI waits (the local APIC's: an NMI IPI or message, LINT1). Delivered ahead of
    // external interrupts and whatever RFLAGS.IF says, once no NMI handler runs (NMIs
    // are blocked from an NMI's delivery to the next IRET, SDM vol. 3A 6.7.1) and no STI
    // or MOV SS shadow covers the instruction. More NMIs meanwhile are one (the CPU
    // latches one).
    bool nmi_pending = false;

    // A hardware exception for the next entry (it replaces an exception not yet
    // delivered: the handlers raise at most one per exit).
    void raise_exception(u8 vector, bool has_error_code, u32 error_code) {
        injected = {vcpu_state::EventKind::HardwareException, vector, has_error_code, has_error_code ? error_code : 0,
                    0};
    }
    void request_interrupt(u8 vector) {
        interrupt_requested = true;
        interrupt_vector = vector;
    }
    bool has_injection() const { return injected.kind != vcpu_state::EventKind::None; }
    // Nothing to deliver at the next entry.
    bool quiet() const { return !interrupt_requested && !nmi_pending && !has_injection(); }
};
