// VmxVcpu::get_state / set_state: the VMCS fields to and from the vendor-neutral
// VcpuArchState (kernel/vcpu/vcpu_arch_state.hpp). Run on the vCPU's CPU with its VMCS
// current (a VMCS is read and written only through VMREAD/VMWRITE: SDM vol. 3C 25.11.1).
#include "kernel/percpu.hpp"
#include "kernel/vcpu/event_encoding.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/control_register_rules.hpp"
#include "kernel/vm/control_register_writes.hpp"
#include "kernel/vm/debug_registers.hpp"
#include "kernel/x86/instructions.hpp"
#include "vmx/vmcs.hpp"
#include "vmx/vmx_capabilities.hpp"
#include "vmx/vmx_vcpu.hpp"

namespace vmx {

namespace {

using vcpu_state::Part;
using vcpu_state::SegmentIndex;

constexpr u32 kUnusable = 1u << 16;
constexpr u32 kBlockingBySti = 1u << 0, kBlockingByMovSs = 1u << 1, kBlockingByNmi = 1u << 3;

struct SegmentFields {
    Field16 selector;
    FieldNatural base;
    Field32 limit;
    Field32 rights;
};

constexpr SegmentFields kSegments[] = {
    {Field16::GuestEsSelector, FieldNatural::GuestEsBase, Field32::GuestEsLimit, Field32::GuestEsAccessRights},
    {Field16::GuestCsSelector, FieldNatural::GuestCsBase, Field32::GuestCsLimit, Field32::GuestCsAccessRights},
    {Field16::GuestSsSelector, FieldNatural::GuestSsBase, Field32::GuestSsLimit, Field32::GuestSsAccessRights},
    {Field16::GuestDsSelector, FieldNatural::GuestDsBase, Field32::GuestDsLimit, Field32::GuestDsAccessRights},
    {Field16::GuestFsSelector, FieldNatural::GuestFsBase, Field32::GuestFsLimit, Field32::GuestFsAccessRights},
    {Field16::GuestGsSelector, FieldNatural::GuestGsBase, Field32::GuestGsLimit, Field32::GuestGsAccessRights},
    {Field16::GuestLdtrSelector, FieldNatural::GuestLdtrBase, Field32::GuestLdtrLimit, Field32::GuestLdtrAccessRights},
    {Field16::GuestTrSelector, FieldNatural::GuestTrBase, Field32::GuestTrLimit, Field32::GuestTrAccessRights},
};
static_assert(sizeof(kSegments) / sizeof(kSegments[0]) == u8(SegmentIndex::Count));

// VMX access rights (SDM vol. 3C 25.4.1, table 25-2) keep descriptor bits 52-55 in
// 15:12 and "unusable" in bit 16; the neutral form packs those four bits into 11:8.
vcpu_state::Segment read_segment(const SegmentFields& f) {
    const u32 ar = read(f.rights);
    return {read(f.selector), u16((ar & 0xff) | ((ar >> 4) & 0xf00)), read(f.limit), read(f.base),
            (ar & kUnusable) != 0};
}

// A TSS type without the busy bit (1: 16-bit, 9: 32/64-bit) in TR, which VM entry refuses
// (SDM vol. 3C 26.3.1.2: TR's type must be 3 or 11). A real CPU's LTR marks both the
// descriptor and TR busy, but a state saved elsewhere may keep the type as the descriptor
// had it before: QEMU's SVM keeps it so in the VMCB. Marked busy, as it is in the GDT.
constexpr u16 kTssTypeMask = 0x17, kTssAvailable16 = 0x01, kTssAvailable = 0x09, kTssBusyBit = 0x02;

vcpu_state::Segment busy_tr(vcpu_state::Segment tr) {
    const u16 type = tr.attributes & kTssTypeMask;  // S (bit 4) clear: a system descriptor
    if (!tr.unusable && (type == kTssAvailable16 || type == kTssAvailable)) tr.attributes |= kTssBusyBit;
    return tr;
}

void write_segment(const SegmentFields& f, const vcpu_state::Segment& s) {
    const u32 ar = (s.attributes & 0xffu) | ((s.attributes & 0xf00u) << 4) | (s.unusable ? kUnusable : 0);
    write(f.selector, s.selector);
    write(f.base, s.base);
    write(f.limit, s.limit);
    write(f.rights, ar);
}

}  // namespace

void VmxVcpu::get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) {
    prepare_vmcs(const_cast<Vcpu&>(vcpu));
    if (parts & Part::kGprs)
        for (u8 i = 0; i < 16; ++i) out.gpr[i] = vcpu.regs.gpr[i];
    if (parts & Part::kRipFlags) {
        out.rip = vcpu.regs.rip;
        out.rflags = vcpu.regs.rflags;
    }
    if (parts & Part::kSegments) {
        for (u8 i = 0; i < u8(SegmentIndex::Count); ++i) out.segment[i] = read_segment(kSegments[i]);
        out.gdtr = {read(FieldNatural::GuestGdtrBase), u16(read(Field32::GuestGdtrLimit))};
        out.idtr = {read(FieldNatural::GuestIdtrBase), u16(read(Field32::GuestIdtrLimit))};
    }
    if (parts & Part::kControl) {
        const GuestControlState c = control_state();
        out.control = {c.cr0, guest_cr2_, c.cr3, c.cr4, vcpu.cr8, c.efer};
    }
    if (parts & Part::kDebug) {
        // DR7 is saved into the VMCS at every exit ("save debug controls", SDM vol. 3C
        // 28.3.1); DR0-DR3 and DR6 are no VMCS fields: the vCPU's copy has them.
        const GuestDebugRegisters& d = vcpu.debug;
        out.debug = {{d.dr[0], d.dr[1], d.dr[2], d.dr[3]}, d.dr6, read(FieldNatural::GuestDr7)};
    }
    if (parts & Part::kMsrs) {
        out.msrs = {star_,
                    lstar_,
                    cstar_,
                    sfmask_,
                    kernel_gs_base_,
                    read(Field32::GuestSysenterCs),
                    read(FieldNatural::GuestSysenterEsp),
                    read(FieldNatural::GuestSysenterEip),
                    read(Field64::GuestPat),
                    0};
    }
    if (parts & Part::kTsc) out.tsc = guest_tsc();
    if (parts & Part::kEvents) {
        const u32 interruptibility = read(Field32::GuestInterruptibility);
        out.events.injected = vcpu.events.injected;
        out.events.interrupt_shadow = (interruptibility & (kBlockingBySti | kBlockingByMovSs)) != 0;
        out.events.nmi_blocked = (interruptibility & kBlockingByNmi) != 0;
        out.events.nmi_pending = vcpu.events.nmi_pending;
    }
}

