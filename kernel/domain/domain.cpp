#include "kernel/domain/domain.hpp"
#include "kernel/domain/foreign_mappings.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/ioreq/ioreq_server.hpp"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel/alloc.hpp"
#include "kernel/domain/domain_events.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/dom0_power.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/percpu.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/power.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/time.hpp"
#include "kernel/virtualization_support.hpp"
#include "kernel/vm/debug_keys.hpp"
#include "kernel/vm/devices/test_exit_port.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/x86/hardware_cpu.hpp"

namespace {

HardwareCpu g_host_cpu;

// A line of a domain's output, with its name, unless it went to the console as it came
// (the domain has the console's input).
void flush_console_line(Domain& d) {
    if (d.console_length == 0) return;
    if (!console_focus_is(d.id)) console_line("[%s] %.*s", d.name, int(d.console_length), d.console_line);
    d.console_length = 0;
}

// The second half of a domain's end, at the scheduling point of the CPU that ended it
// (where none of this CPU's vCPUs runs, so waiting for the others cannot deadlock).
void finish_end(void* arg) {
    Domain& d = *static_cast<Domain*>(arg);
    domain_quiesce(d);
    bool release = false;
    {
        LockGuard<SpinLock> guard(d.lock);
        if (d.lifecycle.apply(LifecycleEvent::VcpusStopped)) release = d.release_when_ended;
    }
    if (release) domain_release_resources(d);
    domains_note_end();
    domain_put(d);  // the reference end_domain took for this
}

// Ends the domain once: the first end (shutdown or crash) wins and keeps its reason.
bool end_domain(Domain& d, EndReason reason) {
    {
        LockGuard<SpinLock> guard(d.lock);
        if (!d.lifecycle.apply(LifecycleEvent::GuestEnded)) return false;
        d.end_reason_kind = reason;
        flush_console_line(d);
    }
    domain_events::state_changed();
    domain_get(d);
    d.end_work.run = finish_end;
    d.end_work.arg = &d;
    cpu_post(this_cpu_index(), d.end_work);
    return true;
}

}  // namespace

DomainState domain_current_state(const Domain& d) {
    switch (d.lifecycle.state()) {
        case LifecycleState::Created:
        case LifecycleState::Paused: return DomainState::Paused;
        case LifecycleState::Running: break;
        case LifecycleState::Restarting: return DomainState::Blocked;
        case LifecycleState::ShuttingDown:
        case LifecycleState::Shutdown: return d.crashed ? DomainState::Crashed : DomainState::Shutdown;
        case LifecycleState::Dying:
        case LifecycleState::Dead: return DomainState::Dying;
    }
    // As `xm list` shows it: blocked when no vCPU can run (all halted or not started).
    for (u32 i = 0; i < d.vcpu_count; ++i)
        if (d.vcpus[i].state == VcpuState::Runnable) return DomainState::Running;
    return DomainState::Blocked;
}

const char* domain_state_name(DomainState state) {
    switch (state) {
        case DomainState::Running: return "running";
        case DomainState::Blocked: return "blocked";
        case DomainState::Paused: return "paused";
        case DomainState::Shutdown: return "shut down";
        case DomainState::Crashed: return "crashed";
        case DomainState::Dying: return "dying";
    }
    return "?";
}

Domain::MsrNote Domain::note_unknown_msr(u32 index) {
    for (usize i = 0; i < reported_msr_count; ++i)
        if (reported_msrs[i] == index) return MsrNote::Silent;
    if (reported_msr_count < sizeof(reported_msrs) / sizeof(reported_msrs[0])) {
        reported_msrs[reported_msr_count++] = index;
        return MsrNote::Log;
    }
    if (unknown_msrs_silenced) return MsrNote::Silent;
    unknown_msrs_silenced = true;
    return MsrNote::LogLast;
}

static bool attach_devices(Domain& d, bool pc_platform, const char** error);

