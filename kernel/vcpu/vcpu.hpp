// A virtual CPU: vendor-neutral register state and scheduling state, plus the backend
// object (svm/ or vmx/) that owns the hardware control structure.
#pragma once

#include "kernel/domain/run_gate.hpp"
#include "kernel/sched/credit_policy.hpp"
#include "kernel/types.hpp"
#include "kernel/vcpu/boot_state.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"
#include "kernel/vcpu/vcpu_events.hpp"
#include "kernel/vm/exit_instruction_cache.hpp"
#include "kernel/vm/guest_registers.hpp"
#include "kernel/vm/vm_exit.hpp"
#include "kernel/x86/msr.hpp"

struct Domain;
struct FastExitBounds;
struct Vcpu;
struct VcpuIoreq;

// The operations generic code needs from a hardware backend. One object per vCPU.
// IA32_MISC_ENABLE at reset as a guest sees it (SDM vol. 4, table 2-2): fast strings on,
// branch trace and PEBS unavailable, XD not disabled.
inline constexpr u64 kGuestMiscEnableReset = (1ull << 0) | (1ull << 11) | (1ull << 12);

class VcpuBackend {
public:
    virtual ~VcpuBackend() = default;
    // Runs the guest from vcpu.regs until the next exit, which it translates into
    // `exit`; vcpu.regs holds the guest state at the exit afterwards. Exits the fast path
    // handles whole (kernel/vm/exit_fast_path.hpp) it handles and enters the guest again
    // within `bounds`: true when the last exit was handled so, false when it is for
    // handle_vm_exit. Returns with interrupts off.
    virtual bool run(Vcpu& vcpu, VmExit& exit, const FastExitBounds& bounds) = 0;
    virtual GuestControlState control_state() const = 0;
    // Puts the vCPU into a boot protocol's start state (kernel/vcpu/boot_state.hpp, the
    // parts kBootStateParts names), its events cleared and its FPU reset. From any CPU
    // while the vCPU is not running: what only its own CPU may write waits for its next
    // entry there.
    virtual void reset(Vcpu& vcpu, const VcpuArchState& boot) = 0;
    virtual void set_cr2(u64 value) = 0;  // with a #PF raised in vcpu.events
    // CR0, CR4 and EFER take the values an emulated write decided (as the guest sees
    // them; kernel/vm/control_register_writes.cpp): the backend adds what its hardware
    // fixes, takes `pdptes` (four, or null) when it caches PAE's PDPTEs, and drops the
    // vCPU's cached translations when `flush_tlb`. During the vCPU's exit, on its CPU.
    virtual void set_control_registers(u64 cr0, u64 cr4, u64 efer, const u64* pdptes, bool flush_tlb) = 0;
    // Drops the vCPU's cached translations, global ones included, before its next entry:
    // what the guest would get by flushing its TLB itself (KVM's PV TLB flush asks for it
    // on a preempted vCPU's behalf). On the vCPU's CPU, while it is not running.
    virtual void flush_guest_tlb() = 0;
    // VT-x with EPT takes PAE's PDPTEs from the VMCS at VM entry (SDM vol. 3C 26.3.2.4),
    // so whoever changes the paging mode for the guest must load them.
    virtual bool caches_pae_pdptes() const = 0;
    // MSRs whose guest values the hardware structure holds (EFER, PAT): false for others.
    // EFER is written through set_control_registers, after its rules (control_register_writes.hpp).
    virtual bool read_guest_msr(Msr msr, u64& value) const = 0;
    virtual bool write_guest_msr(Msr msr, u64 value) = 0;
    // Which hypercall instruction this backend's guests use (VMMCALL or VMCALL).
    virtual bool is_svm() const = 0;
    // The hypervisor has completed an instruction for the guest (moved RIP past it):
    // blocking by STI or MOV SS, which covered only that instruction, ends.
    // A single step the backend set up for itself (RFLAGS.TF) ends with it, invisibly.
    virtual void instruction_skipped(Vcpu& vcpu) = 0;
    // The vendor-neutral state (kernel/vcpu/vcpu_arch_state.hpp), the parts `parts`
    // names (vcpu_state::Part). On the vCPU's own CPU, while it is not running; the FPU
    // part is the caller's (kernel/vm/fpu_state.hpp).
    virtual void get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) = 0;
    virtual void set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) = 0;
    // How this backend runs the guest's TSC at another rate than the CPU's (VMX's TSC
    // scaling, or RDTSC exiting), for the log; null when it cannot. Then the vCPU takes
    // Domain::tsc_base's multiplier (kernel/vm/tsc_rate.hpp) with its TSC, at its next
    // entry or state access.
    virtual const char* tsc_scaling() const = 0;
    // Whether the control structure holds the guest's DR6 (the VMCB does; the VMCS does
    // not, so kernel/vm/debug_registers.cpp switches it with DR0-DR3 on VT-x).
    virtual bool dr6_in_control_structure() const = 0;
    // Sets `bits` in the guest's DR6 (a debug exception the hypervisor raises for it).
    virtual void add_guest_dr6_bits(Vcpu& vcpu, u64 bits) = 0;
    // This CPU forgets the vCPU: an active VMCS is cleared (so it may be loaded on
    // another CPU, or freed). On the vCPU's CPU, while it is not running.
    virtual void unload_from_this_cpu() = 0;
    // Host memory it holds (the object and its control block), charged to the domain's
    // quota (mm/memory_quota.hpp).
    virtual usize footprint_bytes() const = 0;
};