void VmxVcpu::set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) {
    prepare_vmcs(vcpu);
    control_cached_ = false;
    const Capabilities* caps = capabilities();
    if (parts & Part::kGprs)
        for (u8 i = 0; i < 16; ++i) vcpu.regs.gpr[i] = in.gpr[i];
    if (parts & Part::kRipFlags) {
        vcpu.regs.rip = in.rip;
        vcpu.regs.rflags = in.rflags;
    }
    if (parts & Part::kSegments) {
        for (u8 i = 0; i < u8(SegmentIndex::Count); ++i)
            write_segment(kSegments[i], SegmentIndex(i) == SegmentIndex::Tr ? busy_tr(in.segment[i]) : in.segment[i]);
        write(FieldNatural::GuestGdtrBase, in.gdtr.base);
        write(Field32::GuestGdtrLimit, u32(in.gdtr.limit));
        write(FieldNatural::GuestIdtrBase, in.idtr.base);
        write(Field32::GuestIdtrLimit, u32(in.idtr.limit));
    }
    if (parts & Part::kControl) {
        write(FieldNatural::GuestCr3, in.control.cr3);
        write_control_registers(in.control.cr0, in.control.cr4, in.control.efer);
        // Under PAE paging VM entry takes the PDPTEs from the VMCS (SDM vol. 3C
        // 26.3.2.4): those the guest's CR3 holds now. Bad ones load as not present.
        u64 pdptes[4] = {0, 0, 0, 0};
        using namespace cr_bits;
        const bool pae_paging =
            (in.control.cr0 & kCr0Pg) && (in.control.cr4 & kCr4Pae) && !(in.control.efer & kEferLma);
        if (pae_paging && !read_guest_pae_pdptes(vcpu, in.control.cr3, pdptes))
            for (u64& e : pdptes) e = 0;
        write_pdptes(pdptes);
        guest_cr2_ = in.control.cr2;
        vcpu.cr8 = in.control.cr8 & 0xf;
    }
    if (parts & Part::kDebug) {
        for (u8 i = 0; i < 4; ++i) vcpu.debug.dr[i] = in.debug.dr[i];
        vcpu.debug.dr6 = in.debug.dr6;
        debug_state_changed(vcpu);  // loaded into the CPU before the next entry
        write(FieldNatural::GuestDr7, in.debug.dr7);
    }
    if (parts & Part::kMsrs) {
        star_ = in.msrs.star;
        lstar_ = in.msrs.lstar;
        cstar_ = in.msrs.cstar;
        sfmask_ = in.msrs.sfmask;
        kernel_gs_base_ = in.msrs.kernel_gs_base;
        write(Field32::GuestSysenterCs, u32(in.msrs.sysenter_cs));
        write(FieldNatural::GuestSysenterEsp, in.msrs.sysenter_esp);
        write(FieldNatural::GuestSysenterEip, in.msrs.sysenter_eip);
        write(Field64::GuestPat, in.msrs.pat);
        if (this_cpu().last_vcpu_uid == vcpu.uid) this_cpu().last_vcpu_uid = 0;  // reload them at the next entry
    }
    if (parts & Part::kTsc) {
        tsc_offset_ = in.tsc - scale_tsc(x86::rdtsc(), tsc_multiplier_);
        if (caps->tsc_offsetting) write(Field64::TscOffset, tsc_offset_);
    }
    if (parts & Part::kEvents) {
        vcpu.events.injected = in.events.injected;
        vcpu.events.nmi_pending = in.events.nmi_pending;
        u32 interruptibility = read(Field32::GuestInterruptibility) & ~(kBlockingBySti | kBlockingByNmi);
        interruptibility &= ~kBlockingByMovSs;
        // The neutral state (like AMD's) has one interrupt shadow; VM entry refuses
        // blocking by STI with RFLAGS.IF clear (SDM vol. 3C 26.3.1.5), where the shadow
        // can only be a MOV SS's.
        constexpr u64 kRflagsIf = 1ull << 9;
        if (in.events.interrupt_shadow)
            interruptibility |= (vcpu.regs.rflags & kRflagsIf) ? kBlockingBySti : kBlockingByMovSs;
        if (in.events.nmi_blocked) interruptibility |= kBlockingByNmi;
        write(Field32::GuestInterruptibility, interruptibility);
    }
}

}  // namespace vmx