// A virtual PC's RAM goes around its 32-bit MMIO hole: up to 3 GiB below it, the rest
// from 4 GiB (kernel/vm/firmware/guest_pc_layout.hpp); the test machine's is one block.
// The quota is set first: the RAM and the tables are charged to it as they are allocated.
static bool create_memory(Domain& d, const DomainConfig& config, NestedPagingFormat format, bool huge_pages,
                          const char** error) {
    const u64 bytes = align_up(config.memory_bytes, GuestMemory::kChunkSize);
    d.quota.set_limit(bytes + MemoryQuota::overhead_allowance(bytes, config.vcpus));
    if (!d.quota.charge(sizeof(Domain))) {
        *error = "the domain object passes its memory quota";
        return false;
    }
    if (config.hardware_domain)
        return d.memory.create_identity(config.memory_bytes, config.low_memory, format, huge_pages, &d.quota, error);
    // Zeroed as the guest (or the hypervisor on its behalf) first touches it: a booting
    // guest touches a fraction of its RAM (mm/guest_memory.hpp, RamZeroing).
    constexpr RamZeroing zeroing = RamZeroing::OnFirstTouch;
    if (!config.pc_platform || bytes <= kGuestMmioHoleStart)
        return d.memory.create(bytes, format, huge_pages, zeroing, &d.quota, error);
    const GuestRamRange ranges[] = {{0, guest_ram_below_4g(bytes)}, {kGuestHighMemoryStart, guest_ram_above_4g(bytes)}};
    return d.memory.create(ranges, 2, format, huge_pages, zeroing, &d.quota, error);
}

Domain* domain_create(const DomainConfig& config, const char** error) {
    if (config.vcpus == 0 || config.vcpus > Domain::kMaxVcpus) {
        *error = "vcpus must be between 1 and 8";
        return nullptr;
    }
    {
        if (!credit_share_valid(config.weight, config.cap_percent, config.vcpus)) {
            *error = "weight must be between 1 and 65535, cap between 0 and 100 per vCPU";
            return nullptr;
        }
        if (!(config.cpus & percpu_online_mask())) {
            *error = "its cpus= names no CPU that is online";
            return nullptr;
        }
    }
    // Checked again when it enters the table; here before any memory is taken.
    if (domain_name_taken(config.name)) {
        *error = "a domain of that name exists already";
        return nullptr;
    }
    auto* d = new (kNoThrow) Domain;
    if (!d) {
        *error = "out of memory for the domain";
        return nullptr;
    }
    memcpy(d->name, config.name, sizeof(d->name));
    d->name[sizeof(d->name) - 1] = 0;
    d->privileged = config.privileged || config.hardware_domain;
    d->hardware_domain = config.hardware_domain;
    d->release_when_ended = config.release_when_ended;
    d->created_us = uptime_us();
    const VirtualizationSupport support = detect_virtualization(g_host_cpu);
    const NestedPagingFormat format =
        support.vendor == VirtualizationVendor::IntelVmx ? NestedPagingFormat::IntelEpt : NestedPagingFormat::AmdNpt;
    if (!create_memory(*d, config, format, support.nested_1gib_pages, error)) {
        delete d;
        return nullptr;
    }
    d->memory_target = d->memory.layout_size();
    d->vcpu_count = config.vcpus;
    credit_set_weight(d->sched, config.weight);
    credit_set_cap(d->sched, config.cap_percent, config.vcpus);
    for (u32 i = 0; i < config.vcpus; ++i) {
        d->vcpus[i].domain = d;
        d->vcpus[i].index = i;
        d->vcpus[i].sched.hard_affinity = config.cpus;
        vcpu_set_state(d->vcpus[i], VcpuState::Stopped);
    }
    d->cpuid.init(g_host_cpu, config.vcpus, fpu_guest_xcr0_supported());
    d->cpuid.set_migratable(config.migratable_cpuid);
    if (config.cpuid_limited) d->cpuid.set_feature_limit(config.cpuid_limit);
    if (!attach_devices(*d, config.pc_platform || config.hardware_domain, error) ||
        (d->hardware_domain && !passthrough_attach(*d, error)) ||
        !domain_table_insert(*d, d->hardware_domain ? 0 : ~0u, error)) {
        domain_release_resources(*d);
        delete d;
        return nullptr;
    }
    return d;
}

static bool attach_devices(Domain& d, bool pc_platform, const char** error) {
    // The test exit port is at 0xf4, where a PC has nothing (QEMU's isa-debug-exit sits
    // there too): every domain has it, so test kernels end the same way on any platform.
    d.exit_port = new (kNoThrow) TestExitPort(d);
    if (!d.exit_port) {
        *error = "out of memory for the domain's devices";
        return false;
    }
    d.io.claim(TestExitPort::kPort, TestExitPort::kPort + 3, d.exit_port);
    d.platform = pc_platform ? create_pc_platform(d, error) : create_test_platform(d, error);
    if (!d.platform) return false;
    if (!d.quota.charge(sizeof(TestExitPort) + d.platform->footprint_bytes())) {
        *error = "its devices pass its memory quota";
        delete d.platform;  // never charged
        d.platform = nullptr;
        return false;
    }
    d.charged_structures += sizeof(TestExitPort) + d.platform->footprint_bytes();
    if (d.platform->has_local_apics()) d.cpuid.set_local_apic(true);
    return true;
}

