// What a domain's machine looks like around its vCPUs: the devices, where interrupts come
// from, what HLT waits for and what CR8 means. Generic code (exit handlers, scheduler,
// hypercalls) asks the domain's platform and never which platform it is, so the virtual
// PC of a Linux domain, the small test machine of the Multiboot test kernels and (next)
// dom0's machine with passthrough devices plug in alike. A domain owns its platform.
//
// Device time is not polled: a platform arms its timers (kernel/sched/cpu_timers.hpp)
// whenever a device's next deadline changes, and their callbacks advance the devices,
// raise interrupts and wake or kick the vCPUs concerned (scheduler_notify_vcpu). Those
// callbacks run on whichever CPU the timer was armed on, so they touch only state under
// the platform's own locks, never a vCPU's hardware state (its VMCB/VMCS belongs to the
// CPU that runs it): interrupts are requested in before_entry, on the vCPU's CPU.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/hypercall_abi.hpp"

struct Domain;
struct Vcpu;

class Platform {
public:
    virtual ~Platform() = default;

    // Before a vCPU enters the guest, on its CPU: device time brought up to date and the
    // interrupt it should take next requested. False when it must not run now (an INIT
    // stopped it: it waits for a start-up IPI).
    virtual bool before_entry(Vcpu& vcpu) = 0;
    // After its exit, before the exit is handled.
    virtual void after_exit(Vcpu& vcpu) = 0;
    // After an exit the fast path handled (kernel/vm/exit_fast_path.hpp), the vCPU may be
    // entered again without after_exit and before_entry: neither has anything to do for
    // it (an interrupt it was asked to take and has not taken stays asked for) unless
    // something happens elsewhere, which kicks its CPU (a device's timer, an interrupt
    // raised, a wake-up), and so ends the fast path's loop.
    virtual bool direct_reentry_allowed(const Vcpu& vcpu) const = 0;
    // HLT, the instruction already skipped: the vCPU blocks unless it has an interrupt to
    // take, decided so that no wake-up can fall between the check and the block.
    virtual void halt(Vcpu& vcpu) = 0;
    // CR8, the task priority (SDM vol. 3A 10.8.6.5).
    virtual u64 read_cr8(Vcpu& vcpu) = 0;
    virtual void write_cr8(Vcpu& vcpu, u64 value) = 0;
    // MSRs the platform owns (the local APIC's): true when it handled `index`, with `ok`
    // false for a #GP.
    virtual bool read_msr(Vcpu& vcpu, u32 index, u64& value, bool& ok) = 0;
    virtual bool write_msr(Vcpu& vcpu, u32 index, u64 value, bool& ok) = 0;
    // The platform reset of a domain restart (every vCPU stopped).
    virtual void reset() = 0;
    // Its vCPUs start and take timers through local APICs: then the vcpu_start and
    // set_timer hypercalls, which would bypass them, are refused.
    virtual bool has_local_apics() const = 0;
    // The vCPU's local APIC is enabled in IA32_APIC_BASE (CPUID.1:EDX.APIC follows it,
    // SDM vol. 3A 11.4.3). False without local APICs.
    virtual bool local_apic_enabled(const Vcpu&) const { return false; }
    // A graceful shutdown request the guest sees (the ACPI power button of a PC): false
    // where the machine has no such thing (the guest can only be destroyed).
    virtual bool request_shutdown() = 0;
    // Keys typed on Vireo's console can go to it (a COM1 that receives).
    virtual bool takes_console_input() const = 0;
    // Host memory its devices hold, charged to the domain's quota (mm/memory_quota.hpp).
    virtual usize footprint_bytes() const = 0;
    // A key was queued for the domain (domain_console_input): the platform takes it into
    // its device from a timer callback. Called under the domain's lock, so it only arms.
    virtual void console_input() = 0;
    // The set_timer hypercall: `vcpu`'s one-shot timer raises `vector` in `microseconds`
    // (0 cancels it). False where the platform has no such timer (its local APICs have).
    virtual bool set_vcpu_timer(Vcpu& vcpu, u64 microseconds, u8 vector) = 0;
    // Before the platform is freed (domain_release_resources): every timer of it is
    // cancelled and no callback of it runs anywhere, or will. Waits for a running one, so
    // never under a lock a callback takes.
    virtual void stop_timers() = 0;
    // An MSI a device model sent (the inject_msi call): delivered to the local APICs it
    // names. False where the platform has none, or the address is no interrupt's.
    virtual bool inject_msi(u64 /*address*/, u32 /*data*/) { return false; }
    // KVM's PV send-IPI hypercall (kernel/vm/devices/apic/kvm_pv_ipi.hpp): IPIs to the
    // local APICs a bitmap of APIC IDs names. The count delivered, or a negative error
    // (kErrorNoSuchCall where the platform does not offer KVM's interface).
    virtual i64 kvm_send_ipi(Vcpu&, u64 /*bitmap_low*/, u64 /*bitmap_high*/, u64 /*min*/, u64 /*icr*/, bool /*wide*/) {
        return hypercall::kErrorNoSuchCall;
    }
    // The scheduler's hand-over of a CPU, for KVM's steal time
    // (kernel/vm/devices/pc/steal_time.hpp). Both on the vCPU's CPU while it is not in the
    // guest, inside its RunGate (the domain may run):
    //  - vcpu_preempted: it lost its CPU to another vCPU while it could still run;
    //  - vcpu_resumed: it has its CPU again after another vCPU had it, having waited
    //    `waited_ns` able to run (0 when it was not preempted). True when the guest asked
    //    for its TLB to be flushed before it runs (KVM's PV TLB flush).
    virtual void vcpu_preempted(Vcpu&) {}
    virtual bool vcpu_resumed(Vcpu&, u64 /*waited_ns*/) { return false; }
    // Save and restore (docs/hypercalls.md, "Platform state"), only while the domain
    // cannot run. save_state writes the blob of its devices' state into `out` when it
    // fits in `capacity` and returns its size either way (0: the platform has none, or
    // not one it can restore). restore_state makes a saved blob the devices' state: 0, or
    // a negative hypercall error with nothing changed (kErrorInvalid for a blob with
    // anything wrong, kErrorNotSupported where there is no such state).
    virtual usize save_state(u8* /*out*/, usize /*capacity*/) { return 0; }
    virtual i64 restore_state(const u8* /*in*/, usize /*length*/) { return hypercall::kErrorNotSupported; }
    // Debug key 't': the state of its timers on Vireo's console (nothing where it has none
    // worth showing).
    virtual void print_timers() {}
};

// The two platforms there are (kernel/platform/pc_platform.cpp, test_platform.cpp). Each
// claims its ports and MMIO ranges on the domain's buses; null with `error` on failure.
Platform* create_pc_platform(Domain& domain, const char** error);
Platform* create_test_platform(Domain& domain, const char** error);
