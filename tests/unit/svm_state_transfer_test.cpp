#include "svm/svm_state_transfer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "kernel/vcpu/event_encoding.hpp"

namespace {

using namespace vcpu_state;

// A state where every field the VMCB carries has its own value.
VcpuArchState distinct_state() {
    VcpuArchState s{};
    for (int i = 0; i < 16; ++i) s.gpr[i] = 0x1000 + i;
    s.rip = 0xffffffff81000000ull;
    s.rflags = 0x246;
    for (u8 i = 0; i < u8(SegmentIndex::Count); ++i)
        s.segment[i] = {u16(0x08 * (i + 1)), u16(0x093 | (i << 8) | 0x80), 0xfffff000u + i, 0x10000ull * (i + 1),
                        false};
    s.seg(SegmentIndex::Ss).attributes = 0xc93 | (3 << 5);  // DPL 3: the CPL
    s.gdtr = {0xfffffe0000001000ull, 0x7f};
    s.idtr = {0xfffffe0000002000ull, 0xfff};
    s.control = {0x80050033, 0xdead0000, 0x1234000, 0x3606a0, 0x9, 0xd01};
    s.debug = {{0xffffffff81000000ull, 0x2000, 0x7fff00001000ull, 0xffff800000004000ull}, 0xffff4ff0, 0x401};
    s.msrs = {1, 2, 3, 4, 5, 6, 7, 8, 0x0007040600070406ull, 0};
    s.tsc = 123456789;
    s.events.injected = {EventKind::HardwareException, 14, true, 0x6, 0};
    s.events.interrupt_shadow = true;
    return s;
}

void expect_same_vmcb_parts(const VcpuArchState& a, const VcpuArchState& b) {
    for (int i = 0; i < 16; ++i) EXPECT_EQ(a.gpr[i], b.gpr[i]) << "gpr " << i;
    EXPECT_EQ(a.rip, b.rip);
    EXPECT_EQ(a.rflags, b.rflags);
    for (u8 i = 0; i < u8(SegmentIndex::Count); ++i) {
        EXPECT_EQ(a.segment[i].selector, b.segment[i].selector) << "segment " << int(i);
        EXPECT_EQ(a.segment[i].attributes, b.segment[i].attributes) << "segment " << int(i);
        EXPECT_EQ(a.segment[i].limit, b.segment[i].limit) << "segment " << int(i);
        EXPECT_EQ(a.segment[i].base, b.segment[i].base) << "segment " << int(i);
        EXPECT_EQ(a.segment[i].unusable, b.segment[i].unusable) << "segment " << int(i);
    }
    EXPECT_EQ(a.gdtr.base, b.gdtr.base);
    EXPECT_EQ(a.gdtr.limit, b.gdtr.limit);
    EXPECT_EQ(a.idtr.base, b.idtr.base);
    EXPECT_EQ(a.idtr.limit, b.idtr.limit);
    EXPECT_EQ(a.control.cr0, b.control.cr0);
    EXPECT_EQ(a.control.cr2, b.control.cr2);
    EXPECT_EQ(a.control.cr3, b.control.cr3);
    EXPECT_EQ(a.control.cr4, b.control.cr4);
    EXPECT_EQ(a.control.cr8, b.control.cr8);
    EXPECT_EQ(a.control.efer, b.control.efer);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a.debug.dr[i], b.debug.dr[i]) << "dr " << i;
    EXPECT_EQ(a.debug.dr6, b.debug.dr6);
    EXPECT_EQ(a.debug.dr7, b.debug.dr7);
    EXPECT_EQ(a.msrs.star, b.msrs.star);
    EXPECT_EQ(a.msrs.lstar, b.msrs.lstar);
    EXPECT_EQ(a.msrs.cstar, b.msrs.cstar);
    EXPECT_EQ(a.msrs.sfmask, b.msrs.sfmask);
    EXPECT_EQ(a.msrs.kernel_gs_base, b.msrs.kernel_gs_base);
    EXPECT_EQ(a.msrs.sysenter_cs, b.msrs.sysenter_cs);
    EXPECT_EQ(a.msrs.sysenter_esp, b.msrs.sysenter_esp);
    EXPECT_EQ(a.msrs.sysenter_eip, b.msrs.sysenter_eip);
    EXPECT_EQ(a.msrs.pat, b.msrs.pat);
    EXPECT_EQ(a.tsc, b.tsc);
    // The injected event lives in the vCPU's VcpuEvents, not in the VMCB (SvmEvents below).
    EXPECT_EQ(a.events.interrupt_shadow, b.events.interrupt_shadow);
}

