// Exits handled whole without the rest of an exit's work, as KVM handles its hottest
// exits in its own fast path (handle_fastpath_set_msr_irqoff in Linux's
// arch/x86/kvm/x86.c) and enters the guest again at once. Here they are the intercepted
// CPUID of a leaf whose answer the domain's policy keeps ready (CpuidPolicy::
// shared_answer) and the hypercalls whose answer is a constant (the version), whenever
// the backend told the instruction's length (VmExit::instruction_length: VT-x, AMD's
// next-RIP save, or for SVM without it the vCPU's cache of instructions it decoded
// before, kernel/vm/exit_instruction_cache.hpp); and port I/O with the devices Vireo
// models, by handle_vm_exit's own handler (a Linux guest's serial console). Anything
// else (another leaf, CPL 3, RIP wrapping at 4 GiB, a length to decode, string I/O, a
// domain with a device model in Domain-0) is left to handle_vm_exit, unchanged.
//
// Written once, here; each backend's run() calls it right after translating an exit and
// enters the guest again when it says so, without returning to the scheduler: no pass,
// no platform entry and exit hooks, no debug-register or FPU switch. That loop is most
// of issue 17's short exit path; it lives in the backends so that one trip round it is
// one function, with the backend's own completion of the instruction called directly.
#pragma once

#include "kernel/domain/domain.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/cpuid_policy.hpp"
#include "kernel/vm/exit_handlers.hpp"
#include "kernel/vm/hypercalls.hpp"
#include "kernel/x86/instructions.hpp"

// How long a backend may keep entering the guest after fast exits: the scheduler's
// bounds (kernel/sched/scheduler.cpp), as its own loop over exits has them.
struct FastExitBounds {
    const bool* pass_requested = nullptr;  // this CPU's flag (kernel/sched/cpu_work.hpp); null: no fast path
    u64 until = 0;                         // TSC: something is due then
};

enum class FastExit : u8 {
    NotHandled,  // for handle_vm_exit, nothing done
    Handled,     // handled; the scheduler takes over (something else waits)
    Reenter,     // handled; enter the guest again at once
};

namespace fast_exit_detail {

// Moves RIP past the exit's instruction and completes it, as handle_vm_exit does
// (kernel/vm/instruction_completion.hpp, with the backend's own instruction_skipped; the
// guest is not single-stepping here).
// False, with nothing changed, when the length is unknown or RIP would cross a 4 GiB
// boundary: outside 64-bit mode it wraps there, which exit_handlers.cpp's advance_rip
// knows the mode for.
template <typename Backend>
inline bool complete(Backend& backend, Vcpu& vcpu, const VmExit& exit) {
    const u64 next = vcpu.regs.rip + exit.instruction_length;
    if (exit.instruction_length == 0 || ((next ^ vcpu.regs.rip) >> 32) != 0) return false;
    ++vcpu.exits[static_cast<u8>(exit.kind)];
    vcpu.regs.rip = next;
    // RFLAGS.TF is clear (handle_exit_fast): no single-step trap is owed.
    backend.instruction_skipped(vcpu);
    return true;
}

template <typename Backend>
inline bool cpuid(Backend& backend, Vcpu& vcpu, const VmExit& exit) {
    CpuidResult r;
    if (!vcpu.domain->cpuid.shared_answer(u32(vcpu.regs[Gpr::Rax]), r) || !complete(backend, vcpu, exit)) return false;
    // 32-bit results zero-extend, as the CPU writes them (SDM vol. 1 3.4.1.1).
    vcpu.regs[Gpr::Rax] = r.eax;
    vcpu.regs[Gpr::Rbx] = r.ebx;
    vcpu.regs[Gpr::Rcx] = r.ecx;
    vcpu.regs[Gpr::Rdx] = r.edx;
    return true;
}

template <typename Backend>
inline bool hypercall(Backend& backend, Vcpu& vcpu, const VmExit& exit) {
    if (exit.hypercall.cpl != 0) return false;  // refused: handle_hypercall says so
    const bool wide = exit.hypercall.long_mode;
    const u64 rax = vcpu.regs[Gpr::Rax];
    i64 result;
    if (!hypercall_constant_answer(wide ? rax : u32(rax), result) || !complete(backend, vcpu, exit)) return false;
    vcpu.regs[Gpr::Rax] = wide ? u64(result) : u64(result) & 0xffffffffull;
    return true;
}

}  // namespace fast_exit_detail

// After an exit the backend translated, interrupts off: handles it when it is a fast
// one (RIP past the instruction, its results in the registers, counted in vcpu.exits),
// and says whether the guest may be entered again at once: while the vCPU has no event
// to inject nor its platform anything to do around it (Platform::direct_reentry_allowed),
// no pass is requested and nothing is due. Host
// interrupts still make the guest exit, and every one that matters requests a pass (a
// wake-up's kick, a timer).
template <typename Backend>
__attribute__((always_inline)) inline FastExit handle_exit_fast(Backend& backend, Vcpu& vcpu, const VmExit& exit,
                                                                const FastExitBounds& bounds) {
    // A guest single-stepping (RFLAGS.TF) gets its #DB from handle_vm_exit: that one runs
    // after the debug registers are saved (debug_save), so DR6.BS, which VT-x keeps in
    // Vireo's copy (no DR6 in the VMCS), is not lost.
    constexpr u64 kRflagsTf = 1ull << 8;
    if (!bounds.pass_requested || (vcpu.regs.rflags & kRflagsTf)) return FastExit::NotHandled;
    bool handled;
    switch (exit.kind) {
        case ExitKind::Cpuid: handled = fast_exit_detail::cpuid(backend, vcpu, exit); break;
        case ExitKind::Hypercall: handled = fast_exit_detail::hypercall(backend, vcpu, exit); break;
        case ExitKind::Io: handled = handle_port_io_in_place(vcpu, exit); break;
        default: return FastExit::NotHandled;
    }
    if (!handled) return FastExit::NotHandled;
    // An interrupt requested and not taken yet (the guest's IF clear: Linux's printk) stays
    // requested, as before_entry would leave it; the platform says whether it may.
    Vcpu::FastPathTally& tally = vcpu.fast_path;
    u64* reason = vcpu.events.has_injection() || vcpu.events.nmi_pending     ? &tally.for_event
                  : !vcpu.domain->platform->direct_reentry_allowed(vcpu)     ? &tally.for_platform
                  : __atomic_load_n(bounds.pass_requested, __ATOMIC_SEQ_CST) ? &tally.for_pass
                  : x86::rdtsc() >= bounds.until                             ? &tally.for_deadline
                                                                             : &tally.reentered;
    ++*reason;
    return reason == &tally.reentered ? FastExit::Reenter : FastExit::Handled;
}