enum class VcpuState : u8 { Runnable, Blocked, Stopped };

struct Vcpu {
    Domain* domain = nullptr;
    u32 index = 0;  // within the domain
    u32 cpu = 0;    // the physical CPU that runs it
    // Unique over the hypervisor's life: per-CPU caches remember this, never the address,
    // which a later vCPU may have.
    u64 uid = 0;
    // In use by its CPU from just before the guest is entered until the exit has been
    // handled (kernel/domain/run_gate.hpp); domain_quiesce waits for it.
    RunGate gate;
    GuestRegisters regs = {};
    // What it has to take at its next entries (kernel/vcpu/vcpu_events.hpp); its CPU's
    // (or, while it is stopped, its controller's), like regs.
    VcpuEvents events;
    // DR0-DR3 (and on VT-x DR6) while not in a CPU's registers (kernel/vm/debug_registers.hpp).
    GuestDebugRegisters debug = {{0, 0, 0, 0}, 0xffff0ff0};
    u32 debug_version = 0;  // changes whenever `debug` is replaced rather than saved
    volatile VcpuState state = VcpuState::Runnable;
    bool started = false;  // vCPU 0 from boot; the others through the vcpu_start hypercall
    VcpuBackend* backend = nullptr;
    u64 exits[static_cast<u8>(ExitKind::Count)] = {};
    u64 migrations = 0;  // moves from one physical CPU to another
    // Its credit, priority, CPU time and affinities as the credit scheduler keeps them
    // (kernel/sched/credit_policy.hpp): sched.hard_affinity is the set of physical CPUs
    // it may run on (bit n: CPU n; xm vcpu-pin, a domain's cpus=), which the scheduler
    // moves it to before it runs (scheduler_set_affinity).
    CreditVcpu sched;
    u64 run_tsc = 0;  // TSC ticks spent on a physical CPU: in the guest and handling its exits
    // When it lost its CPU to another vCPU while it could still run (TSC; 0: it did not):
    // the time until it runs again is its steal time (Platform::vcpu_resumed). Its CPU's
    // scheduler sets and takes it; unpause and start clear it while it cannot run.
    u64 preempted_tsc = 0;
    // Platform::vcpu_resumed is due before its next entry: it was marked preempted, or it
    // came to its CPU from another vCPU. Whatever the guest's record says then (a flush
    // asked of a preempted vCPU) is done before the guest runs again.
    bool resume_due = true;
    // What the latest MSR-write and nested-page-fault exits touched (debug key 'e' shows
    // them: an exit storm names its register or page).
    u32 last_msr_written = 0;
    u64 last_npf_gpa = 0;
    u64 last_npf_rip = 0;
    u8 exit_instruction_length = 0;  // of the exit being handled (VmExit::instruction_length)
    // Where it exited lately, for a backend that does not tell instruction lengths.
    ExitInstructionCache exit_instructions;
    // What the exit fast path (kernel/vm/exit_fast_path.hpp) did with the exits it handled:
    // entered the guest again at once, or left the vCPU to the scheduler, and why (debug
    // key 'e'; tools/bench-linux prints it). Exits it did not handle are not counted here.
    struct FastPathTally {
        u64 reentered = 0;
        u64 for_event = 0;     // an event to inject, or an NMI pending
        u64 for_platform = 0;  // its platform had work around the entry (direct_reentry_allowed)
        u64 for_pass = 0;      // this CPU's scheduler asked for a pass
        u64 for_deadline = 0;  // a timer or the time slice was due
    } fast_path;
    // IA32_MISC_ENABLE as the guest last wrote it (kernel/vm/msr_policy.cpp).
    u64 misc_enable = kGuestMiscEnableReset;
    // CR8 (the task priority) of a vCPU without a virtual local APIC, where VMX makes
    // MOV CR8 exit (with one, CR8 is its TPR[7:4]).
    u64 cr8 = 0;
    // The guest's x87/SSE/AVX state while another vCPU has this CPU's registers: one
    // page in XSAVE (or FXSAVE) format, and the guest's XCR0 (kernel/vm/fpu_state.hpp).
    PhysAddr fpu_area_page = 0;
    u64 xcr0 = 1;
    // Its accesses forwarded to a device model in Domain-0 (kernel/ioreq/ioreq_server.hpp):
    // made with its domain's device-model server, null until then. Kept out of the vCPU
    // itself, which every domain has eight of.
    VcpuIoreq* ioreq = nullptr;
};