TEST(SvmStateTransfer, EveryFieldRoundTripsThroughTheVmcb) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    GuestRegisters regs{};
    GuestDebugRegisters debug{};
    const VcpuArchState in = distinct_state();
    svm::arch_state_to_vmcb(in, kAll, *vmcb, regs, debug, 1000);
    VcpuArchState out{};
    svm::vmcb_to_arch_state(*vmcb, regs, debug, kAll, out, 1000);
    expect_same_vmcb_parts(in, out);
}

TEST(SvmStateTransfer, TheVmcbHoldsTheArchitecturalMeaning) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    GuestRegisters regs{};
    GuestDebugRegisters debug{};
    const VcpuArchState in = distinct_state();
    svm::arch_state_to_vmcb(in, kAll, *vmcb, regs, debug, 1000);
    EXPECT_EQ(vmcb->save.efer, 0xd01u | (1u << 12)) << "EFER.SVME set for VMRUN, hidden from the guest";
    EXPECT_EQ(vmcb->save.cpl, 3) << "CPL from SS.DPL";
    EXPECT_EQ(vmcb->control.int_ctl & 0xf, 9u) << "CR8 is V_TPR";
    EXPECT_EQ(vmcb->control.tsc_offset, 123456789u - 1000u) << "guest TSC = host TSC + offset";
    EXPECT_EQ(vmcb->control.event_inject, 0u) << "the injected event is the vCPU's (VcpuEvents), not the VMCB's";
    EXPECT_EQ(vmcb->save.cs.attrib, in.seg(SegmentIndex::Cs).attributes);
    EXPECT_EQ(regs.rip, in.rip) << "RIP and the GPRs live in GuestRegisters between exits";
    EXPECT_EQ(regs.gpr[7], in.gpr[7]);
}

// DR0-DR3 are no VMCB fields (APM vol. 2 appendix B): they go to the vCPU's own copy,
// which the hypervisor loads into the CPU; DR6 and DR7 are the VMCB's.
TEST(SvmStateTransfer, DebugRegistersGoToTheVcpusCopyAndTheVmcb) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    GuestRegisters regs{};
    GuestDebugRegisters debug{{0, 0, 0, 0}, 0x1234};
    const VcpuArchState in = distinct_state();
    svm::arch_state_to_vmcb(in, kDebug, *vmcb, regs, debug);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(debug.dr[i], in.debug.dr[i]) << "dr " << i;
    EXPECT_EQ(debug.dr6, 0x1234u) << "on AMD-V the vCPU's DR6 copy is unused: the VMCB has it";
    EXPECT_EQ(vmcb->save.dr6, in.debug.dr6);
    EXPECT_EQ(vmcb->save.dr7, in.debug.dr7);

    // What the guest left after an exit (debug_save) is what get_state reports.
    debug = {{0x1111, 0x2222, 0x3333, 0x4444}, 0};
    vmcb->save.dr6 = 0xffff0ff1;
    vmcb->save.dr7 = 0x455;
    VcpuArchState out{};
    svm::vmcb_to_arch_state(*vmcb, regs, debug, kDebug, out);
    EXPECT_EQ(out.debug.dr[0], 0x1111u);
    EXPECT_EQ(out.debug.dr[1], 0x2222u);
    EXPECT_EQ(out.debug.dr[2], 0x3333u);
    EXPECT_EQ(out.debug.dr[3], 0x4444u);
    EXPECT_EQ(out.debug.dr6, 0xffff0ff1u);
    EXPECT_EQ(out.debug.dr7, 0x455u);

    // Another part asked for: the debug registers stay where they are, both ways.
    GuestDebugRegisters untouched{{7, 7, 7, 7}, 7};
    svm::arch_state_to_vmcb(in, kAll & ~kDebug, *vmcb, regs, untouched);
    EXPECT_EQ(untouched.dr[0], 7u);
    EXPECT_EQ(vmcb->save.dr7, 0x455u);
    VcpuArchState kept{};
    kept.debug.dr[2] = 99;
    svm::vmcb_to_arch_state(*vmcb, regs, untouched, kAll & ~kDebug, kept);
    EXPECT_EQ(kept.debug.dr[2], 99u);
}