void domain_shutdown(Domain& d, i64 exit_code, EndReason reason) {
    if (d.ended()) return;
    d.exit_code = exit_code;
    if (end_domain(d, reason))
        log_info("domain %u (%s): shut down with exit code %lld", d.id, d.name, (long long)exit_code);
}

void domain_crash(Domain& d, const char* fmt, ...) {
    if (d.ended()) return;
    char reason[sizeof(d.end_reason)];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof(reason), fmt, args);
    va_end(args);
    {
        LockGuard<SpinLock> guard(d.lock);
        if (d.ended()) return;
        memcpy(d.end_reason, reason, sizeof(reason));
        d.crashed = true;
    }
    if (!end_domain(d, EndReason::Crash)) return;
    log_error("domain %u (%s) crashed: %s", d.id, d.name, d.end_reason);
    if (d.hardware_domain) dom0_crashed(d);
}

DomainPlatformUse::DomainPlatformUse(Domain& domain) : domain_(domain) {
    LockGuard<SpinLock> guard(domain.lock);
    going_ = domain.resources_released || domain.lifecycle.being_destroyed();
    if (going_ || !domain.platform) return;
    platform_ = domain.platform;
    __atomic_add_fetch(&domain.platform_users, 1, __ATOMIC_ACQ_REL);
}

DomainPlatformUse::~DomainPlatformUse() {
    if (platform_) __atomic_sub_fetch(&domain_.platform_users, 1, __ATOMIC_ACQ_REL);
}

void domain_release_resources(Domain& d) {
    {
        LockGuard<SpinLock> guard(d.lock);
        if (d.resources_released) return;
        d.resources_released = true;
    }
    // No control call uses the platform now, and none starts (DomainPlatformUse).
    while (__atomic_load_n(&d.platform_users, __ATOMIC_ACQUIRE)) asm volatile("pause" ::: "memory");
    // First its device timers: once stop_timers returns, no callback of its platform
    // runs on any CPU or ever will (none may touch what goes below). Console input
    // checks resources_released under the lock before arming one.
    if (d.platform) d.platform->stop_timers();
    // Each vCPU leaves its CPU's run queue there, and whatever that CPU still holds of
    // it (an active VMCS, its FPU registers) is dropped there.
    for (u32 i = 0; i < d.vcpu_count; ++i) scheduler_remove_vcpu(d.vcpus[i]);
    for (u32 i = 0; i < d.vcpu_count; ++i) {
        delete d.vcpus[i].backend;
        d.vcpus[i].backend = nullptr;
        fpu_release_vcpu(d.vcpus[i]);
    }
    ioreq_release(d);
    delete d.platform;
    d.platform = nullptr;
    delete d.exit_port;
    d.exit_port = nullptr;
    passthrough_detach(d);
    // Mappings of its pages by others are revoked (and flushed) before a frame is freed;
    // its own mappings of others end.
    foreign_mappings_release(d);
    const u64 bytes = d.memory.size();
    if (d.dirty_bitmap) d.quota.uncharge(dirty_bitmap_bytes(d));
    d.memory.destroy();
    delete[] d.dirty_bitmap;
    d.dirty_bitmap = nullptr;
    d.quota.uncharge(d.charged_structures);
    d.charged_structures = 0;
    // Only the domain object itself may be left: anything else is a charge without its
    // release (or the reverse), which would leak quota on every create and destroy.
    if (d.quota.used() != sizeof(Domain))
        log_error("domain %u (%s): %llu bytes still charged to its quota after its release", d.id, d.name,
                  (unsigned long long)(d.quota.used() - sizeof(Domain)));
    if (bytes) log_info("domain %u (%s): %llu MiB of memory returned", d.id, d.name, (unsigned long long)(bytes / MiB));
}

namespace {

// A Linux domain's kernel panics are watched for on its console (an unmodified Linux has
// no other way to tell), so that its crash is reported with its reason: Linux prints
// "Kernel panic - not syncing: <reason>", then resets the machine when booted with
// panic=N (Domain-0's reset is the machine's: dom0_reset; a domU's ends it as crashed,
// for its toolstack's on_crash). The line only annotates that reset: any process may
// print text, so text alone never ends anything.
void watch_for_panic(Domain& d) {
    if (d.console_length == 0) return;
    const char* line = d.console_line;
    const usize length = d.console_length;
    auto find = [&](const char* what) -> const char* {
        const usize n = strlen(what);
        for (usize i = 0; i + n <= length; ++i)
            if (memcmp(line + i, what, n) == 0) return line + i;
        return nullptr;
    };
    if (const char* at = find("Kernel panic - not syncing")) {
        const usize n =
            usize(line + length - at) < sizeof(d.panic_line) - 1 ? usize(line + length - at) : sizeof(d.panic_line) - 1;
        memcpy(d.panic_line, at, n);
        d.panic_line[n] = 0;
    }
}

}  // namespace

