// A domain: a guest with its own memory, vCPUs and virtual devices. States follow
// `xm list`: running, blocked, paused, shut down, crashed.
#pragma once

#include "kernel/domain/domain_lifecycle.hpp"
#include "kernel/domain/restart_limiter.hpp"
#include "kernel/sched/cpu_work.hpp"
#include "kernel/sched/credit_policy.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/text_ring.hpp"
#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/cpuid_policy.hpp"
#include "kernel/vm/io_bus.hpp"
#include "kernel/vm/mmio_bus.hpp"
#include "kernel/vm/tsc_rate.hpp"
#include "mm/guest_memory.hpp"
#include "mm/memory_quota.hpp"

class IoreqServer;
class Platform;
class TestExitPort;
struct Multiboot2Info;

// Where a domain's kernel came from, so that a guest reset can load it again: its GRUB
// modules (reserved for good at boot) and its command line.
struct DomainImage {
    // Zeroes the domain's RAM and loads its kernel again, for a restart; `entry` is where
    // vCPU 0 starts. Set by the loader that built it; null: it cannot be loaded again.
    bool (*reload)(Domain& domain, GuestEntryState& entry, const char** error) = nullptr;
    const Multiboot2Info* boot = nullptr;
    usize kernel = 0;                // the domain line's module
    usize first_extra = 0, end = 0;  // its own modules: [first_extra, end)
    char cmdline[256] = {};
};

// What `xm list` shows: running, blocked (no vCPU can run), paused, shut down, crashed,
// dying.
enum class DomainState : u8 { Running, Blocked, Paused, Shutdown, Crashed, Dying };
// Why it ended, for its toolstack's on_poweroff / on_reboot / on_crash.
enum class EndReason : u8 { None, PowerOff, Reboot, Crash };
const char* domain_state_name(DomainState state);
struct Domain;
DomainState domain_current_state(const Domain& domain);

// A domain is a refcounted object in the domain table (domain_table.cpp), with its life
// in `lifecycle` (kernel/domain/domain_lifecycle.hpp). The table holds one reference from
// creation until the domain is destroyed; a lookup by id (DomainRef) holds another while
// it works on the domain. The last reference frees the object.
struct Domain {
    static constexpr u32 kMaxVcpus = 8;
    static constexpr usize kNameLength = 32;

