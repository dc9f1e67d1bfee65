#include "vmx/vmx_vcpu.hpp"

#include <string.h>

#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/id_allocator.hpp"
#include "kernel/gdt.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/idt.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/percpu.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"
#include "kernel/vcpu/event_encoding.hpp"
#include "kernel/vm/control_register_rules.hpp"
#include "kernel/vm/control_register_writes.hpp"
#include "kernel/vm/debug_registers.hpp"
#include "kernel/vm/exit_fast_path.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"
#include "vmx/vmcs.hpp"
#include "vmx/vmx_capabilities.hpp"

extern "C" int vmx_world_switch(u64* guest_gprs, u32 launched);
extern "C" char vmx_exit_entry[];

namespace vmx {

namespace {

using cr_bits::kCr0Ne;
using cr_bits::kCr0Pe;
using cr_bits::kCr0Pg;
using cr_bits::kCr4Vmxe;
constexpr u64 kEferLma = 1ull << 10;
constexpr u64 kRflagsIf = 1ull << 9;
// Entry/exit interruption information (SDM vol. 3C, 25.8.3 and 25.9.2).
constexpr u32 kEventValid = 1u << 31;
constexpr u32 kEventExternal = 0u << 8, kEventNmi = 2u << 8;
constexpr u32 kBlockingBySti = 1u << 0, kBlockingByMovSs = 1u << 1, kBlockingByNmi = 1u << 3;

// VPIDs tag guest TLB entries (SDM vol. 3C 29.1); 0 is the host's. One per vCPU, given
// back when it dies: a reused VPID's stale entries are flushed by the INVEPT each vCPU
// does on the first entry on a CPU (make_current).
}  // namespace

SpinLock g_vpid_lock;
IdAllocator g_vpids(1, 0xffff);

namespace {

// VMCLEAR/VMPTRLD report failure in CF/ZF (SDM vol. 3C, 31.2).
bool vmclear(PhysAddr pa) {
    u8 failed;
    asm volatile("vmclear %1; setbe %0" : "=qm"(failed) : "m"(pa) : "cc", "memory");
    return !failed;
}
bool vmptrld(PhysAddr pa) {
    u8 failed;
    asm volatile("vmptrld %1; setbe %0" : "=qm"(failed) : "m"(pa) : "cc", "memory");
    return !failed;
}
void invept_all() {
    struct {
        u64 eptp, reserved;
    } descriptor{0, 0};
    asm volatile("invept %0, %1" ::"m"(descriptor), "r"(2ull) : "cc", "memory");  // type 2: all contexts
}

}  // namespace

bool VmxVcpu::init(Vcpu& vcpu, const VcpuArchState& boot, const char** error) {
    const Capabilities* caps = capabilities();
    if (!caps->usable) {
        *error = caps->problem;
        return false;
    }
    vmcs_pa_ = frame_alloc(1);
    if (vmcs_pa_ == kNoPhysFrame) {
        *error = "out of memory for the VMCS";
        return false;
    }
    *phys_to_virt<u32>(vmcs_pa_) = caps->revision;  // SDM 25.2: revision identifier first
    vmclear(vmcs_pa_);                              // launch state "clear" (SDM 25.1)
    {
        IrqLockGuard guard(g_vpid_lock);
        const u32 vpid = g_vpids.allocate();
        if (vpid == IdAllocator::kNone) {
            *error = "no free VPID";
            return false;
        }
        vpid_ = u16(vpid);
    }
    // The VMCS is written on the CPU that will run the vCPU (a VMCS is loaded, filled
    // and launched on one CPU); until then only the generic state is set.
    reset(vcpu, boot);
    return true;
}

VmxVcpu::~VmxVcpu() {
    // unload_from_this_cpu ran on the CPU that last had it: no CPU holds it active.
    if (vmcs_pa_) frame_free(vmcs_pa_);
    if (vpid_) {
        IrqLockGuard guard(g_vpid_lock);
        g_vpids.release(vpid_);
    }
}

void VmxVcpu::add_guest_dr6_bits(Vcpu& vcpu, u64 bits) {
    vcpu.debug.dr6 |= bits;
    debug_state_changed(vcpu);
}

void VmxVcpu::unload_from_this_cpu() {
    PerCpu& cpu = this_cpu();
    if (cpu.vmx_current_owner == this) {
        vmclear(vmcs_pa_);  // written back to memory, launch state clear (SDM 25.1)
        cpu.vmx_current_owner = nullptr;
        cpu.vmx_current_vmcs = 0;
    }
    launched_ = false;
    cpu_ = ~0u;  // the next CPU sets up its host state and flushes again
}

VIREO_HOT_PATH void VmxVcpu::prepare_vmcs(Vcpu& vcpu) {
    make_current();
    if (needs_entry_state_) {
        needs_entry_state_ = false;  // first: load_boot_state's set_state comes back here
        control_cached_ = false;
        setup_controls(vcpu);
        load_boot_state(vcpu);
    }
    follow_tsc_base(vcpu);
}

void VmxVcpu::reset(Vcpu& vcpu, const VcpuArchState& boot) {
    control_cached_ = false;
    boot_ = boot;
    needs_entry_state_ = true;
    // The registers that live in vcpu.regs are set now; the VMCS waits for the vCPU's CPU.
    for (u8 i = 0; i < 16; ++i) vcpu.regs.gpr[i] = boot.gpr[i];
    vcpu.regs.rip = boot.rip;
    vcpu.regs.rflags = boot.rflags;
    vcpu.events = {};
    fpu_reset_state(vcpu);
    debug_reset_state(vcpu);  // DR7 is the VMCS's (load_boot_state)
}

// The boot state's VMCS part, on the vCPU's CPU, plus what a VM entry wants of a fresh
// guest: no pending debug exceptions, no blocking, active (SDM vol. 3C 25.4.2).
void VmxVcpu::load_boot_state(Vcpu& vcpu) {
    using namespace vcpu_state;
    set_state(vcpu, kBootStateParts & ~(kGprs | kRipFlags), boot_);
    write(Field64::GuestDebugctl, u64(0));  // power-on value (SDM vol. 3A 10.1.1)
    write(FieldNatural::GuestPendingDebugExceptions, u64(0));
    write(Field32::GuestInterruptibility, u32(0));
    write(Field32::GuestActivityState, u32(0));
}

u64 VmxVcpu::guest_tsc() const {
    return scale_tsc(x86::rdtsc(), tsc_multiplier_) + (capabilities()->tsc_offsetting ? tsc_offset_ : 0);
}

const char* VmxVcpu::tsc_scaling() const {
    return capabilities()->tsc_scaling ? "by the CPU (VMX TSC scaling)" : nullptr;
}

void VmxVcpu::write_secondary_controls() {
    const Capabilities* caps = capabilities();
    write(Field32::SecondaryControls, caps->proc2 | (tsc_multiplier_ != kTscMultiplierOne ? proc2::kUseTscScaling : 0));
    if (caps->tsc_scaling) write(Field64::TscMultiplier, tsc_multiplier_);
}

VIREO_HOT_PATH void VmxVcpu::follow_tsc_base(const Vcpu& vcpu) {
    const Domain::TscBase& base = vcpu.domain->tsc_base;
    const Capabilities* caps = capabilities();
    if (base.generation == tsc_generation_ || !caps->tsc_offsetting) return;
    tsc_generation_ = base.generation;
    if (caps->tsc_scaling) tsc_multiplier_ = base.multiplier;
    tsc_offset_ = base.guest_tsc - scale_tsc(base.host_tsc, tsc_multiplier_);
    write(Field64::TscOffset, tsc_offset_);
    write_secondary_controls();
}

void VmxVcpu::make_current() {
    PerCpu& cpu = this_cpu();
    if (cpu.vmx_current_vmcs == vmcs_pa_) return;
    // One active VMCS per CPU: the outgoing one is cleared (its state written back to
    // memory, its launch state reset: SDM 25.1), so its next entry is a VMLAUNCH. Keeping
    // several active is allowed, but Bochs stops delivering external-interrupt exits to
    // the second one, and a vCPU switch is rare next to an exit.
    if (cpu.vmx_current_owner) {
        vmclear(cpu.vmx_current_vmcs);
        static_cast<VmxVcpu*>(cpu.vmx_current_owner)->launched_ = false;
    }
    vmptrld(vmcs_pa_);
    cpu.vmx_current_vmcs = vmcs_pa_;
    cpu.vmx_current_owner = this;
    if (cpu_ != cpu.index) {
        // First run, on the CPU this vCPU is pinned to.
        cpu_ = cpu.index;
        setup_host_state();
        invept_all();  // nested tables may reuse frames of a dead domain's tables
    }
}

void VmxVcpu::setup_host_state() {
    // What a VM exit loads (SDM vol. 3C, 28.5): this CPU's own descriptor tables and
    // per-CPU GS base, the hypervisor's page tables, and the exit entry point.
    PerCpu& cpu = this_cpu();
    write(FieldNatural::HostCr0, x86::read_cr0());
    write(FieldNatural::HostCr3, x86::read_cr3());
    write(FieldNatural::HostCr4, x86::read_cr4());
    write(Field16::HostCsSelector, kKernelCodeSelector);
    write(Field16::HostSsSelector, kKernelDataSelector);
    write(Field16::HostDsSelector, kKernelDataSelector);
    write(Field16::HostEsSelector, kKernelDataSelector);
    write(Field16::HostFsSelector, u16(0));
    write(Field16::HostGsSelector, u16(0));
    write(Field16::HostTrSelector, kTssSelector);
    write(FieldNatural::HostFsBase, x86::rdmsr(Msr::FsBase));
    write(FieldNatural::HostGsBase, x86::rdmsr(Msr::GsBase));
    write(FieldNatural::HostTrBase, reinterpret_cast<u64>(&cpu.tss));
    write(FieldNatural::HostGdtrBase, reinterpret_cast<u64>(cpu.gdt));
    write(FieldNatural::HostIdtrBase, idt_base());
    write(Field32::HostSysenterCs, u32(0));
    write(FieldNatural::HostSysenterEsp, u64(0));
    write(FieldNatural::HostSysenterEip, u64(0));
    write(Field64::HostEfer, x86::rdmsr(Msr::Efer));
    write(Field64::HostPat, x86::rdmsr(Msr::Pat));
    write(FieldNatural::HostRip, reinterpret_cast<u64>(vmx_exit_entry));
}

void VmxVcpu::setup_controls(Vcpu& vcpu) {
    const Capabilities* caps = capabilities();
    write(Field32::PinBasedControls, caps->pin);
    write(Field32::ProcessorBasedControls, caps->proc);
    proc_controls_ = caps->proc;
    write_secondary_controls();
    write(Field32::ExitControls, caps->exit);
    write(Field32::EntryControls, caps->entry);
    entry_controls_ = caps->entry;
    // #AC always exits (and goes back into the guest, kernel/vm/exit_handlers.cpp): a
    // guest whose #AC delivery raises #AC again holds the CPU in a microcode loop
    // (CVE-2015-5307), as Xen and KVM know.
    write(Field32::ExceptionBitmap, u32(1u << 17));
    write(Field32::Cr3TargetCount, u32(0));
    write(Field32::ExitMsrStoreCount, u32(0));
    write(Field32::ExitMsrLoadCount, u32(0));
    write(Field32::EntryMsrLoadCount, u32(0));
    write(Field32::EntryInterruptionInfo, u32(0));
    // Domain-0's own bitmaps let the ports no device model claims reach the hardware.
    const PhysAddr io = vcpu.domain->io_bitmap;
    write(Field64::IoBitmapA, io ? u64(io) : caps->io_bitmap_a);
    write(Field64::IoBitmapB, io ? u64(io + kPageSize) : caps->io_bitmap_b);
    write(Field64::MsrBitmap, caps->msr_bitmap);
    write(Field16::Vpid, vpid_);
    // EPTP: 4-level walk (bits 5:3 = 3), write-back paging structures (bits 2:0 = 6).
    write(Field64::EptPointer, u64(vcpu.domain->memory.nested_root() | (3ull << 3) | 6ull));
    write(Field64::VmcsLinkPointer, u64(~0ull));
    // The hypervisor owns every bit of CR4 and all of CR0 but TS and MP: a write that
    // changes one exits, to be judged by the architecture's rules and carried out
    // (kernel/vm/control_register_writes.cpp), and the guest reads what it wrote from the
    // read shadows, never the bits VMX operation fixes (CR0.NE, CR4.VMXE).
    write(FieldNatural::Cr0GuestHostMask, ~kGuestOwnedCr0Bits);
    write(FieldNatural::Cr4GuestHostMask, ~u64(0));
}

// The vCPU's events (kernel/vcpu/vcpu_events.hpp) into the VM-entry interruption
// information: an event to inject first (with its length when it is a software event,
// SDM vol. 3C 26.6.1.1), else a requested external interrupt when the guest can take it
// (IF set, no STI/MOV SS blocking: SDM vol. 3C, 26.3.1.5 and 27.2); otherwise an
// interrupt-window exit asks for the moment it can.
VIREO_HOT_PATH void VmxVcpu::prepare_event_injection(VcpuEvents& events) {
    u32 interruptibility = read(Field32::GuestInterruptibility);
    if (clear_interrupt_shadow_) {
        interruptibility &= ~(kBlockingBySti | kBlockingByMovSs);
        write(Field32::GuestInterruptibility, interruptibility);
        clear_interrupt_shadow_ = false;
    }
    u32 controls = proc_controls_ & ~(proc::kInterruptWindowExiting | proc::kNmiWindowExiting);
    // An NMI comes before external interrupts, unless an NMI handler runs or a shadow
    // covers the instruction (SDM vol. 3C 26.3.1.5: NMI injection then fails the entry);
    // NMI-window exiting asks for the moment it may come.
    const bool nmi_blocked = interruptibility & (kBlockingBySti | kBlockingByMovSs | kBlockingByNmi);
    if (events.nmi_pending && !events.has_injection() && !nmi_blocked) {
        events.injected = {vcpu_state::EventKind::Nmi, 2, false, 0, 0};
        events.nmi_pending = false;
    }
    if (events.nmi_pending && capabilities()->nmi_window) controls |= proc::kNmiWindowExiting;
    if (events.has_injection()) {
        const vcpu_state::Event& e = events.injected;
        write(Field32::EntryInterruptionInfo, event_encoding::encode(e, true));
        write(Field32::EntryExceptionErrorCode, e.has_error_code ? e.error_code : 0);
        if (e.instruction_length) write(Field32::EntryInstructionLength, u32(e.instruction_length));
        events.injected = {};
        if (events.interrupt_requested) controls |= proc::kInterruptWindowExiting;
    } else if (events.interrupt_requested) {
        const u64 rflags = read(FieldNatural::GuestRflags);
        if ((rflags & kRflagsIf) && !(interruptibility & (kBlockingBySti | kBlockingByMovSs))) {
            write(Field32::EntryInterruptionInfo, kEventValid | kEventExternal | events.interrupt_vector);
            events.interrupt_requested = false;
        } else {
            controls |= proc::kInterruptWindowExiting;
        }
    }
    if (controls != proc_controls_) {
        write(Field32::ProcessorBasedControls, controls);
        proc_controls_ = controls;
    }
}

void VmxVcpu::load_syscall_msrs() {
    x86::wrmsr(Msr::Star, star_);
    x86::wrmsr(Msr::Lstar, lstar_);
    x86::wrmsr(Msr::Cstar, cstar_);
    x86::wrmsr(Msr::Sfmask, sfmask_);
    x86::wrmsr(Msr::KernelGsBase, kernel_gs_base_);
}

VIREO_HOT_PATH bool VmxVcpu::run(Vcpu& vcpu, VmExit& exit, const FastExitBounds& bounds) {
    for (;;) {
        control_cached_ = false;
        prepare_vmcs(vcpu);
        PerCpu& cpu = this_cpu();
        if (cpu.last_vcpu_uid != vcpu.uid) {
            load_syscall_msrs();
            cpu.last_vcpu_uid = vcpu.uid;
        }
        write(FieldNatural::GuestRsp, vcpu.regs[Gpr::Rsp]);
        write(FieldNatural::GuestRip, vcpu.regs.rip);
        write(FieldNatural::GuestRflags, vcpu.regs.rflags);
        // The entry control must match the guest's EFER.LMA (SDM 26.3.1.1), which the guest
        // changes itself by enabling paging with EFER.LME set.
        u32 entry = entry_controls_ & ~entry_ctl::kIa32eModeGuest;
        if (read(Field64::GuestEfer) & kEferLma) entry |= entry_ctl::kIa32eModeGuest;
        if (entry != entry_controls_) {
            write(Field32::EntryControls, entry);
            entry_controls_ = entry;
        }
        prepare_event_injection(vcpu.events);
        const Capabilities* caps = capabilities();
        if (caps->preemption_timer) {
            constexpr u64 kPreemptMicroseconds = 2000;  // as the scheduler tick
            const u64 ticks = (tsc_hz() / 1000000 * kPreemptMicroseconds) >> caps->preemption_timer_shift;
            write(Field32::PreemptionTimerValue, u32(ticks > 0xffffffffull ? 0xffffffffull : (ticks ? ticks : 1)));
        }

        x86::write_cr2(guest_cr2_);  // VMX does not switch CR2
        const int failed = vmx_world_switch(vcpu.regs.gpr, launched_ ? 1 : 0);
        guest_cr2_ = x86::read_cr2();
        // SWAPGS changes IA32_KERNEL_GS_BASE without an exit: the live value is the guest's,
        // and it must be the one restored when this vCPU comes back after another ran here.
        kernel_gs_base_ = x86::rdmsr(Msr::KernelGsBase);
        // VM exit leaves RFLAGS.IF clear; a host interrupt that caused the exit is still
        // pending in the local APIC. Interrupts stay enabled while the exit is read, so it
        // is taken now (STI's shadow covers the instruction after it, so a window of one
        // instruction would take nothing, and a tick left pending would make every entry
        // exit at once); they are masked again before the exit is handled.
        x86::sti();
        if (failed) {
            const u32 error = read(Field32::InstructionError);
            exit = VmExit{};
            exit.kind = ExitKind::InvalidGuestState;
            exit.raw_reason = 0x80000000u | error;
            log_error("vmx: VM%s failed: VM-instruction error %u (%s)", launched_ ? "RESUME" : "LAUNCH", error,
                      instruction_error_name(error));
            x86::cli();
            return false;
        }
        launched_ = true;
        vcpu.regs[Gpr::Rsp] = read(FieldNatural::GuestRsp);
        vcpu.regs.rip = read(FieldNatural::GuestRip);
        vcpu.regs.rflags = read(FieldNatural::GuestRflags);
        // An event whose delivery the exit interrupted must be delivered again (SDM 28.2.4).
        // Software events keep the instruction's length, which their re-injection needs.
        const u32 vectoring = read(Field32::IdtVectoringInfo);
        if (vectoring & kEventValid)
            vcpu.events.injected = event_encoding::decode(vectoring, read(Field32::IdtVectoringErrorCode),
                                                          u8(read(Field32::ExitInstructionLength)));
        translate_exit(exit);
        x86::cli();  // exits are handled with interrupts off, on both backends
        const FastExit fast = handle_exit_fast(*this, vcpu, exit, bounds);
        if (fast != FastExit::Reenter) return fast == FastExit::Handled;
    }
}

VIREO_HOT_PATH void VmxVcpu::translate_exit(VmExit& exit) {
    exit = VmExit{};
    const u32 reason = read(Field32::ExitReason);
    exit.raw_reason = reason;
    switch (static_cast<ExitReason>(reason & 0xffff)) {
        // Exits caused by an instruction report its length (SDM vol. 3C 28.2.5).
        case ExitReason::Cpuid:
        case ExitReason::Hlt:
        case ExitReason::Vmcall:
        case ExitReason::Rdmsr:
        case ExitReason::Wrmsr:
        case ExitReason::Xsetbv:
        case ExitReason::Invd:
        case ExitReason::Wbinvd:
        case ExitReason::CrAccess: exit.instruction_length = u8(read(Field32::ExitInstructionLength)); break;
        default: break;
    }
    if (reason & (1u << 31)) {
        // A VM-entry failure after the checks on the host state passed (SDM 26.8).
        log_error("vmx: VM entry failed: %s, qualification %#llx", exit_reason_name(reason & 0xffff),
                  (unsigned long long)read(FieldNatural::ExitQualification));
        exit.kind = ExitKind::InvalidGuestState;
        return;
    }
    switch (static_cast<ExitReason>(reason & 0xffff)) {
        case ExitReason::ExceptionOrNmi: {
            const u32 info = read(Field32::ExitInterruptionInfo);
            if ((info & (7u << 8)) == kEventNmi) {
                asm volatile("int $2");  // a host NMI (e.g. a panicking CPU stopping us)
                exit.kind = ExitKind::PhysicalInterrupt;
                return;
            }
            exit.kind = ExitKind::Exception;
            exit.exception_vector = u8(info);
            return;
        }
        case ExitReason::ExternalInterrupt:
        case ExitReason::PreemptionTimer:
        case ExitReason::Init:
        case ExitReason::Sipi: exit.kind = ExitKind::PhysicalInterrupt; return;
        case ExitReason::InterruptWindow:
        case ExitReason::NmiWindow: exit.kind = ExitKind::InterruptWindow; return;
        case ExitReason::TripleFault: exit.kind = ExitKind::TripleFault; return;
        case ExitReason::Cpuid: exit.kind = ExitKind::Cpuid; return;
        case ExitReason::Hlt: exit.kind = ExitKind::Hlt; return;
        case ExitReason::Vmcall: {
            exit.kind = ExitKind::Hypercall;
            // SS.DPL is the CPL (SDM vol. 3C 25.4.1); 64-bit mode is IA-32e mode with
            // CS.L set (SDM vol. 3A 2.2).
            const bool cs_long = (read(Field32::GuestCsAccessRights) & (1u << 13)) != 0;
            exit.hypercall = {u8((read(Field32::GuestSsAccessRights) >> 5) & 3),
                              cs_long && (read(Field64::GuestEfer) & kEferLma) != 0};
            return;
        }
        case ExitReason::Rdmsr: exit.kind = ExitKind::MsrRead; return;
        case ExitReason::Wrmsr: exit.kind = ExitKind::MsrWrite; return;
        case ExitReason::Xsetbv: exit.kind = ExitKind::Xsetbv; return;
        case ExitReason::Invd:
        case ExitReason::Wbinvd: exit.kind = ExitKind::CacheFlush; return;
        case ExitReason::Monitor:
        case ExitReason::Mwait: exit.kind = ExitKind::MonitorMwait; return;
        case ExitReason::Rdpmc: exit.kind = ExitKind::Rdpmc; return;
        case ExitReason::TaskSwitch: {
            // Exit qualification for task switches (SDM vol. 3C, table 28-2): the new TSS's
            // selector (15:0) and the source (31:30: CALL, IRET, JMP, a task gate in the IDT).
            const u64 q = read(FieldNatural::ExitQualification);
            constexpr TaskSwitchSource kSources[4] = {TaskSwitchSource::Call, TaskSwitchSource::Iret,
                                                      TaskSwitchSource::Jmp, TaskSwitchSource::Gate};
            exit.kind = ExitKind::TaskSwitch;
            exit.task_switch.selector = u16(q);
            exit.task_switch.source = kSources[(q >> 30) & 3];
            return;
        }
        case ExitReason::CrAccess: {
            // Exit qualification for control-register accesses (SDM vol. 3C, table 28-3):
            // the register (3:0), the access (5:4: MOV to, MOV from, CLTS, LMSW), the
            // general register (11:8), LMSW's source (31:16).
            const u64 q = read(FieldNatural::ExitQualification);
            const u8 cr = u8(q & 0xf), access = u8((q >> 4) & 3), gpr = u8((q >> 8) & 0xf);
            if (cr == 8 && access <= 1) {
                exit.kind = ExitKind::Cr8Access;
                exit.cr8.write = access == 0;
                exit.cr8.decoded = true;
                exit.cr8.gpr = gpr;
                return;
            }
            if (access == 1 || (access == 0 && cr != 0 && cr != 4)) {
                log_warn("vmx: unexpected control-register exit, qualification %#llx", (unsigned long long)q);
                return;  // stays Unhandled
            }
            exit.kind = ExitKind::ControlRegisterWrite;
            exit.cr_write = {};
            exit.cr_write.decoded = true;
            exit.cr_write.cr = access == 0 ? cr : 0;
            exit.cr_write.form = access == 0   ? CrAccessForm::MovToCr
                                 : access == 2 ? CrAccessForm::Clts
                                               : CrAccessForm::Lmsw;
            exit.cr_write.gpr = gpr;
            exit.cr_write.lmsw_source = u16(q >> 16);
            return;
        }
        case ExitReason::IoInstruction: {
            // Exit qualification for I/O (SDM vol. 3C, table 28-5).
            const u64 q = read(FieldNatural::ExitQualification);
            exit.kind = ExitKind::Io;
            exit.io.size = u8((q & 7) + 1);
            exit.io.in = q & (1 << 3);
            exit.io.string = q & (1 << 4);
            exit.io.rep = q & (1 << 5);
            exit.io.port = u16(q >> 16);
            exit.io.next_rip = read(FieldNatural::GuestRip) + read(Field32::ExitInstructionLength);
            return;
        }
        case ExitReason::EptViolation: {
            // Exit qualification for EPT violations (SDM vol. 3C, table 28-7).
            const u64 q = read(FieldNatural::ExitQualification);
            exit.kind = ExitKind::NestedPageFault;
            exit.npf.gpa = read(Field64::GuestPhysicalAddress);
            exit.npf.read = q & 1;
            exit.npf.write = q & 2;
            exit.npf.fetch = q & 4;
            exit.npf.present = q & 0x38;
            exit.npf.during_walk = (q & 0x80) && !(q & 0x100);
            return;
        }
        case ExitReason::InvalidGuestState:
        case ExitReason::MsrLoadFailure: exit.kind = ExitKind::InvalidGuestState; return;
        case ExitReason::Vmclear:
        case ExitReason::Vmlaunch:
        case ExitReason::Vmptrld:
        case ExitReason::Vmptrst:
        case ExitReason::Vmread:
        case ExitReason::Vmresume:
        case ExitReason::Vmwrite:
        case ExitReason::Vmxoff:
        case ExitReason::Vmxon:
        case ExitReason::Invept:
        case ExitReason::Invvpid: exit.kind = ExitKind::VirtualizationInstruction; return;
        default:
            log_warn("vmx: unhandled exit %s (%u), qualification %#llx", exit_reason_name(reason & 0xffff),
                     reason & 0xffff, (unsigned long long)read(FieldNatural::ExitQualification));
            exit.kind = ExitKind::Unhandled;
            return;
    }
}

GuestControlState VmxVcpu::control_state() const {
    // Work run while this vCPU's exit is handled (cpu_work.hpp) may have made another
    // VMCS current here.
    if (control_cached_) return control_cache_;
    const_cast<VmxVcpu*>(this)->make_current();
    GuestControlState g{};
    // As the guest believes them: the read shadows for the bits the hypervisor owns.
    g.cr0 =
        (read(FieldNatural::GuestCr0) & kGuestOwnedCr0Bits) | (read(FieldNatural::Cr0ReadShadow) & ~kGuestOwnedCr0Bits);
    g.cr2 = guest_cr2_;
    g.cr3 = read(FieldNatural::GuestCr3);
    g.cr4 = read(FieldNatural::Cr4ReadShadow);
    g.efer = read(Field64::GuestEfer);
    g.segment_base[u8(SegmentRegister::Es)] = read(FieldNatural::GuestEsBase);
    g.segment_base[u8(SegmentRegister::Cs)] = read(FieldNatural::GuestCsBase);
    g.segment_base[u8(SegmentRegister::Ss)] = read(FieldNatural::GuestSsBase);
    g.segment_base[u8(SegmentRegister::Ds)] = read(FieldNatural::GuestDsBase);
    g.segment_base[u8(SegmentRegister::Fs)] = read(FieldNatural::GuestFsBase);
    g.segment_base[u8(SegmentRegister::Gs)] = read(FieldNatural::GuestGsBase);
    const u32 ss_rights = read(Field32::GuestSsAccessRights);
    g.cpl = u8((ss_rights >> 5) & 3);               // SS.DPL is the CPL (SDM 25.4.1)
    g.stack_32bit = (ss_rights & (1u << 14)) != 0;  // D/B (SDM 24.4.1, table 24-2)
    const u32 cs_rights = read(Field32::GuestCsAccessRights);
    g.cs_long = (cs_rights & (1u << 13)) != 0;  // L (SDM 24.4.1, table 24-2)
    if (!(g.cr0 & kCr0Pe))
        g.mode = GuestCpuMode::Real;
    else if ((g.efer & kEferLma) && (cs_rights & (1u << 13)))
        g.mode = GuestCpuMode::Long64;
    else if (cs_rights & (1u << 14))
        g.mode = GuestCpuMode::Protected32;
    else
        g.mode = GuestCpuMode::Protected16;
    control_cache_ = g;
    control_cached_ = true;
    return g;
}

void VmxVcpu::write_control_registers(u64 cr0, u64 cr4, u64 efer) {
    // PE and PG may be clear with unrestricted guest; the other fixed bits hold.
    const Capabilities* caps = capabilities();
    write(FieldNatural::GuestCr0, cr0 | (caps->cr0_fixed0 & ~(kCr0Pe | kCr0Pg)) | kCr0Ne);
    write(FieldNatural::Cr0ReadShadow, cr0);
    write(FieldNatural::GuestCr4, cr4 | caps->cr4_fixed0 | kCr4Vmxe);
    write(FieldNatural::Cr4ReadShadow, cr4);
    write(Field64::GuestEfer, efer);
    control_cached_ = false;
}

void VmxVcpu::write_pdptes(const u64* pdptes) {
    for (u32 i = 0; i < 4; ++i) write(static_cast<Field64>(u32(Field64::GuestPdpte0) + 2 * i), pdptes ? pdptes[i] : 0);
}

void VmxVcpu::set_control_registers(u64 cr0, u64 cr4, u64 efer, const u64* pdptes, bool flush_tlb) {
    make_current();
    write_control_registers(cr0, cr4, efer);
    if (pdptes) write_pdptes(pdptes);
    // With EPT every cached translation is a combined mapping, which INVEPT drops for
    // every VPID (SDM vol. 3C 29.4.3.1); VM entry with a VPID keeps them otherwise.
    if (flush_tlb) invept_all();
}

// INVEPT drops the combined mappings of every VPID, the guest's global ones included
// (SDM vol. 3C 29.4.3.1), as set_control_registers does.
void VmxVcpu::flush_guest_tlb() { invept_all(); }

bool VmxVcpu::read_guest_msr(Msr msr, u64& value) const {
    const_cast<VmxVcpu*>(this)->make_current();
    switch (msr) {
        case Msr::Efer: value = read(Field64::GuestEfer); return true;
        case Msr::Pat: value = read(Field64::GuestPat); return true;
        case Msr::Tsc: value = guest_tsc(); return true;
        case Msr::SysenterCs: value = read(Field32::GuestSysenterCs); return true;
        case Msr::SysenterEsp: value = read(FieldNatural::GuestSysenterEsp); return true;
        case Msr::SysenterEip: value = read(FieldNatural::GuestSysenterEip); return true;
        case Msr::Star: value = star_; return true;
        case Msr::Lstar: value = lstar_; return true;
        case Msr::Cstar: value = cstar_; return true;
        case Msr::Sfmask: value = sfmask_; return true;
        case Msr::KernelGsBase: value = kernel_gs_base_; return true;
        default: return false;
    }
}

bool VmxVcpu::write_guest_msr(Msr msr, u64 value) {
    make_current();
    switch (msr) {
        case Msr::Pat: write(Field64::GuestPat, value); return true;
        case Msr::SysenterCs: write(Field32::GuestSysenterCs, u32(value)); return true;
        case Msr::SysenterEsp: write(FieldNatural::GuestSysenterEsp, value); return true;
        case Msr::SysenterEip: write(FieldNatural::GuestSysenterEip, value); return true;
        case Msr::Tsc:
            // The guest's TSC becomes `value`: only its offset changes (SDM vol. 3C 25.6.5).
            // Without TSC offsetting the host's counter cannot be the guest's to set.
            if (!capabilities()->tsc_offsetting) return false;
            tsc_offset_ = value - scale_tsc(x86::rdtsc(), tsc_multiplier_);
            write(Field64::TscOffset, tsc_offset_);
            return true;
        case Msr::Star: star_ = value; break;
        case Msr::Lstar: lstar_ = value; break;
        case Msr::Cstar: cstar_ = value; break;
        case Msr::Sfmask: sfmask_ = value; break;
        case Msr::KernelGsBase: kernel_gs_base_ = value; break;
        default: return false;
    }
    x86::wrmsr(msr, value);  // this vCPU's values are the CPU's while it runs here
    return true;
}

}  // namespace vmx

void vmx_flush_nested_tlb_here() { vmx::invept_all(); }

u32 vmx_free_vpids() {
    IrqLockGuard guard(vmx::g_vpid_lock);
    return vmx::g_vpids.free_count();
}

VcpuBackend* create_vmx_vcpu_backend(Vcpu& vcpu, const VcpuArchState& boot, const char** error) {
    auto* backend = new (kNoThrow) vmx::VmxVcpu;
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
