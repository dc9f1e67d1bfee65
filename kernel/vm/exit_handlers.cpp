#include "kernel/vm/exit_handlers.hpp"

#include "kernel/log.hpp"
#include "kernel/vm/domain.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/hypercalls.hpp"
#include "kernel/vm/instruction_length.hpp"
#include "kernel/vm/msr_policy.hpp"

namespace {

constexpr u8 kVectorUd = 6;
constexpr u8 kVectorGp = 13;
constexpr u64 kRflagsIf = 1ull << 9;

// Moves RIP past the intercepted instruction, decoding its length from guest memory.
// False when the bytes there are not that instruction; the domain has been ended then.
bool skip_instruction(Vcpu& vcpu, InterceptedInstruction which) {
    u8 bytes[15];
    usize available = 0;
    WalkFault fault;
    if (!fetch_guest_instruction(vcpu, bytes, available, fault)) {
        domain_crash(*vcpu.domain, "vcpu%u: cannot fetch the instruction at rip %#llx (%s)", vcpu.index,
                     (unsigned long long)vcpu.regs.rip, walk_result_name(fault));
        return false;
    }
    const GuestCpuMode mode = vcpu.backend->control_state().mode;
    const u8 length = intercepted_instruction_length(bytes, available, mode, which);
    if (length == 0) {
        domain_crash(*vcpu.domain, "vcpu%u: the instruction at rip %#llx is not the one that exited", vcpu.index,
                     (unsigned long long)vcpu.regs.rip);
        return false;
    }
    vcpu.regs.rip += length;
    if (mode != GuestCpuMode::Long64) vcpu.regs.rip &= 0xffffffffull;
    return true;
}

void set_result32(Vcpu& vcpu, Gpr reg, u32 value) { vcpu.regs[reg] = value; }  // zero-extends, as the CPU does

void handle_cpuid(Vcpu& vcpu) {
    if (!skip_instruction(vcpu, InterceptedInstruction::Cpuid)) return;
    const u32 leaf = u32(vcpu.regs[Gpr::Rax]);
    const u32 subleaf = u32(vcpu.regs[Gpr::Rcx]);
    const CpuidResult r = vcpu.domain->cpuid.query(leaf, subleaf, vcpu.index, vcpu.backend->control_state().cr4);
    set_result32(vcpu, Gpr::Rax, r.eax);
    set_result32(vcpu, Gpr::Rbx, r.ebx);
    set_result32(vcpu, Gpr::Rcx, r.ecx);
    set_result32(vcpu, Gpr::Rdx, r.edx);
}

void handle_msr(Vcpu& vcpu, bool write) {
    const u32 index = u32(vcpu.regs[Gpr::Rcx]);
    MsrResult result;
    u64 value = 0;
    if (write) {
        value = (vcpu.regs[Gpr::Rdx] << 32) | u32(vcpu.regs[Gpr::Rax]);
        result = guest_write_msr(vcpu, index, value);
    } else {
        result = guest_read_msr(vcpu, index, value);
    }
    if (result == MsrResult::GeneralProtection) {
        // A faulting instruction does not complete: RIP stays on it (SDM 6.5).
        vcpu.backend->inject_exception(kVectorGp, true, 0);
        return;
    }
    if (!skip_instruction(vcpu, write ? InterceptedInstruction::Wrmsr : InterceptedInstruction::Rdmsr)) return;
    if (!write) {
        set_result32(vcpu, Gpr::Rax, u32(value));
        set_result32(vcpu, Gpr::Rdx, u32(value >> 32));
    }
}

void handle_io(Vcpu& vcpu, const IoExit& io) {
    Domain& d = *vcpu.domain;
    if (io.string) {
        // INS/OUTS go through the instruction emulator, which is not there yet.
        domain_crash(d, "vcpu%u: string I/O (%s port %#x) at rip %#llx is not supported yet", vcpu.index,
                     io.in ? "INS from" : "OUTS to", io.port, (unsigned long long)vcpu.regs.rip);
        return;
    }
    IoDevice* device = d.io.device_at(io.port);
    const u32 mask = io.size == 4 ? 0xffffffffu : io.size == 2 ? 0xffffu : 0xffu;
    if (io.in) {
        u32 value = mask;  // nothing there: the bus floats high
        if (device) value = device->io_read(vcpu, io.port, io.size) & mask;
        else if (d.io.first_unclaimed_access(io.port))
            log_info("%s: vcpu%u read from unclaimed port %#x: all ones (logged once)", d.name, vcpu.index, io.port);
        // IN to AL/AX leaves the rest of RAX alone; IN to EAX zero-extends (SDM 3.4.1.1).
        u64& rax = vcpu.regs[Gpr::Rax];
        rax = io.size == 4 ? u64(value) : (rax & ~u64(mask)) | value;
    } else if (device) {
        device->io_write(vcpu, io.port, io.size, u32(vcpu.regs[Gpr::Rax]) & mask);
    } else if (d.io.first_unclaimed_access(io.port)) {
        log_info("%s: vcpu%u wrote to unclaimed port %#x: dropped (logged once)", d.name, vcpu.index, io.port);
    }
    vcpu.regs.rip = io.next_rip;
}

void handle_hlt(Vcpu& vcpu) {
    if (!skip_instruction(vcpu, InterceptedInstruction::Hlt)) return;
    if (vcpu.backend->interrupt_requested()) return;  // delivered at the next entry
    if (!(vcpu.regs.rflags & kRflagsIf) && vcpu.timer_deadline_us == 0) {
        log_info("%s: vcpu%u halted with interrupts off at rip %#llx: it stays halted", vcpu.domain->name,
                 vcpu.index, (unsigned long long)vcpu.regs.rip);
    }
    vcpu.state = VcpuState::Blocked;
}

void handle_nested_page_fault(Vcpu& vcpu, const NestedPageFaultExit& npf) {
    // No emulated MMIO yet: every guest-physical address outside the domain's RAM is a
    // rule broken by the guest, which ends it (and only it).
    domain_crash(*vcpu.domain, "vcpu%u: %s guest-physical address %#llx outside its memory (%llu MiB) at rip %#llx%s",
                 vcpu.index, npf.fetch ? "executed from" : npf.write ? "wrote to" : "read from",
                 (unsigned long long)npf.gpa, (unsigned long long)(vcpu.domain->memory.size() / MiB),
                 (unsigned long long)vcpu.regs.rip, npf.during_walk ? " (walking its page tables)" : "");
}

}  // namespace

