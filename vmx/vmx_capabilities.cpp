#include "vmx/vmx_capabilities.hpp"

#include <string.h>

#include "kernel/memory_layout.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"
#include "vmx/vmcs.hpp"

namespace vmx {

namespace {

Capabilities g_caps;
bool g_done = false;
SpinLock g_lock;

constexpr u64 kBasicTrueControls = 1ull << 55;
constexpr u64 kEptWalk4 = 1ull << 6, kEptWriteBack = 1ull << 14;
constexpr u64 kCr0Pe = 1ull << 0, kCr0Pg = 1ull << 31;

void clear_msr_intercept(u8* bitmap, u32 msr) {
    // Read bitmap for low MSRs at 0, high (C000_0000h..) at 1024; write bitmaps at 2048
    // and 3072 (SDM vol. 3C, 25.6.9).
    const u32 high = msr >= 0xc0000000 ? 1024 : 0;
    const u32 bit = msr & 0x1fff;
    bitmap[high + bit / 8] &= u8(~(1u << (bit % 8)));
    bitmap[2048 + high + bit / 8] &= u8(~(1u << (bit % 8)));
}

void compute(Capabilities& c) {
    const u64 basic = x86::rdmsr(Msr::VmxBasic);
    c.revision = u32(basic & 0x7fffffff);
    const bool true_ctls = basic & kBasicTrueControls;
    const u64 pin_cap = x86::rdmsr(true_ctls ? Msr::VmxTruePinbasedCtls : Msr::VmxPinbasedCtls);
    const u64 proc_cap = x86::rdmsr(true_ctls ? Msr::VmxTrueProcbasedCtls : Msr::VmxProcbasedCtls);
    const u64 exit_cap = x86::rdmsr(true_ctls ? Msr::VmxTrueExitCtls : Msr::VmxExitCtls);
    const u64 entry_cap = x86::rdmsr(true_ctls ? Msr::VmxTrueEntryCtls : Msr::VmxEntryCtls);

    const u32 want_pin = pin::kExternalInterruptExiting | pin::kNmiExiting;
    // MONITOR and MWAIT are hidden from guests (#UD) and MWAIT would park the CPU itself;
    // RDPMC would read the host's performance counters. (RDTSCP, which would read the
    // host's TSC_AUX, is #UD without the secondary control that enables it.)
    const u32 want_proc = proc::kHltExiting | proc::kUseIoBitmaps | proc::kUseMsrBitmaps | proc::kActivateSecondary |
                          proc::kCr8LoadExiting | proc::kCr8StoreExiting | proc::kMonitorExiting | proc::kMwaitExiting |
                          proc::kRdpmcExiting;
    // The debug controls make DR7 (and IA32_DEBUGCTL) the guest's own across entry and
    // exit; DR0-DR3 and DR6 are kernel/vm/debug_registers.cpp's. The first VMX processors
    // had them fixed at 1 (SDM vol. 3C 28.3.1, appendix A.4 and A.5).
    const u32 want_exit = exit_ctl::kHostAddressSpaceSize | exit_ctl::kSavePat | exit_ctl::kLoadPat |
                          exit_ctl::kSaveEfer | exit_ctl::kLoadEfer | exit_ctl::kSaveDebugControls;
    const u32 want_entry = entry_ctl::kLoadPat | entry_ctl::kLoadEfer | entry_ctl::kLoadDebugControls;
    // The preemption timer guarantees a slice ends with an exit, whatever happens to
    // interrupt delivery: used when the CPU has it.
    c.pin = adjust_controls(pin_cap, want_pin | pin::kPreemptionTimer | pin::kVirtualNmis);
    c.preemption_timer = c.pin & pin::kPreemptionTimer;
    if (c.preemption_timer) c.preemption_timer_shift = u32(x86::rdmsr(Msr::VmxMisc) & 0x1f);
    // TSC offsetting, where there is one, gives each guest its own time base, so a
    // restored or migrated guest's TSC goes on from where it was (SDM vol. 3C 25.6.5).
    c.proc = adjust_controls(proc_cap, want_proc | proc::kUseTscOffsetting);
    c.tsc_offsetting = c.proc & proc::kUseTscOffsetting;
    // Virtual NMIs with NMI-window exiting, where both exist: a pending NMI is injected
    // the moment the guest's NMI handler returns. Without them it waits for any exit.
    c.nmi_window = (c.pin & pin::kVirtualNmis) && (u32(proc_cap >> 32) & proc::kNmiWindowExiting);
    c.exit = adjust_controls(exit_cap, want_exit);
    c.entry = adjust_controls(entry_cap, want_entry) & ~entry_ctl::kIa32eModeGuest;
    if ((c.pin & want_pin) != want_pin || (c.proc & want_proc) != want_proc) {
        c.problem =
            "VMX lacks external-interrupt/NMI exiting, HLT, MONITOR, MWAIT, RDPMC or CR8 exiting, I/O or MSR bitmaps "
            "or "
            "secondary controls";
        return;
    }
    if ((c.exit & want_exit) != want_exit || (c.entry & want_entry) != want_entry) {
        c.problem = "VMX cannot save and load EFER, PAT and the debug controls on VM entry and exit";
        return;
    }
    // Only now is the secondary-controls MSR known to exist.
    const u64 proc2_cap = x86::rdmsr(Msr::VmxProcbasedCtls2);
    // WBINVD exiting where there is one: a whole-cache flush hurts every domain on the CPU.
    const u32 want_proc2 = proc2::kEnableEpt | proc2::kEnableVpid | proc2::kUnrestrictedGuest | proc2::kWbinvdExiting;
    c.proc2 = adjust_controls(proc2_cap, want_proc2);
    if ((c.proc2 & (proc2::kEnableEpt | proc2::kUnrestrictedGuest)) !=
        (proc2::kEnableEpt | proc2::kUnrestrictedGuest)) {
        c.problem = "VMX lacks EPT or unrestricted guest";
        return;
    }
    c.vpid = c.proc2 & proc2::kEnableVpid;
    // TSC scaling is turned on per vCPU, only for a domain whose TSC runs at another rate
    // than this host's (VmxVcpu::follow_tsc_rate).
    c.tsc_scaling = c.tsc_offsetting && (u32(proc2_cap >> 32) & proc2::kUseTscScaling);
    const u64 ept_cap = x86::rdmsr(Msr::VmxEptVpidCap);  // exists: EPT is allowed
    if ((ept_cap & (kEptWalk4 | kEptWriteBack)) != (kEptWalk4 | kEptWriteBack)) {
        c.problem = "EPT lacks 4-level walks or write-back paging structures";
        return;
    }
    // Unrestricted guest lifts the PE and PG requirements (SDM 26.3.1.1).
    c.cr0_fixed0 = x86::rdmsr(Msr::VmxCr0Fixed0) & ~(kCr0Pe | kCr0Pg);
    c.cr4_fixed0 = x86::rdmsr(Msr::VmxCr4Fixed0);

    const PhysAddr io_a = frame_alloc(1), io_b = frame_alloc(1), msr = frame_alloc(1);
    if (io_a == kNoPhysFrame || io_b == kNoPhysFrame || msr == kNoPhysFrame) {
        c.problem = "out of memory for the VMX I/O and MSR bitmaps";
        return;
    }
    memset(phys_to_virt(io_a), 0xff, kPageSize);  // every port exits
    memset(phys_to_virt(io_b), 0xff, kPageSize);
    auto* msr_bitmap = phys_to_virt<u8>(msr);
    memset(msr_bitmap, 0xff, kPageSize);
    // FS and GS base are guest-state fields that VM entry and exit switch.
    clear_msr_intercept(msr_bitmap, msr_index(Msr::FsBase));
    clear_msr_intercept(msr_bitmap, msr_index(Msr::GsBase));
    c.io_bitmap_a = io_a;
    c.io_bitmap_b = io_b;
    c.msr_bitmap = msr;
    c.usable = true;
}

}  // namespace

const Capabilities* capabilities() {
    IrqLockGuard guard(g_lock);
    if (!g_done) {
        compute(g_caps);
        g_done = true;
    }
    return &g_caps;
}

}  // namespace vmx
