#include "svm/svm_vcpu.hpp"

#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/percpu.hpp"
#include "kernel/vm/control_register_rules.hpp"
#include "kernel/vm/debug_registers.hpp"
#include "kernel/vm/exit_fast_path.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"
#include "svm/svm_permission_maps.hpp"
#include "svm/svm_state_transfer.hpp"

extern "C" void svm_world_switch(PhysAddr vmcb_pa, PhysAddr host_vmsave_pa, u64* guest_gprs);

namespace svm {

namespace {

constexpr u64 kCr0Pe = 1ull << 0;
constexpr u64 kEferLma = 1ull << 10;

bool g_nrip_save = false;  // set once, from CPUID 8000000Ah EDX[3], by the first vCPU

// One ASID for guests, with a full TLB flush whenever this CPU switches to a different
// vCPU: QEMU's TCG has no flush-by-ASID (shared/research/svm-under-qemu-tcg.md).
constexpr u32 kGuestAsid = 1;
// #DB and #AC always exit (and go back into the guest, kernel/vm/exit_handlers.cpp):
// a guest whose IDT makes their delivery raise them again holds a CPU in a microcode
// loop that no interrupt ends (CVE-2015-8104, CVE-2015-5307), as Xen and KVM know.
constexpr u32 kAlwaysInterceptedExceptions = (1u << 1) | (1u << 17);

}  // namespace

bool SvmVcpu::init(Vcpu& vcpu, const VcpuArchState& boot, const char** error) {
    g_nrip_save = (x86::cpuid(0x8000000a).edx & (1u << 3)) != 0;
    const PermissionMaps* maps = permission_maps();
    if (!maps) {
        *error = "out of memory for the SVM I/O and MSR permission maps";
        return false;
    }
    vmcb_pa_ = frame_alloc(1);
    if (vmcb_pa_ == kNoPhysFrame) {
        *error = "out of memory for the VMCB";
        return false;
    }
    vmcb_ = phys_to_virt<Vmcb>(vmcb_pa_);
    VmcbControlArea& c = vmcb_->control;
    c.intercept_exceptions = kAlwaysInterceptedExceptions;
    c.intercept_misc1 = intercept1::kIntr | intercept1::kNmi | intercept1::kSmi | intercept1::kInit |
                        intercept1::kCpuid | intercept1::kHlt | intercept1::kIoioProt | intercept1::kMsrProt |
                        intercept1::kShutdown | intercept1::kInvlpga | intercept1::kTaskSwitch |
                        // INVD would discard dirty lines of the host's (it runs as WBINVD).
                        intercept1::kInvd |
                        // RDPMC would read the host's performance counters.
                        intercept1::kRdpmc;
    c.intercept_misc2 = intercept2::kVmrun | intercept2::kVmmcall | intercept2::kVmload | intercept2::kVmsave |
                        intercept2::kStgi | intercept2::kClgi | intercept2::kSkinit |
                        // XCR0 is not switched between guests and host: XSETBV must exit.
                        intercept2::kXsetbv |
                        // A flush of the whole cache hurts every domain on the CPU; MONITOR and
                        // MWAIT are hidden (#UD), and MWAIT would park the CPU itself.
                        intercept2::kWbinvd | intercept2::kMonitor | intercept2::kMwait | intercept2::kMwaitArmed |
                        // RDTSCP is hidden (CPUID) and would read the host's TSC_AUX.
                        intercept2::kRdtscp;
    // Domain-0's own bitmap lets the ports no device model claims reach the hardware.
    // Every write to CR0 and CR4 exits, so that one the architecture refuses gets #GP
    // before VMRUN could refuse the state (or QEMU's TCG hang on it); the guest reads
    // both from the VMCB without an exit (kernel/vm/control_register_writes.cpp).
    c.intercept_cr_write = (1u << 0) | (1u << 4) | (1u << 8);
    // CR8 is the virtual local APIC's TPR[7:4] (SDM vol. 3A 11.8.6.5): reads and writes
    // exit to it, as on VT-x, so the APIC's priority arbitration sees every change and a
    // guest that masks interrupts with CR8 is masked (V_TPR stays unused: the interrupt
    // requested through V_IRQ has been arbitrated already, hence V_IGN_TPR).
    c.intercept_cr_read = 1u << 8;
    c.iopm_base_pa = vcpu.domain->io_bitmap ? vcpu.domain->io_bitmap : maps->io;
    c.msrpm_base_pa = maps->msr;
    c.guest_asid = kGuestAsid;
    c.tlb_control = kTlbControlFlushAll;
    // Physical interrupts stay under the host's RFLAGS.IF while the guest runs, and the
    // guest's IF only masks virtual interrupts (APM 15.21.1).
    c.int_ctl = kIntCtlVIntrMasking;
    c.np_control = kNpEnable;
    c.nested_cr3 = vcpu.domain->memory.nested_root();
    reset(vcpu, boot);
    return true;
}

void SvmVcpu::reset(Vcpu& vcpu, const VcpuArchState& boot) {
    // Guest interrupts are virtual ones, none requested; V_TPR comes with the state.
    vmcb_->control.event_inject = 0;
    vmcb_->control.int_ctl = kIntCtlVIntrMasking;
    arch_state_to_vmcb(boot, kBootStateParts, *vmcb_, vcpu.regs, vcpu.debug);
    store_guest_efer(boot.control.efer);
    vcpu.cr8 = boot.control.cr8 & 0xf;  // CR8 exits (intercept_cr_read/write): V_TPR stays 0
    vmcb_->control.int_ctl &= ~0xfull;
    vmcb_->control.tlb_control = kTlbControlFlushAll;  // new CR3 and paging mode
    debug_state_changed(vcpu);
    vcpu.events = {};
    set_nmi_blocked(false);
    fpu_reset_state(vcpu);
}

void SvmVcpu::set_nmi_blocked(bool blocked) {
    nmi_blocked_ = blocked;
    iret_pending_ = false;
    single_step_ = false;
    if (blocked)
        vmcb_->control.intercept_misc1 |= intercept1::kIret;
    else
        vmcb_->control.intercept_misc1 &= ~intercept1::kIret;
}

SvmVcpu::~SvmVcpu() {
    if (vmcb_pa_) frame_free(vmcb_pa_);
}

u64 SvmVcpu::scaled_host_tsc() const { return scale_tsc(x86::rdtsc(), tsc_multiplier_); }

void SvmVcpu::follow_tsc_base(const Vcpu& vcpu) {
    const Domain::TscBase& base = vcpu.domain->tsc_base;
    if (base.generation == tsc_generation_) return;
    tsc_generation_ = base.generation;
    tsc_multiplier_ = base.multiplier;
    vmcb_->control.tsc_offset = base.guest_tsc - scale_tsc(base.host_tsc, tsc_multiplier_);
    // Unscaled, the guest's RDTSC runs in hardware (host TSC + TSC_OFFSET, APM vol. 2
    // 15.30.5); scaled, it exits (intercept word 3 bit 14, APM vol. 2 table B-1) and
    // reads guest_msr(Tsc).
    if (tsc_multiplier_ == kTscMultiplierOne)
        vmcb_->control.intercept_misc1 &= ~intercept1::kRdtsc;
    else
        vmcb_->control.intercept_misc1 |= intercept1::kRdtsc;
}

VIREO_HOT_PATH bool SvmVcpu::run(Vcpu& vcpu, VmExit& exit, const FastExitBounds& bounds) {
    VmcbStateSaveArea& s = vmcb_->save;
    VmcbControlArea& c = vmcb_->control;
    for (;;) {
        follow_tsc_base(vcpu);
        // An NMI to deliver, an interrupt shadow or a step of Vireo's own: rare, and
        // looked at in one test at every other entry (the fast path's loop, issue 17).
        const bool hold_interrupt =
            (vcpu.events.nmi_pending || single_step_ || (c.interrupt_shadow & 1)) && prepare_special_entry(vcpu);
        s.rax = vcpu.regs[Gpr::Rax];
        s.rsp = vcpu.regs[Gpr::Rsp];
        s.rip = vcpu.regs.rip;
        s.rflags = vcpu.regs.rflags;
        // Nothing to inject and no V_IRQ: what events_to_vmcb would leave, without the call.
        if (vcpu.events.quiet() && !(c.int_ctl & kIntCtlVIrq))
            c.event_inject = 0;
        else
            events_to_vmcb(vcpu.events, *vmcb_, redelivery_);

        // Another vCPU (with other nested tables under the same ASID) may have run here.
        PerCpu& cpu = this_cpu();
        if (cpu.last_vcpu_uid != vcpu.uid) {
            c.tlb_control = kTlbControlFlushAll;
            cpu.last_vcpu_uid = vcpu.uid;
        }
        svm_world_switch(vmcb_pa_, cpu.svm_host_vmsave_area, vcpu.regs.gpr);  // sets RFLAGS.IF under GIF=0
        x86::cli();
        c.tlb_control = 0;

        vcpu.regs[Gpr::Rax] = s.rax;
        vcpu.regs[Gpr::Rsp] = s.rsp;
        vcpu.regs.rip = s.rip;
        vcpu.regs.rflags = s.rflags;
        if (redelivery_.active || (c.exit_int_info & event::kValid) || (c.int_ctl & kIntCtlVIrq))
            events_from_vmcb(*vmcb_, vcpu.events, redelivery_);
        else
            vcpu.events.interrupt_requested = false;  // none was, or the guest took it
        if (hold_interrupt) vcpu.events.interrupt_requested = true;
        if (iret_pending_ && vcpu.regs.rip != iret_rip_) {
            iret_pending_ = false;
            nmi_blocked_ = false;
        }
        translate_exit(vcpu, exit);
        if (nmi_exit(vcpu)) exit.kind = ExitKind::InterruptWindow;
        const FastExit fast = handle_exit_fast(*this, vcpu, exit, bounds);
        if (fast != FastExit::Reenter) return fast == FastExit::Handled;
    }
}

bool SvmVcpu::prepare_special_entry(Vcpu& vcpu) {
    prepare_nmi(vcpu);  // may set TF: before RFLAGS goes into the VMCB
    // QEMU's TCG ignores the VMCB's interrupt shadow at VMRUN and takes a requested
    // V_IRQ at once: after an exit between STI and HLT, the interrupt would come before
    // the HLT, which then waits for good (a lost wake-up). So while the shadow lasts the
    // interrupt stays requested here but not in V_IRQ, and the shadow's instruction is
    // single-stepped; the next entry requests it (on hardware it waits the same way).
    const bool shadow = vmcb_->control.interrupt_shadow & 1;
    if (shadow && vcpu.events.interrupt_requested) request_single_step(vcpu, false);
    settle_single_step(vcpu);
    // While Vireo's step lasts, no virtual interrupt either: one delivered before the
    // stepped instruction would save Vireo's TF in its frame (as an injection would).
    const bool hold_interrupt = vcpu.events.interrupt_requested && (shadow || stepping_here(vcpu));
    if (hold_interrupt) vcpu.events.interrupt_requested = false;
    return hold_interrupt;
}

void SvmVcpu::prepare_nmi(Vcpu& vcpu) {
    VcpuEvents& events = vcpu.events;
    if (!events.nmi_pending) return;
    const bool shadow = vmcb_->control.interrupt_shadow & 1;
    if (!events.has_injection() && !nmi_blocked_ && !shadow) {
        events.injected = {vcpu_state::EventKind::Nmi, 2, false, 0, 0};
        events.nmi_pending = false;
        nmi_blocked_ = true;
        vmcb_->control.intercept_misc1 |= intercept1::kIret;
        return;
    }
    // Blocked by a running handler whose IRET has not exited yet: that exit comes first.
    if (nmi_blocked_ && !iret_pending_) return;
    request_single_step(vcpu, false);
}

bool SvmVcpu::stepping_here(const Vcpu& vcpu) const {
    constexpr u64 kRflagsTf = 1ull << 8;
    return single_step_ && singlestep_clears_tf_ && (vcpu.regs.rflags & kRflagsTf);
}

void SvmVcpu::settle_single_step(Vcpu& vcpu) {
    // An event injected at this entry is delivered before any instruction runs: its
    // frame would save Vireo's TF, and the handler's IRET would bring it back as a #DB
    // the guest never asked for. The delivery is no instruction, so the step would not
    // end either: drop it. The window it waited for is looked at again at the next exit.
    if (stepping_here(vcpu) && vcpu.events.has_injection()) {
        single_step_ = false;
        vcpu.regs.rflags &= ~(1ull << 8);
    }
}

VIREO_HOT_PATH void SvmVcpu::instruction_skipped(Vcpu& vcpu) {
    vmcb_->control.interrupt_shadow &= ~1ull;
    // The instruction Vireo single-stepped (request_single_step) exited instead and was
    // completed by the handler: the step is over, and TF was Vireo's, not the guest's
    // (no #DB for it, kernel/vm/instruction_completion.cpp). Only while TF is in RFLAGS:
    // when the stepped instruction raised an exception (or was a software interrupt),
    // the handler that runs now has TF clear and its frame holds Vireo's TF; the step
    // ends with the #DB that comes once the frame is returned to (nmi_exit).
    if (stepping_here(vcpu)) {
        single_step_ = false;
        vcpu.regs.rflags &= ~(1ull << 8);
    }
}

void SvmVcpu::request_single_step(Vcpu& vcpu, bool over_iret) {
    constexpr u64 kRflagsTf = 1ull << 8;
    if (single_step_ || (vcpu.regs.rflags & kRflagsTf)) return;  // a #DB comes anyway
    vcpu.regs.rflags |= kRflagsTf;
    single_step_ = true;
    // An IRET replaces RFLAGS with the one it pops; any other instruction leaves TF set.
    singlestep_clears_tf_ = !over_iret;
}

bool SvmVcpu::nmi_exit(Vcpu& vcpu) {
    constexpr u64 kRflagsTf = 1ull << 8, kDr6Bs = 1ull << 14, kDr6Breakpoints = 0xf;
    const u64 code = vmcb_->control.exit_code;
    if (code == u64(ExitCode::Iret)) {
        // The IRET has not run yet: it completes once the guest is entered again.
        vmcb_->control.intercept_misc1 &= ~intercept1::kIret;
        iret_pending_ = true;
        iret_rip_ = vcpu.regs.rip;
        if (vcpu.events.nmi_pending) request_single_step(vcpu, true);
        return true;
    }
    if (single_step_ && code == u64(ExitCode::ExceptionBase) + 1) {
        single_step_ = false;
        // After an IRET, RFLAGS is the one it popped; otherwise TF is still Vireo's.
        if (singlestep_clears_tf_) vcpu.regs.rflags &= ~kRflagsTf;
        VmcbStateSaveArea& s = vmcb_->save;
        s.dr6 &= ~kDr6Bs;
        return (s.dr6 & kDr6Breakpoints) == 0;  // a breakpoint hit too: the guest's #DB
    }
    return false;
}

// The length of the intercepted instruction WHICH. With NRIP save, instruction
// intercepts leave the next RIP in the VMCB (APM vol. 2 15.7.1). QEMU's TCG has none
// (shared/research/svm-under-qemu-tcg.md): then the vCPU's cache of the instructions it
// exited on knows it when it decoded the same bytes at the same place before, under the
// same translation (kernel/vm/exit_instruction_cache.hpp). 0: the handler decodes.
__attribute__((always_inline)) inline u8 SvmVcpu::instruction_length(Vcpu& vcpu, InterceptedInstruction which,
                                                                     GuestCpuMode mode) {
    const VmcbControlArea& c = vmcb_->control;
    const VmcbStateSaveArea& s = vmcb_->save;
    if (g_nrip_save) return c.next_rip > s.rip && c.next_rip - s.rip <= 15 ? u8(c.next_rip - s.rip) : 0;
    const u64 linear = s.cs.base + s.rip;
    const GuestFetchContext at{
        mode == GuestCpuMode::Long64 ? linear : linear & 0xffffffffull, s.cr0, s.cr3, s.cr4, guest_efer(), mode};
    return vcpu.exit_instructions.lookup(at, which);
}

__attribute__((always_inline)) inline void SvmVcpu::translate_exit(Vcpu& vcpu, VmExit& exit) {
    const VmcbControlArea& c = vmcb_->control;
    // Every path below sets the kind and the union member it uses: no clearing of the
    // whole exit at each one.
    exit.raw_reason = c.exit_code;
    exit.instruction_length = 0;
    const u64 code = c.exit_code;
    // The instruction intercepts that NRIP save covers (APM vol. 2 15.7.1).
    InterceptedInstruction which;
    switch (static_cast<ExitCode>(code)) {
        case ExitCode::Cpuid: which = InterceptedInstruction::Cpuid; break;
        case ExitCode::Hlt: which = InterceptedInstruction::Hlt; break;
        case ExitCode::Vmmcall: which = InterceptedInstruction::Vmmcall; break;
        case ExitCode::Msr: which = c.exit_info1 ? InterceptedInstruction::Wrmsr : InterceptedInstruction::Rdmsr; break;
        case ExitCode::Invd:
        case ExitCode::Wbinvd: which = InterceptedInstruction::InvdOrWbinvd; break;
        case ExitCode::Xsetbv: which = InterceptedInstruction::Xsetbv; break;
        default: which = InterceptedInstruction::Count; break;
    }
    // The CPU mode, for the cache's key and a hypercall's width.
    const GuestCpuMode mode = which != InterceptedInstruction::Count ? cpu_mode() : GuestCpuMode::Real;
    if (which != InterceptedInstruction::Count) exit.instruction_length = instruction_length(vcpu, which, mode);
    if ((code & 0xffffffffull) == u64(ExitCode::Invalid)) {
        exit.kind = ExitKind::InvalidGuestState;
        return;
    }
    if (code >= u64(ExitCode::ExceptionBase) && code < u64(ExitCode::ExceptionBase) + 32) {
        exit.kind = ExitKind::Exception;
        exit.exception_vector = u8(code - u64(ExitCode::ExceptionBase));
        return;
    }
    switch (static_cast<ExitCode>(code)) {
        case ExitCode::Cpuid: exit.kind = ExitKind::Cpuid; return;
        case ExitCode::Msr: exit.kind = c.exit_info1 ? ExitKind::MsrWrite : ExitKind::MsrRead; return;
        case ExitCode::Hlt: exit.kind = ExitKind::Hlt; return;
        case ExitCode::Vmmcall:
            exit.kind = ExitKind::Hypercall;
            exit.hypercall = {vmcb_->save.cpl, mode == GuestCpuMode::Long64};
            return;
        case ExitCode::Shutdown: exit.kind = ExitKind::TripleFault; return;
        case ExitCode::Intr:
        case ExitCode::Nmi:
        case ExitCode::Smi:
        case ExitCode::Init: exit.kind = ExitKind::PhysicalInterrupt; return;
        case ExitCode::Vintr: exit.kind = ExitKind::InterruptWindow; return;
        case ExitCode::Ioio: {
            // EXITINFO1 (APM 15.10.2): type, string, rep, operand size, port; EXITINFO2 is
            // the next RIP. Its address-size bits are not set by QEMU (pitfall 7).
            const u64 info = c.exit_info1;
            exit.kind = ExitKind::Io;
            exit.io.in = info & 1;
            exit.io.string = info & (1 << 2);
            exit.io.rep = info & (1 << 3);
            exit.io.size = (info & (1 << 6)) ? 4 : (info & (1 << 5)) ? 2 : 1;
            exit.io.port = u16(info >> 16);
            exit.io.next_rip = c.exit_info2;
            return;
        }
        case ExitCode::NestedPageFault: {
            // EXITINFO1 holds a #PF-style error code plus bits 32/33 (APM 15.25.6).
            const u64 error = c.exit_info1;
            exit.kind = ExitKind::NestedPageFault;
            exit.npf.gpa = c.exit_info2;
            exit.npf.present = error & 1;
            exit.npf.write = error & 2;
            exit.npf.fetch = error & 16;
            exit.npf.read = !exit.npf.write && !exit.npf.fetch;
            exit.npf.during_walk = error & (1ull << 33);
            return;
        }
        case ExitCode::Vmrun:
        case ExitCode::Vmload:
        case ExitCode::Vmsave:
        case ExitCode::Stgi:
        case ExitCode::Clgi:
        case ExitCode::Skinit:
        case ExitCode::Invlpga: exit.kind = ExitKind::VirtualizationInstruction; return;
        case ExitCode::Xsetbv: exit.kind = ExitKind::Xsetbv; return;
        case ExitCode::ReadCr8:
        case ExitCode::WriteCr8:
            exit.kind = ExitKind::Cr8Access;
            exit.cr8 = {};
            exit.cr8.write = code == u64(ExitCode::WriteCr8);
            return;
        case ExitCode::WriteCr0:
        case ExitCode::WriteCr4:
            // MOV to CRn, and for CR0 also CLTS and LMSW (APM vol. 2 15.9). Decode assists
            // would name the register (15.33); QEMU's TCG has none, so the handler decodes.
            exit.kind = ExitKind::ControlRegisterWrite;
            exit.cr_write = {};
            exit.cr_write.cr = u8(code - u64(ExitCode::WriteCr0));
            return;
        case ExitCode::Invd:
        case ExitCode::Wbinvd: exit.kind = ExitKind::CacheFlush; return;
        case ExitCode::Monitor:
        case ExitCode::Mwait:
        case ExitCode::MwaitArmed: exit.kind = ExitKind::MonitorMwait; return;
        case ExitCode::Rdpmc: exit.kind = ExitKind::Rdpmc; return;
        case ExitCode::Rdtsc: exit.kind = ExitKind::Rdtsc; return;
        case ExitCode::Rdtscp: exit.kind = ExitKind::Rdtscp; return;
        case ExitCode::TaskSwitch: {
            // EXITINFO1[15:0] the new TSS's selector; EXITINFO2 bit 36 an IRET, bit 38 a
            // JMP; otherwise a CALL, or a task gate when an event was being delivered
            // (APM vol. 2 15.14.3, EXITINTINFO 15.7.2).
            exit.kind = ExitKind::TaskSwitch;
            exit.task_switch.selector = u16(c.exit_info1);
            exit.task_switch.source = (c.exit_info2 >> 36) & 1            ? TaskSwitchSource::Iret
                                      : (c.exit_info2 >> 38) & 1          ? TaskSwitchSource::Jmp
                                      : (c.exit_int_info & event::kValid) ? TaskSwitchSource::Gate
                                                                          : TaskSwitchSource::Call;
            return;
        }
        default: exit.kind = ExitKind::Unhandled; return;
    }
}

GuestCpuMode SvmVcpu::cpu_mode() const {
    const VmcbStateSaveArea& s = vmcb_->save;
    if (!(s.cr0 & kCr0Pe)) return GuestCpuMode::Real;
    if ((s.efer & kEferLma) && (s.cs.attrib & (1 << 9))) return GuestCpuMode::Long64;
    return (s.cs.attrib & (1 << 10)) ? GuestCpuMode::Protected32 : GuestCpuMode::Protected16;
}

GuestControlState SvmVcpu::control_state() const {
    const VmcbStateSaveArea& s = vmcb_->save;
    GuestControlState g{};
    g.cr0 = s.cr0;
    g.cr2 = s.cr2;
    g.cr3 = s.cr3;
    g.cr4 = s.cr4;
    g.efer = guest_efer();
    g.segment_base[u8(SegmentRegister::Es)] = s.es.base;
    g.segment_base[u8(SegmentRegister::Cs)] = s.cs.base;
    g.segment_base[u8(SegmentRegister::Ss)] = s.ss.base;
    g.segment_base[u8(SegmentRegister::Ds)] = s.ds.base;
    g.segment_base[u8(SegmentRegister::Fs)] = s.fs.base;
    g.segment_base[u8(SegmentRegister::Gs)] = s.gs.base;
    g.cpl = s.cpl;
    g.stack_32bit = (s.ss.attrib & (1 << 10)) != 0;  // VMCB attribute bit 10 is D/B (APM vol. 2 15.5.1)
    g.cs_long = (s.cs.attrib & (1 << 9)) != 0;       // and bit 9 is L
    g.mode = cpu_mode();
    return g;
}

void SvmVcpu::store_guest_efer(u64 efer) {
    using namespace cr_bits;
    VmcbStateSaveArea& s = vmcb_->save;
    lme_deferred_ = (efer & kEferLme) && !(s.cr4 & kCr4Pae) && !(s.cr0 & kCr0Pg);
    if (lme_deferred_) efer &= ~kEferLme;
    s.efer = efer | msr_bits::kEferSvme;  // the guest's EFER never shows SVME, VMRUN needs it
}

u64 SvmVcpu::guest_efer() const {
    return (vmcb_->save.efer & ~msr_bits::kEferSvme) | (lme_deferred_ ? cr_bits::kEferLme : 0);
}

void SvmVcpu::set_control_registers(u64 cr0, u64 cr4, u64 efer, const u64*, bool flush_tlb) {
    VmcbStateSaveArea& s = vmcb_->save;
    s.cr0 = cr0;
    s.cr4 = cr4;
    store_guest_efer(efer);
    if (flush_tlb) vmcb_->control.tlb_control = kTlbControlFlushAll;
}

// The next VMRUN flushes (APM vol. 2, 15.16.2: TLB_CONTROL), as for a switch of vCPUs.
void SvmVcpu::flush_guest_tlb() { vmcb_->control.tlb_control = kTlbControlFlushAll; }

bool SvmVcpu::read_guest_msr(Msr msr, u64& value) const {
    switch (msr) {
        case Msr::Efer: value = guest_efer(); return true;
        case Msr::Pat: value = vmcb_->save.g_pat; return true;
        case Msr::Tsc: value = scaled_host_tsc() + vmcb_->control.tsc_offset; return true;  // APM vol. 2 15.30.5
        default: return false;
    }
}

bool SvmVcpu::write_guest_msr(Msr msr, u64 value) {
    switch (msr) {
        case Msr::Pat: vmcb_->save.g_pat = value; return true;
        // The guest's TSC becomes `value`: only its offset changes (APM vol. 2 15.30.5).
        case Msr::Tsc: vmcb_->control.tsc_offset = value - scaled_host_tsc(); return true;
        default: return false;
    }
}

void SvmVcpu::get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) {
    follow_tsc_base(vcpu);
    vmcb_to_arch_state(*vmcb_, vcpu.regs, vcpu.debug, parts, out, scaled_host_tsc());
    if (parts & vcpu_state::kControl) {
        out.control.efer = guest_efer();
        out.control.cr8 = vcpu.cr8;  // CR8 exits, as on VT-x (V_TPR is unused)
    }
    if (parts & vcpu_state::kEvents) {
        out.events.injected = vcpu.events.injected;
        out.events.nmi_blocked = nmi_blocked_;
        out.events.nmi_pending = vcpu.events.nmi_pending;
    }
}