VIREO_HOT_PATH void domain_console_write(Domain& d, const char* text, usize length) {
    LockGuard<SpinLock> guard(d.lock);
    // The domain at the console is its terminal: a prompt shows before its line ends. Its
    // lines are still collected (a panic is recognised by its line).
    if (console_focus_is(d.id)) console_write_raw(text, length);
    d.console_ring.append(text, length);
    domain_events::console_output();
    for (usize i = 0; i < length; ++i) {
        const char c = text[i];
        if (c == '\n') {
            watch_for_panic(d);
            flush_console_line(d);
            continue;
        }
        if (c == '\r') continue;
        if (d.console_length == sizeof(d.console_line)) flush_console_line(d);  // a long line, in pieces
        d.console_line[d.console_length++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
    }
}

void domain_console_show_partial_line(Domain& d) {
    LockGuard<SpinLock> guard(d.lock);
    if (d.console_length) console_write_raw(d.console_line, d.console_length);
}

bool domain_console_input(Domain& d, char key) {
    {
        LockGuard<SpinLock> guard(d.input_lock);
        if (d.input_head - d.input_tail == sizeof(d.input)) return false;
        d.input[d.input_head++ % sizeof(d.input)] = key;
    }
    // Its platform takes the key from a timer callback, armed for now. Under the
    // domain's lock, so that domain_release_resources (which sets resources_released
    // under it before it stops the timers) never frees the platform in between.
    LockGuard<SpinLock> guard(d.lock);
    if (!d.resources_released && d.platform) d.platform->console_input();
    return true;
}

bool domain_console_peek(Domain& d, char& key) {
    LockGuard<SpinLock> guard(d.input_lock);
    if (d.input_head == d.input_tail) return false;
    key = d.input[d.input_tail % sizeof(d.input)];
    return true;
}

void domain_console_pop(Domain& d) {
    LockGuard<SpinLock> guard(d.input_lock);
    if (d.input_head != d.input_tail) ++d.input_tail;
}

// A domain counts as alive until it has shut down and, for a boot domain, given its
// memory back.
static bool alive(const Domain& d) {
    const LifecycleState state = d.lifecycle.state();
    if (state < LifecycleState::Shutdown) return true;
    if (state == LifecycleState::Shutdown) return d.release_when_ended && !d.resources_released;
    return state == LifecycleState::Dying;
}

namespace {

bool g_power_off_when_ended = false;
bool g_announced_end = false;  // atomic: the last two ends may race

}  // namespace

void domains_power_off_when_ended(bool enabled) { g_power_off_when_ended = enabled; }

// Bochs has no exit device: the line is said whether or not the machine powers off.
void domains_note_end() {
    if (domain_count() == 0 || domains_alive() != 0) return;
    if (__atomic_exchange_n(&g_announced_end, true, __ATOMIC_ACQ_REL)) return;
    const bool clean = all_domains_exited_cleanly();
    console_line("vireo: all %u domains have ended%s", domain_count(),
                 clean ? ", all with exit code 0" : "; not all with exit code 0");
    dom0_power_off_if_requested();
    if (g_power_off_when_ended) halt_machine(clean ? HaltReason::NothingToRun : HaltReason::GuestsFailed);
}

u32 domains_alive() {
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    u32 count = 0;
    for (u32 i = 0; i < n; ++i)
        if (alive(*all[i])) ++count;
    return count;
}

u32 domains_running() {
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    u32 count = 0;
    for (u32 i = 0; i < n; ++i)
        if (!all[i]->ended()) ++count;
    return count;
}

bool all_domains_exited_cleanly() {
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    for (u32 i = 0; i < n; ++i)
        if (all[i]->crashed || !all[i]->ended() || all[i]->exit_code != 0) return false;
    return true;
}

void domain_print_exit_counters() {
    console_line("exit counters (debug key 'e'):");
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    for (u32 i = 0; i < n; ++i) {
        const Domain& d = *all[i];
        // RAM zeroed on first touch (mm/guest_memory.hpp): how much of it the domain never
        // reached yet. Its own line: scripts read the vCPU lines (tools/bench-linux).
        console_line("  %s (id %u) RAM: %llu MiB, %llu MiB of it not touched yet", d.name, d.id,
                     (unsigned long long)(d.memory.size() / MiB),
                     (unsigned long long)(d.memory.unpopulated_bytes() / MiB));
        for (u32 v = 0; v < d.vcpu_count; ++v) {
            char line[512];
            const Vcpu& vcpu = d.vcpus[v];
            const char* state = vcpu.state == VcpuState::Runnable  ? "runnable"
                                : vcpu.state == VcpuState::Blocked ? "blocked"
                                                                   : "stopped";
            int n = snprintf(line, sizeof(line), "  %s (id %u) vcpu%u [%s] cpu%u %s%s:", d.name, d.id, v,
                             domain_state_name(domain_current_state(d)), vcpu.cpu, state,
                             vcpu.gate.in_use() ? " in guest" : "");
            for (u8 k = 0; k < u8(ExitKind::Count) && n > 0 && usize(n) < sizeof(line); ++k) {
                if (d.vcpus[v].exits[k] == 0) continue;
                n += snprintf(line + n, sizeof(line) - usize(n), " %s=%llu", exit_kind_name(static_cast<ExitKind>(k)),
                              (unsigned long long)d.vcpus[v].exits[k]);
            }
            if (vcpu.last_msr_written != 0 && n > 0 && usize(n) < sizeof(line))
                n += snprintf(line + n, sizeof(line) - usize(n), " last-wrmsr=%#x", vcpu.last_msr_written);
            if (vcpu.last_npf_gpa != 0 && n > 0 && usize(n) < sizeof(line))
                snprintf(line + n, sizeof(line) - usize(n), " last-npf=%#llx@rip %#llx",
                         (unsigned long long)vcpu.last_npf_gpa, (unsigned long long)vcpu.last_npf_rip);
            console_line("%s", line);
            // What the exit fast path did with the exits it handled (kernel/vm/
            // exit_fast_path.hpp): its own indented line, which tools/bench-linux prints.
            const Vcpu::FastPathTally& fast = vcpu.fast_path;
            if (fast.reentered + fast.for_event + fast.for_platform + fast.for_pass + fast.for_deadline > 0)
                console_line(
                    "    vcpu%u: exits of the fast path: %llu entered the guest again at once; to the scheduler "
                    "%llu for an event, %llu for the platform, %llu for a pass, %llu for a deadline",
                    v, (unsigned long long)fast.reentered, (unsigned long long)fast.for_event,
                    (unsigned long long)fast.for_platform, (unsigned long long)fast.for_pass,
                    (unsigned long long)fast.for_deadline);
            // A backend without instruction lengths (SVM under QEMU's TCG) looks them up
            // (kernel/vm/exit_instruction_cache.hpp). Its own indented line: scripts read
            // the counters' line (tools/bench-linux).
            const ExitInstructionCache& cache = vcpu.exit_instructions;
            if (cache.hits() + cache.misses() > 0)
                console_line("    vcpu%u: instruction lengths of exits: %llu from the cache, %llu decoded", v,
                             (unsigned long long)cache.hits(), (unsigned long long)cache.misses());
        }
    }
}

const char* exit_kind_name(ExitKind kind) {
    switch (kind) {
        case ExitKind::Cpuid: return "cpuid";
        case ExitKind::MsrRead: return "rdmsr";
        case ExitKind::MsrWrite: return "wrmsr";
        case ExitKind::Io: return "io";
        case ExitKind::Hlt: return "hlt";
        case ExitKind::Hypercall: return "hypercall";
        case ExitKind::NestedPageFault: return "npf";
        case ExitKind::TripleFault: return "triple-fault";
        case ExitKind::InvalidGuestState: return "invalid-state";
        case ExitKind::PhysicalInterrupt: return "interrupt";
        case ExitKind::InterruptWindow: return "interrupt-window";
        case ExitKind::Exception: return "exception";
        case ExitKind::VirtualizationInstruction: return "virt-insn";
        case ExitKind::Xsetbv: return "xsetbv";
        case ExitKind::Cr8Access: return "cr8";
        case ExitKind::CacheFlush: return "cache-flush";
        case ExitKind::MonitorMwait: return "monitor-mwait";
        case ExitKind::ControlRegisterWrite: return "cr-write";
        case ExitKind::Rdpmc: return "rdpmc";
        case ExitKind::Rdtsc: return "rdtsc";
        case ExitKind::Rdtscp: return "rdtscp";
        case ExitKind::TaskSwitch: return "task-switch";
        case ExitKind::Unhandled: return "unhandled";
        case ExitKind::Count: break;
    }
    return "?";
}