TEST(SvmStateTransfer, AnUnusableSegmentIsOneWithoutP) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    GuestRegisters regs{};
    GuestDebugRegisters debug{};
    VcpuArchState in = distinct_state();
    in.seg(SegmentIndex::Fs) = {0, 0x093, 0xffff, 0, true};
    svm::arch_state_to_vmcb(in, kSegments, *vmcb, regs, debug);
    EXPECT_EQ(vmcb->save.fs.attrib & 0x80, 0) << "P clear";
    VcpuArchState out{};
    svm::vmcb_to_arch_state(*vmcb, regs, debug, kSegments, out);
    EXPECT_TRUE(out.seg(SegmentIndex::Fs).unusable);
    EXPECT_FALSE(out.seg(SegmentIndex::Cs).unusable);
}

TEST(SvmStateTransfer, OnlyThePartsAskedForMove) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    GuestRegisters regs{};
    GuestDebugRegisters debug{};
    const VcpuArchState in = distinct_state();
    svm::arch_state_to_vmcb(in, kControl, *vmcb, regs, debug);
    EXPECT_EQ(vmcb->save.cr3, in.control.cr3);
    EXPECT_EQ(vmcb->save.cs.selector, 0) << "segments not asked for";
    EXPECT_EQ(regs.rip, 0u) << "RIP not asked for";
    EXPECT_EQ(vmcb->save.star, 0u) << "MSRs not asked for";
    VcpuArchState out{};
    out.rip = 77;
    svm::vmcb_to_arch_state(*vmcb, regs, debug, kControl, out);
    EXPECT_EQ(out.rip, 77u) << "a part not asked for is left alone";
    EXPECT_EQ(out.control.cr0, in.control.cr0);
}

TEST(EventEncoding, EveryKindBothWaysOnBothVendors) {
    for (EventKind kind :
         {EventKind::ExternalInterrupt, EventKind::Nmi, EventKind::HardwareException, EventKind::SoftwareInterrupt,
          EventKind::SoftwareException, EventKind::PrivilegedSoftwareException}) {
        for (bool vmx : {false, true}) {
            const Event e{kind, 0x80, kind == EventKind::HardwareException, 0x1234, 2};
            const u32 info = event_encoding::encode(e, vmx);
            const Event back = event_encoding::decode(info, 0x1234, 2);
            EXPECT_EQ(event_encoding::encode(back, vmx), info) << "the word comes back";
            if (!vmx && kind == EventKind::SoftwareException) {
                EXPECT_EQ(back.kind, EventKind::SoftwareInterrupt) << "SVM has one type for both";
                continue;
            }
            if (!vmx && kind == EventKind::PrivilegedSoftwareException) {
                EXPECT_EQ(back.kind, EventKind::HardwareException) << "INT1 is #DB on SVM";
                continue;
            }
            if (vmx)
                EXPECT_EQ((info >> 8) & 7, kind == EventKind::PrivilegedSoftwareException ? 5u
                                           : kind == EventKind::SoftwareException         ? 6u
                                                                                          : (info >> 8) & 7);
            EXPECT_EQ(back.kind, kind);
            EXPECT_EQ(back.vector, 0x80);
            EXPECT_EQ(back.has_error_code, e.has_error_code);
            EXPECT_EQ(back.error_code, e.has_error_code ? 0x1234u : 0u);
        }
    }
    EXPECT_EQ(event_encoding::encode(Event{}, true), 0u) << "no event, no valid bit";
    EXPECT_EQ(event_encoding::decode(0x0000030e, 0, 0).kind, EventKind::None) << "valid bit clear";
    EXPECT_EQ(event_encoding::decode(event_encoding::kValid | (7u << 8), 0, 0).kind, EventKind::None)
        << "type 7 (other event) carries nothing";
}

TEST(SvmEvents, AnInjectedEventGoesToEventinjOnceAndARequestToVIrq) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    VcpuEvents events;
    svm::VirqRedelivery redelivery;
    events.raise_exception(14, true, 6);
    events.request_interrupt(0x30);
    svm::events_to_vmcb(events, *vmcb, redelivery);
    EXPECT_EQ(vmcb->control.event_inject,
              (u64(6) << 32) | event_encoding::kValid | (3u << 8) | event_encoding::kErrorCodeValid | 14u)
        << "#PF with error code 6 (APM vol. 2 15.20)";
    EXPECT_FALSE(events.has_injection()) << "handed to the CPU";
    EXPECT_TRUE(vmcb->control.int_ctl & svm::kIntCtlVIrq);
    EXPECT_EQ((vmcb->control.int_ctl >> 32) & 0xff, 0x30u) << "V_INTR_VECTOR";
    EXPECT_TRUE(events.interrupt_requested) << "requested until the CPU takes it";

    svm::events_to_vmcb(events, *vmcb, redelivery);
    EXPECT_EQ(vmcb->control.event_inject, 0u) << "injected once";
    events.interrupt_requested = false;
    vmcb->control.int_ctl |= 0x5;  // V_TPR stays the guest's
    svm::events_to_vmcb(events, *vmcb, redelivery);
    EXPECT_FALSE(vmcb->control.int_ctl & svm::kIntCtlVIrq) << "no request, no V_IRQ";
    EXPECT_EQ(vmcb->control.int_ctl & 0xf, 0x5u);
}