void handle_vm_exit(Vcpu& vcpu, const VmExit& exit) {
    ++vcpu.exits[static_cast<u8>(exit.kind)];
    Domain& d = *vcpu.domain;
    switch (exit.kind) {
        case ExitKind::Cpuid: handle_cpuid(vcpu); return;
        case ExitKind::MsrRead: handle_msr(vcpu, false); return;
        case ExitKind::MsrWrite: handle_msr(vcpu, true); return;
        case ExitKind::Io: handle_io(vcpu, exit.io); return;
        case ExitKind::Hlt: handle_hlt(vcpu); return;
        case ExitKind::Hypercall: {
            const bool svm = vcpu.backend->is_svm();
            if (skip_instruction(vcpu, svm ? InterceptedInstruction::Vmmcall : InterceptedInstruction::Vmcall))
                handle_hypercall(vcpu);
            return;
        }
        case ExitKind::NestedPageFault: handle_nested_page_fault(vcpu, exit.npf); return;
        case ExitKind::TripleFault:
            domain_crash(d, "vcpu%u: triple fault (shutdown) at rip %#llx", vcpu.index,
                         (unsigned long long)vcpu.regs.rip);
            return;
        case ExitKind::InvalidGuestState:
            domain_crash(d, "vcpu%u: the CPU refused the guest state (exit %#llx)", vcpu.index,
                         (unsigned long long)exit.raw_reason);
            return;
        case ExitKind::PhysicalInterrupt:
        case ExitKind::InterruptWindow: return;  // the host already serviced it
        case ExitKind::VirtualizationInstruction:
            // The extensions are hidden from guests (CPUID), so their instructions are #UD.
            vcpu.backend->inject_exception(kVectorUd, false, 0);
            return;
        case ExitKind::Exception:
            domain_crash(d, "vcpu%u: unexpected intercepted exception %u at rip %#llx", vcpu.index,
                         exit.exception_vector, (unsigned long long)vcpu.regs.rip);
            return;
        case ExitKind::Unhandled:
        case ExitKind::Count: break;
    }
    domain_crash(d, "vcpu%u: unhandled exit %#llx at rip %#llx", vcpu.index, (unsigned long long)exit.raw_reason,
                 (unsigned long long)vcpu.regs.rip);
}