    u32 id = 0;
    char name[kNameLength] = {};
    DomainLifecycle lifecycle;
    u32 refs = 1;  // atomic: the table's reference, plus DomainRefs
    // The control domain may create, destroy and inspect others (docs/hypercalls.md).
    bool privileged = false;
    // Domain-0 (Xen's hardware domain): id 0, identity-mapped RAM, the machine's devices
    // reached straight through (kernel/passthrough/hardware_domain.hpp).
    bool hardware_domain = false;
    // Its I/O permission bitmap (3 pages: set bits exit), where port accesses no device
    // model claims reach the hardware; 0 for every other domain (all ports exit).
    PhysAddr io_bitmap = 0;
    // A boot domain has no toolstack to destroy it: when it ends, its memory goes back at
    // once (it stays listed, shut down). Others keep theirs until destroyed (xm destroy).
    bool release_when_ended = true;
    bool resources_released = false;  // under `lock`
    bool crashed = false;
    EndReason end_reason_kind = EndReason::None;  // set once, by the end that won
    i64 exit_code = 0;
    u64 created_us = 0;
    static constexpr i64 kResetExitCode =
        2;  // the exit code of an end by reset  // uptime_us() at its creation or its last restart in place
    char end_reason[128] = {};
    // What it may cost the host (mm/memory_quota.hpp): its RAM, this object,
    // its tables, vCPUs, devices and dirty log are charged; destroy gives all of it back.
    MemoryQuota quota;
    // Of it, what its devices and vCPU structures were charged (given back on release).
    u64 charged_structures = 0;
    GuestMemory memory;
    Vcpu vcpus[kMaxVcpus];
    u32 vcpu_count = 0;
    CpuidPolicy cpuid;
    // The guest TSC its vCPUs take at their next entry or state access, once its platform
    // sets a new one (a restore): guest TSC = host TSC x multiplier / 2^48, reading
    // guest_tsc at host_tsc (kernel/vm/tsc_rate.hpp). The platform's own model of the
    // guest's TSC, which its TSC-deadline timers count by, then reads the same: were the
    // vCPUs' TSCs ahead of it, or behind, every deadline would fire late, or at once and
    // again (the restored vCPU states and the platform state were taken at two moments).
    // The multiplier is one but for a domain from a host of another TSC rate on a CPU
    // that scales (VcpuBackend::tsc_scaling).
    struct TscBase {
        u64 generation = 0;  // vCPUs compare it with the one they took last
        u64 multiplier = kTscMultiplierOne;
        u64 host_tsc = 0;
        u64 guest_tsc = 0;
    } tsc_base;
    IoBus io;
    MmioBus mmio;
    // Its machine (kernel/platform/platform.hpp): the virtual PC of a domain that boots a
    // PC operating system, or the test machine of the Multiboot test kernels. Owned; set
    // from creation until its resources go back.
    Platform* platform = nullptr;
    // The test exit port at 0xf4, which every domain has (kernel/vm/devices/test_exit_port.hpp).
    TestExitPort* exit_port = nullptr;
    // The forwarding to its device model in Domain-0 (kernel/ioreq/ioreq_server.hpp):
    // made at the first attach, freed with its resources. Atomic.
    IoreqServer* ioreq = nullptr;
    DomainImage image;
    // A guest reset asked for a restart while the domain was paused: it follows the
    // unpause. Under `lock`.
    bool restart_requested = false;
    // Restarts after resets, limited against reset loops (under `lock`).
    RestartLimiter restart_limiter;
    // A restart's work is under way (kernel/domain/domain_restart.cpp): destroy waits.
    bool restart_busy = false;
    CpuWork restart_work;
    // Control calls that use `platform` without holding `lock` (the virtual PC takes that
    // lock under its own): domain_release_resources waits for them before it deletes
    // the platform. Under `lock`; DomainPlatformUse counts them.
    u32 platform_users = 0;
    SpinLock lock;
    // Guest console output collects here until a newline (domain_console_write).
    char console_line[160] = {};
    // The last "Kernel panic" line its kernel printed, if any (domain_console_write): a
    // reset that follows it is a crash.
    char panic_line[120] = {};
    usize console_length = 0;
    // Its console output as it came, for the control domain's readers (xm console), under
    // `lock`.
    static constexpr usize kConsoleRingBytes = 16384;
    TextRing<kConsoleRingBytes> console_ring;
    // Keys typed on the Vireo console while it is switched to this domain (debug_keys.cpp),
    // waiting for its COM1 to take them. The console path only touches this ring (under
    // input_lock), never the devices, so it needs no lock the devices hold.
    SpinLock input_lock;
    char input[256] = {};
    u32 input_head = 0, input_tail = 0;  // free-running; head - tail bytes are queued
    // Unknown MSRs already reported, so each is logged once.
    u32 reported_msrs[16] = {};
    usize reported_msr_count = 0;
    bool unknown_msrs_silenced = false;  // past reported_msrs: no more lines
    // Its memory target in bytes (xm mem-set; the control call domain_memory_target),
    // which its balloon driver's device model in Domain-0 reads and works towards: at
    // first its RAM at creation (memory.layout_size(), its maxmem). Atomic.
    u64 memory_target = 0;
    // The dirty log's bitmap while one runs (control call domain_dirty_log), one bit per
    // 4 KiB page; owned here, under `lock`.
    u64* dirty_bitmap = nullptr;
    // The deferred end of the domain (domain_end_finish), run by the CPU that ended it.
    CpuWork end_work;
    // Its weight and cap, which all its vCPUs share (kernel/sched/credit_policy.hpp).
    CreditDomain sched;

    // Whether to log an unknown MSR: the first time each of the first 16 is seen (Log),
    // once more for the first beyond them (LogLast, which says that the rest are not),
    // else Silent. A guest sweeping every MSR costs 17 lines, not one per access.
    enum class MsrNote : u8 { Silent, Log, LogLast };
    MsrNote note_unknown_msr(u32 index);

    bool ended() const { return lifecycle.ended(); }
};

struct DomainConfig {
    char name[Domain::kNameLength];
    u64 memory_bytes;
    u32 vcpus;
    bool pc_platform;  // give it the virtual PC (Linux) instead of the test devices
    // Only the CPUID features both AMD and Intel define (CpuidPolicy::set_migratable): it
    // may be restored on the other vendor's CPU.
    bool migratable_cpuid = false;
    // No CPUID feature outside cpuid_limit (CpuidPolicy::set_feature_limit): a restored
    // domain keeps the features it was given where it started.
    bool cpuid_limited = false;
    hypercall::CpuidFeatureLimit cpuid_limit = {};
    bool privileged = false;
    bool release_when_ended = true;  // false for domains a control domain created
    // Domain-0: id 0, privileged, RAM identity-mapped (`low_memory` first, the host's
    // conventional memory), the virtual PC with the real devices passed through.
    bool hardware_domain = false;
    GuestRamRange low_memory = {};
    // Its credit scheduler settings (kernel/sched/credit_policy.hpp): its vCPUs' weight,
    // its cap (percent of one CPU, 0: none) and the CPUs its vCPUs may run on.
    u32 weight = kCreditDefaultWeight;
    u32 cap_percent = 0;
    u64 cpus = ~0ull;
};