void SvmVcpu::set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) {
    follow_tsc_base(vcpu);
    arch_state_to_vmcb(in, parts, *vmcb_, vcpu.regs, vcpu.debug, scaled_host_tsc());
    if (parts & vcpu_state::kControl) {
        store_guest_efer(in.control.efer);
        vcpu.cr8 = in.control.cr8 & 0xf;
        vmcb_->control.int_ctl &= ~0xfull;
    }
    if (parts & vcpu_state::kDebug) debug_state_changed(vcpu);
    if (parts & vcpu_state::kEvents) {
        vcpu.events.injected = in.events.injected;
        vcpu.events.nmi_pending = in.events.nmi_pending;
        set_nmi_blocked(in.events.nmi_blocked);
    }
    vmcb_->control.tlb_control = kTlbControlFlushAll;  // new CR3, paging mode: nothing cached holds
}

}  // namespace svm

VcpuBackend* create_svm_vcpu_backend(Vcpu& vcpu, const VcpuArchState& boot, const char** error) {
    auto* backend = new (kNoThrow) svm::SvmVcpu;
    if (!backend) {
        *error = "out of memory for the vCPU";
        return nullptr;
    }
    if (!backend->init(vcpu, boot, error)) {
        delete backend;
        return nullptr;
    }
    return backend;
}
