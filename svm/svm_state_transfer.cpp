#include "svm/svm_state_transfer.hpp"

#include "kernel/hot_path.hpp"
#include "kernel/vcpu/event_encoding.hpp"

namespace svm {

namespace {

using vcpu_state::Part;
using vcpu_state::SegmentIndex;

constexpr u64 kEferSvme = 1ull << 12;  // VMRUN requires it (APM 15.5.1); hidden from the guest
constexpr u16 kPresent = 1u << 7;

// The VMCB keeps the compressed attributes as they are; it has no "unusable" flag, so a
// segment without P stands for one (APM vol. 2 15.5.1: a null selector loads P=0).
vcpu_state::Segment from_vmcb(const VmcbSegment& s) {
    return {s.selector, u16(s.attrib & 0xfff), s.limit, s.base, (s.attrib & kPresent) == 0};
}

VmcbSegment to_vmcb(const vcpu_state::Segment& s) {
    const u16 attrib = s.unusable ? u16(s.attributes & 0xfff & ~kPresent) : u16(s.attributes & 0xfff);
    return {s.selector, attrib, s.limit, s.base};
}

VmcbSegment* segment_slot(VmcbStateSaveArea& save, SegmentIndex i) {
    switch (i) {
        case SegmentIndex::Es: return &save.es;
        case SegmentIndex::Cs: return &save.cs;
        case SegmentIndex::Ss: return &save.ss;
        case SegmentIndex::Ds: return &save.ds;
        case SegmentIndex::Fs: return &save.fs;
        case SegmentIndex::Gs: return &save.gs;
        case SegmentIndex::Ldtr: return &save.ldtr;
        case SegmentIndex::Tr: return &save.tr;
        case SegmentIndex::Count: break;
    }
    return nullptr;
}

}  // namespace

void vmcb_to_arch_state(const Vmcb& vmcb, const GuestRegisters& regs, const GuestDebugRegisters& debug, u32 parts,
                        VcpuArchState& out, u64 host_tsc) {
    const VmcbStateSaveArea& s = vmcb.save;
    const VmcbControlArea& c = vmcb.control;
    if (parts & Part::kGprs)
        for (u8 i = 0; i < 16; ++i) out.gpr[i] = regs.gpr[i];
    if (parts & Part::kRipFlags) {
        out.rip = regs.rip;
        out.rflags = regs.rflags;
    }
    if (parts & Part::kSegments) {
        auto& save = const_cast<VmcbStateSaveArea&>(s);  // segment_slot serves both directions
        for (u8 i = 0; i < u8(SegmentIndex::Count); ++i)
            out.segment[i] = from_vmcb(*segment_slot(save, SegmentIndex(i)));
        out.gdtr = {s.gdtr.base, u16(s.gdtr.limit)};
        out.idtr = {s.idtr.base, u16(s.idtr.limit)};
    }
    if (parts & Part::kControl) {
        out.control = {s.cr0, s.cr2, s.cr3, s.cr4, c.int_ctl & 0xf, s.efer & ~kEferSvme};
    }
    if (parts & Part::kDebug) {
        // DR6 and DR7 are VMCB fields that VMRUN loads and #VMEXIT saves (APM vol. 2
        // 15.5.1); DR0-DR3 are not, the vCPU's copy has them.
        out.debug = {{debug.dr[0], debug.dr[1], debug.dr[2], debug.dr[3]}, s.dr6, s.dr7};
    }
    if (parts & Part::kMsrs) {
        out.msrs = {s.star,        s.lstar,        s.cstar,        s.sfmask, s.kernel_gs_base,
                    s.sysenter_cs, s.sysenter_esp, s.sysenter_eip, s.g_pat,  0};
    }
    if (parts & Part::kTsc) out.tsc = host_tsc + c.tsc_offset;
    if (parts & Part::kEvents) {
        // The injected event is the vCPU's (VcpuEvents), not the VMCB's, between exits.
        out.events.interrupt_shadow = c.interrupt_shadow & 1;
        // NMI blocking and a pending NMI are the backend's and the vCPU's (svm_vcpu.cpp).
        out.events.nmi_blocked = false;
        out.events.nmi_pending = false;
        // The activity state is the scheduler's (halted = blocked), filled in by the caller.
    }
}

void arch_state_to_vmcb(const VcpuArchState& in, u32 parts, Vmcb& vmcb, GuestRegisters& regs,
                        GuestDebugRegisters& debug, u64 host_tsc) {
    VmcbStateSaveArea& s = vmcb.save;
    VmcbControlArea& c = vmcb.control;
    if (parts & Part::kGprs)
        for (u8 i = 0; i < 16; ++i) regs.gpr[i] = in.gpr[i];
    if (parts & Part::kRipFlags) {
        regs.rip = in.rip;
        regs.rflags = in.rflags;
    }
    if (parts & Part::kSegments) {
        for (u8 i = 0; i < u8(SegmentIndex::Count); ++i) *segment_slot(s, SegmentIndex(i)) = to_vmcb(in.segment[i]);
        s.gdtr = {0, 0, in.gdtr.limit, in.gdtr.base};
        s.idtr = {0, 0, in.idtr.limit, in.idtr.base};
        // The CPL is SS.DPL (APM vol. 2 15.5.1 keeps it apart; they agree on real CPUs).
        s.cpl = u8((in.seg(SegmentIndex::Ss).attributes >> 5) & 3);
    }
    if (parts & Part::kControl) {
        s.cr0 = in.control.cr0;
        s.cr2 = in.control.cr2;
        s.cr3 = in.control.cr3;
        s.cr4 = in.control.cr4;
        s.efer = in.control.efer | kEferSvme;
        c.int_ctl = (c.int_ctl & ~0xfull) | (in.control.cr8 & 0xf);
    }
    if (parts & Part::kDebug) {
        for (u8 i = 0; i < 4; ++i) debug.dr[i] = in.debug.dr[i];
        s.dr6 = in.debug.dr6;
        s.dr7 = in.debug.dr7;
    }
    if (parts & Part::kMsrs) {
        s.star = in.msrs.star;
        s.lstar = in.msrs.lstar;
        s.cstar = in.msrs.cstar;
        s.sfmask = in.msrs.sfmask;
        s.kernel_gs_base = in.msrs.kernel_gs_base;
        s.sysenter_cs = in.msrs.sysenter_cs;
        s.sysenter_esp = in.msrs.sysenter_esp;
        s.sysenter_eip = in.msrs.sysenter_eip;
        s.g_pat = in.msrs.pat;
    }
    if (parts & Part::kTsc) c.tsc_offset = in.tsc - host_tsc;
    if (parts & Part::kEvents) {
        c.interrupt_shadow = in.events.interrupt_shadow ? 1 : 0;
    }
}

VIREO_HOT_PATH void events_to_vmcb(VcpuEvents& events, Vmcb& vmcb, VirqRedelivery& redelivery) {
    VmcbControlArea& c = vmcb.control;
    redelivery = {};
    if (events.injected.kind == vcpu_state::EventKind::ExternalInterrupt) {
        redelivery = {true, events.injected.vector, events.interrupt_requested};
        c.event_inject = 0;
    } else {
        const u32 info = event_encoding::encode(events.injected, false);
        c.event_inject = info ? u64(info) | (u64(events.injected.error_code) << 32) : 0;
    }
    events.injected = {};
    // Priority 15 and IGN_TPR: the virtual local APIC (the platform's) has already
    // arbitrated, so the CPU must not hold the interrupt back by V_TPR (APM 15.21.4).
    u64 ctl = c.int_ctl & ~kIntCtlVIrq & ~(0xffull << 32) & ~(0xfull << 16) & ~kIntCtlVIgnTpr;
    if (redelivery.active || events.interrupt_requested) {
        const u8 vector = redelivery.active ? redelivery.vector : events.interrupt_vector;
        ctl |= kIntCtlVIrq | kIntCtlVIgnTpr | (0xfull << 16) | (u64(vector) << 32);
    }
    c.int_ctl = ctl;
}

VIREO_HOT_PATH void events_from_vmcb(const Vmcb& vmcb, VcpuEvents& events, VirqRedelivery& redelivery) {
    const VmcbControlArea& c = vmcb.control;
    const bool virq_pending = (c.int_ctl & kIntCtlVIrq) != 0;
    if (redelivery.active) {
        events.interrupt_requested = redelivery.held_request;
        // Not taken yet: still to be delivered again.
        if (virq_pending) events.injected = {vcpu_state::EventKind::ExternalInterrupt, redelivery.vector, false, 0, 0};
        redelivery = {};
    } else {
        events.interrupt_requested = virq_pending;
    }
    if (c.exit_int_info & event::kValid) {
        events.injected = event_encoding::decode(u32(c.exit_int_info), u32(c.exit_int_info >> 32), 0);
        // Exceptions are vectors 0-31 (APM vol. 2 8.2). QEMU's TCG reports an interrupt whose
        // delivery an exit cut short as type 3 ("exception") whatever its vector, and
        // refuses that event back at VMRUN (VMEXIT_INVALID): it was an external interrupt.
        if (events.injected.kind == vcpu_state::EventKind::HardwareException && events.injected.vector >= 32)
            events.injected.kind = vcpu_state::EventKind::ExternalInterrupt;
    }
}

}  // namespace svm