// Forgets every guest-physical translation this CPU may have cached, for all domains
// (SVM: the next VMRUN flushes the TLB; VMX: INVEPT all contexts). On this CPU, with no
// guest running here (kernel/domain/domain_control.cpp's shootdown runs it on each CPU).
void nested_tlb_flush_this_cpu();
// Hardware TLB tags still free for new vCPUs (VPIDs on VT-x; 0 on AMD-V, which uses one
// ASID and flushes on every vCPU switch).
u32 vcpu_free_hardware_tags();
// Vcpu::state changes only through these two, in these ways (reads may look at any time):
//  - a wake-up from anywhere: vcpu_change_state(Blocked -> Runnable), which fails when the
//    vCPU was not blocked (a start, a stop or another wake-up came first);
//  - everything else, by whoever has the vCPU to itself: its own CPU while handling its
//    exit (HLT blocks it, an INIT or a restart stops it), or the starter of a vCPU that
//    is stopped or whose domain cannot run (start-up IPI, vcpu_start, set_state, a new
//    domain): vcpu_set_state, a release store after the vCPU's registers are in place.
// HLT decides to block under the platform's lock that wake-ups take, so none falls
// between the check and the block.
inline void vcpu_set_state(Vcpu& vcpu, VcpuState state) {
    __atomic_store_n(reinterpret_cast<volatile u8*>(&vcpu.state), u8(state), __ATOMIC_RELEASE);
}
inline bool vcpu_change_state(Vcpu& vcpu, VcpuState from, VcpuState to) {
    u8 expected = u8(from);
    return __atomic_compare_exchange_n(reinterpret_cast<volatile u8*>(&vcpu.state), &expected, u8(to), false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

// Creates the backend for this machine's virtualization extension, the vCPU in `entry`'s
// start state.
VcpuBackend* create_vcpu_backend(Vcpu& vcpu, const GuestEntryState& entry, const char** error);
// Puts the vCPU into `entry`'s start state (VcpuBackend::reset with boot_arch_state).
void vcpu_reset(Vcpu& vcpu, const GuestEntryState& entry);