TEST(SvmEvents, AfterAnExitWhatWasNotDeliveredComesBack) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    VcpuEvents events;
    svm::VirqRedelivery redelivery;
    events.request_interrupt(0x41);
    svm::events_to_vmcb(events, *vmcb, redelivery);
    vmcb->control.int_ctl &= ~svm::kIntCtlVIrq;                   // the CPU took the interrupt...
    vmcb->control.exit_int_info = event_encoding::kValid | 0x41;  // ...and an exit cut its delivery short
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_FALSE(events.interrupt_requested);
    EXPECT_EQ(events.injected.kind, EventKind::ExternalInterrupt);
    EXPECT_EQ(events.injected.vector, 0x41);

    // QEMU's TCG reports the same as type 3, an exception with vector 0x41: it was an
    // interrupt, and goes back as one (an exception type with that vector is refused).
    vmcb->control.exit_int_info = event_encoding::kValid | (3u << 8) | 0x41;
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_EQ(events.injected.kind, EventKind::ExternalInterrupt);
    EXPECT_EQ(events.injected.vector, 0x41);
    vmcb->control.exit_int_info = event_encoding::kValid | (3u << 8) | 14;  // a real #PF stays one
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_EQ(events.injected.kind, EventKind::HardwareException);

    VcpuEvents quiet;
    vmcb->control.exit_int_info = 0x41;  // no valid bit: stale (APM 15.7.2)
    svm::events_from_vmcb(*vmcb, quiet, redelivery);
    EXPECT_FALSE(quiet.has_injection());
}

// An interrupt whose delivery was cut short goes back through V_IRQ, never EVENTINJ's
// interrupt type (which QEMU's TCG delivers twice); a requested one waits behind it.
TEST(SvmEvents, AnInterruptedInterruptGoesBackThroughVIrq) {
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    VcpuEvents events;
    svm::VirqRedelivery redelivery;
    events.injected = {EventKind::ExternalInterrupt, 0x40, false, 0, 0};
    events.request_interrupt(0x50);
    svm::events_to_vmcb(events, *vmcb, redelivery);
    EXPECT_EQ(vmcb->control.event_inject, 0u) << "no EVENTINJ";
    EXPECT_TRUE(vmcb->control.int_ctl & svm::kIntCtlVIrq);
    EXPECT_EQ((vmcb->control.int_ctl >> 32) & 0xff, 0x40u) << "the interrupted vector first";
    EXPECT_TRUE(vmcb->control.int_ctl & svm::kIntCtlVIgnTpr);

    // An exit before the CPU took it (a host interrupt at VMRUN): it is still to come.
    vmcb->control.exit_int_info = 0;
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_EQ(events.injected.kind, EventKind::ExternalInterrupt);
    EXPECT_EQ(events.injected.vector, 0x40);
    EXPECT_TRUE(events.interrupt_requested) << "the request waited";
    EXPECT_EQ(events.interrupt_vector, 0x50);

    // Taken this time: the request goes to V_IRQ at the next entry.
    svm::events_to_vmcb(events, *vmcb, redelivery);
    vmcb->control.int_ctl &= ~svm::kIntCtlVIrq;
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_FALSE(events.has_injection());
    EXPECT_TRUE(events.interrupt_requested);
    svm::events_to_vmcb(events, *vmcb, redelivery);
    EXPECT_EQ((vmcb->control.int_ctl >> 32) & 0xff, 0x50u);
    EXPECT_EQ(vmcb->control.event_inject, 0u);

    // Its delivery cut short again: EXITINTINFO brings it back, and the request stays.
    events.injected = {EventKind::ExternalInterrupt, 0x40, false, 0, 0};
    svm::events_to_vmcb(events, *vmcb, redelivery);
    vmcb->control.int_ctl &= ~svm::kIntCtlVIrq;
    vmcb->control.exit_int_info = event_encoding::kValid | (3u << 8) | 0x40;
    svm::events_from_vmcb(*vmcb, events, redelivery);
    EXPECT_EQ(events.injected.kind, EventKind::ExternalInterrupt);
    EXPECT_EQ(events.injected.vector, 0x40);
    EXPECT_TRUE(events.interrupt_requested);
}

}  // namespace