// Creates a domain with zeroed memory and vCPUs that have not run, in state Created,
// listed in the domain table. Its vCPU backends are made by scheduler_add_domain.
Domain* domain_create(const DomainConfig& config, const char** error);
// Ends a domain: from a guest's own action (shutdown with `exit_code`) or because it
// broke a rule (crash, with the reason logged). Its vCPUs stop at their next exit; the
// CPU that ended it finishes the job at its next scheduling point.
void domain_shutdown(Domain& domain, i64 exit_code, EndReason reason = EndReason::PowerOff);
void domain_crash(Domain& domain, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Returns the vCPUs' backends and FPU pages, the devices and the memory, once; every
// vCPU must have stopped (domain_quiesce). The domain itself stays until destroyed.
void domain_release_resources(Domain& domain);
// A control call's use of a domain's platform (its device state, an MSI): `platform()`
// is null once the domain's resources go or went, else the platform, kept until the use
// ends.
class DomainPlatformUse {
public:
    explicit DomainPlatformUse(Domain& domain);
    ~DomainPlatformUse();
    DomainPlatformUse(const DomainPlatformUse&) = delete;
    DomainPlatformUse& operator=(const DomainPlatformUse&) = delete;
    Platform* platform() const { return platform_; }
    // The domain's resources go or went (else a null platform means it never had one).
    bool going() const { return going_; }

private:
    Domain& domain_;
    Platform* platform_ = nullptr;
    bool going_ = false;
};
// The size of a dirty log's bitmap, which is charged to the domain's quota while it exists.
inline u64 dirty_bitmap_bytes(const Domain& d) { return (d.memory.pages() + 63) / 64 * sizeof(u64); }
// A guest reset its machine: the domain restarts (kernel/domain/domain_restart.cpp), now
// or after an unpause. False when it cannot be loaded again (DomainImage::reload).
bool domain_request_restart(Domain& domain);
// Guest console output: whole lines go to the hypervisor console as "[name] text".
void domain_console_write(Domain& domain, const char* text, usize length);
// The console input has just moved to the domain: the line it has begun and not ended
// (a shell's prompt, printed before the move) shows, as it would on its own terminal.
void domain_console_show_partial_line(Domain& domain);

// Control operations (kernel/domain/domain_control.cpp). Never on the caller's own
// domain. Each returns 0 or a negative hypercall error.
i64 domain_pause(Domain& domain);
i64 domain_unpause(Domain& domain);
// Stops every vCPU, takes them off their CPUs, returns every resource, and takes the
// domain out of the table (its id becomes free). Returns when all that is done.
i64 domain_destroy(Domain& domain);
// The reset button: a domain the hypervisor can load again restarts in place; any other
// ends with EndReason::Reboot (its toolstack's on_reboot follows).
i64 domain_reset(Domain& domain);
// A new name (xm rename), unique as at creation: -17 when another domain has it.
i64 domain_rename(Domain& domain, const char* name);
// Stops every vCPU of the domain and waits until none runs on any CPU (the caller has
// already changed the lifecycle so that none may start again).
void domain_quiesce(Domain& domain);
// After the domain's p2m lost access somewhere: every CPU forgets its cached
// guest-physical translations before this returns. Never with the domain's lock held.
void domain_tlb_shootdown(Domain& domain);

u32 domains_alive();
// When set (command line debug_exit), the machine powers off once every domain has ended.
void domains_power_off_when_ended(bool enabled);
// Said once, when the last domain has ended (shut down and released, or destroyed):
// "vireo: all N domains have ended", then the power-off when asked for.
void domains_note_end();
// Domains not yet shut down or crashed (domains_alive also counts ended ones whose vCPUs
// are still leaving their CPUs).
u32 domains_running();
bool all_domains_exited_cleanly();
// Console input for a domain: false (and the key dropped) when its queue is full.
bool domain_console_input(Domain& domain, char key);
// Whether a key is queued, without the queue's lock (a hint for the platform's devices).
inline bool domain_console_pending(const Domain& d) {
    return __atomic_load_n(&d.input_head, __ATOMIC_ACQUIRE) != __atomic_load_n(&d.input_tail, __ATOMIC_ACQUIRE);
}
// The next queued key, without removing it; false when none is queued.
bool domain_console_peek(Domain& domain, char& key);
void domain_console_pop(Domain& domain);
// Prints a per-domain table of exit counts (debug key 'e').
void domain_print_exit_counters();
