#include "kernel/control/control_hypercalls.hpp"

#include <string.h>

#include "kernel/alloc.hpp"
#include "kernel/control/host_info.hpp"
#include "kernel/control/hypercall_table.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_balloon.hpp"
#include "kernel/domain/domain_events.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/domain/foreign_mappings.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/percpu.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/time.hpp"
#include "kernel/vcpu/vcpu_state_codec.hpp"
#include "kernel/vm/domain_config.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/kernel_heap.hpp"

namespace {

using namespace hypercall;

constexpr usize kCopyChunk = 4096;  // per step of a memory copy: a page

bool read_caller(Vcpu& caller, u64 linear, void* dst, usize len) {
    WalkFault fault;
    return read_guest_linear(caller, linear, dst, len, fault);
}

bool write_caller(Vcpu& caller, u64 linear, const void* src, usize len) {
    WalkFault fault;
    return write_guest_linear(caller, linear, src, len, fault);
}

i64 create(Vcpu& caller, u64 args_address) {
    DomainCreateArgs args;
    if (!read_caller(caller, args_address, &args, sizeof(args))) return kErrorFault;
    usize name_length = 0;
    while (name_length < sizeof(args.name) && args.name[name_length]) ++name_length;
    if (name_length == sizeof(args.name) || !valid_domain_name(args.name, name_length)) return kErrorInvalid;
    if (args.memory_bytes < kMinDomainMemory || args.memory_bytes > kMaxDomainMemory) return kErrorInvalid;
    if (args.vcpus < 1 || args.vcpus > Domain::kMaxVcpus) return kErrorInvalid;
    if (args.flags & ~u32(kCreatePcPlatform | kCreateMigratableCpuid | kCreateCpuidLimit)) return kErrorInvalid;
    if ((args.flags & kCreateCpuidLimit) && args.cpuid_limit.reserved != 0) return kErrorInvalid;
    const bool pc = args.flags & kCreatePcPlatform;
    DomainConfig config{};
    memcpy(config.name, args.name, name_length);
    config.memory_bytes = args.memory_bytes;
    config.vcpus = args.vcpus;
    config.pc_platform = pc;
    config.migratable_cpuid = (args.flags & kCreateMigratableCpuid) != 0;
    config.cpuid_limited = (args.flags & kCreateCpuidLimit) != 0;
    config.cpuid_limit = args.cpuid_limit;
    config.privileged = false;
    config.release_when_ended = false;  // its creator destroys it
    const char* error = nullptr;
    // Zeroing a large domain's RAM takes long: this CPU takes its interrupts (a kick, its
    // timer) meanwhile instead of holding them off for the whole allocation.
    if (domain_name_taken(config.name)) return kErrorExists;
    x86::sti();
    Domain* d = domain_create(config, &error);
    x86::cli();
    if (!d) {
        log_warn("%s: domain_create '%s' refused: %s", caller.domain->name, config.name, error);
        return kErrorNoMemory;
    }
    // vCPU 0 waits in flat 32-bit protected mode at 0 until its creator sets its state.
    const GuestEntryState entry{GuestCpuMode::Protected32, 0, 0, 0, 0, 0};
    if (!scheduler_add_domain(*d, entry, &error)) {
        log_warn("%s: domain_create '%s' refused: %s", caller.domain->name, config.name, error);
        domain_destroy(*d);
        return kErrorNoMemory;
    }
    log_debug("domain %u (%s): created by %s", d->id, d->name, caller.domain->name);
    return i64(d->id);
}

u32 status_state(const Domain& d) {
    switch (domain_current_state(d)) {
        case DomainState::Running: return kStateRunning;
        case DomainState::Blocked: return kStateBlocked;
        case DomainState::Paused: return kStatePaused;
        case DomainState::Shutdown: return kStateShutdown;
        case DomainState::Crashed: return kStateCrashed;
        case DomainState::Dying: return kStateDying;
    }
    return kStateDying;
}

// A vCPU's time on physical CPUs (its TSC ticks; remainder < hz keeps the product
// within 64 bits).
u64 cpu_time_ns(const Vcpu& v) {
    const u64 ticks = __atomic_load_n(&v.run_tsc, __ATOMIC_RELAXED);
    const u64 hz = tsc_hz() ? tsc_hz() : 1;
    return ticks / hz * 1'000'000'000 + ticks % hz * 1'000'000'000 / hz;
}

i64 get_status(Vcpu& caller, Domain& d, u64 address) {
    DomainStatus status{};
    status.id = d.id;
    status.state = status_state(d);
    status.exit_code = d.exit_code;
    status.memory_bytes = d.resources_released ? 0 : d.memory.size();
    status.vcpus = d.vcpu_count;
    status.privileged = d.privileged;
    memcpy(status.name, d.name, sizeof(status.name));
    status.quota_bytes = d.quota.limit();
    status.charged_bytes = d.resources_released ? 0 : d.quota.used();
    for (u32 i = 0; i < d.vcpu_count; ++i) status.cpu_time_ns += cpu_time_ns(d.vcpus[i]);
    switch (d.ended() ? d.end_reason_kind : EndReason::None) {
        case EndReason::None: status.shutdown_reason = kReasonNone; break;
        case EndReason::PowerOff: status.shutdown_reason = kReasonPowerOff; break;
        case EndReason::Reboot: status.shutdown_reason = kReasonReboot; break;
        case EndReason::Crash: status.shutdown_reason = kReasonCrash; break;
    }
    status.uptime_us = uptime_us() - __atomic_load_n(&d.created_us, __ATOMIC_RELAXED);
    return write_caller(caller, address, &status, sizeof(status)) ? 0 : kErrorFault;
}

// Copies between the caller's linear memory and the target's guest-physical memory a
// page at a time, each under the target's lock, so a destroy waits for the page in
// flight and none starts after the memory went back. The caller's paging state is read
// once (a VMCB walk or many VMREADs): a migration copies a domain's RAM this way, 1 MiB
// a call.
i64 copy_memory(Vcpu& caller, Domain& d, u64 gpa, u64 linear, u64 length, bool to_target) {
    if (length > kMemoryCopyMax) return kErrorTooBig;
    if (!d.memory.contains(gpa, length)) return kErrorInvalid;
    auto* chunk = new (kNoThrow) u8[kCopyChunk];
    if (!chunk) return kErrorNoMemory;
    const GuestPagingState paging = guest_paging_state(caller);
    GuestPhysicalMemory& caller_memory = caller.domain->memory;
    i64 result = 0;
    for (u64 done = 0; done < length && result == 0;) {
        // Up to the next page boundary of the target's memory.
        const u64 room = kCopyChunk - ((gpa + done) & (kCopyChunk - 1));
        const usize n = usize(length - done < room ? length - done : room);
        WalkFault fault;
        if (to_target && !read_guest_virtual(caller_memory, paging, linear + done, chunk, n, GuestAccess{}, fault)) {
            result = kErrorFault;
            break;
        }
        {
            LockGuard<SpinLock> guard(d.lock);
            if (d.resources_released || d.lifecycle.being_destroyed())
                result = kErrorWrongState;
            else if (!(to_target ? d.memory.write(gpa + done, chunk, n) : d.memory.read(gpa + done, chunk, n)))
                result = kErrorInvalid;
        }
        GuestAccess write;
        write.write = true;
        if (result == 0 && !to_target &&
            !write_guest_virtual(caller_memory, paging, linear + done, chunk, n, write, fault))
            result = kErrorFault;
        done += n;
    }
    delete[] chunk;
    return result;
}

// The state of a vCPU is taken or given only while its domain cannot run.
bool state_accessible(const Domain& d) { return hypercall_domain_stopped(d.lifecycle.state()); }

struct StateCall {
    VcpuArchState* state;
    i64 result;
    u32 parts = vcpu_state::kAll;  // set_state: the parts the encoding carries
};

// Whether the vCPU's state may be touched now (under its domain's lock): the domain may
// have been unpaused or destroyed since the call was posted.
bool still_accessible(const Vcpu& v, StateCall& call) {
    if (!v.domain->resources_released && state_accessible(*v.domain)) return true;
    call.result = kErrorWrongState;
    return false;
}

// On the vCPU's CPU (scheduler_call_on_vcpu_cpu): its FPU registers are in its save area.
void take_state(Vcpu& v, void* arg) {
    StateCall& call = *static_cast<StateCall*>(arg);
    LockGuard<SpinLock> guard(v.domain->lock);
    if (!still_accessible(v, call)) return;
    v.backend->get_state(v, vcpu_state::kAll & ~vcpu_state::kFpu, *call.state);
    fpu_get_state(v, call.state->fpu);
    call.state->events.activity = !v.started                      ? vcpu_state::ActivityState::WaitForSipi
                                  : v.state == VcpuState::Blocked ? vcpu_state::ActivityState::Halted
                                                                  : vcpu_state::ActivityState::Active;
    call.result = 0;
}

void give_state(Vcpu& v, void* arg) {
    StateCall& call = *static_cast<StateCall*>(arg);
    LockGuard<SpinLock> guard(v.domain->lock);
    if (!still_accessible(v, call)) return;
    if ((call.parts & vcpu_state::kFpu) && !fpu_set_state(v, call.state->fpu)) {
        call.result = kErrorBadState;
        return;
    }
    v.backend->set_state(v, call.parts & ~vcpu_state::kFpu, *call.state);
    call.result = 0;
    if (!(call.parts & vcpu_state::kEvents)) return;  // the activity is an event part
    switch (call.state->events.activity) {
        case vcpu_state::ActivityState::WaitForSipi:
            v.started = false;
            vcpu_set_state(v, VcpuState::Stopped);
            break;
        case vcpu_state::ActivityState::Halted:
            v.started = true;
            vcpu_set_state(v, VcpuState::Blocked);
            break;
        default:
            v.started = true;
            vcpu_set_state(v, VcpuState::Runnable);
            break;
    }
}

i64 get_vcpu_state(Vcpu& caller, Domain& d, u64 index, u64 address, u64 size) {
    if (index >= d.vcpu_count) return kErrorInvalid;
    if (size < vcpu_state_encoded_size()) return kErrorTooBig;
    if (!state_accessible(d)) return kErrorWrongState;
    auto* state = new (kNoThrow) VcpuArchState{};
    auto* buffer = new (kNoThrow) u8[vcpu_state_encoded_size()];
    i64 result = kErrorNoMemory;
    if (state && buffer) {
        StateCall call{state, kErrorWrongState};
        scheduler_call_on_vcpu_cpu(d.vcpus[index], take_state, &call);
        result = call.result;
        if (result == 0) {
            const usize bytes = vcpu_state_encode(*state, buffer, vcpu_state_encoded_size());
            result = write_caller(caller, address, buffer, bytes) ? i64(bytes) : kErrorFault;
        }
    }
    delete state;
    delete[] buffer;
    return result;
}

i64 set_vcpu_state(Vcpu& caller, Domain& d, u64 index, u64 address, u64 length) {
    if (index >= d.vcpu_count) return kErrorInvalid;
    if (length != vcpu_state_encoded_size()) return kErrorInvalid;
    if (!state_accessible(d)) return kErrorWrongState;
    auto* state = new (kNoThrow) VcpuArchState{};
    auto* buffer = new (kNoThrow) u8[vcpu_state_encoded_size()];
    i64 result = kErrorNoMemory;
    u32 parts = 0;
    if (state && buffer) {
        if (!read_caller(caller, address, buffer, usize(length))) {
            result = kErrorFault;
        } else if (const VcpuStateDecodeError e = vcpu_state_decode(buffer, usize(length), *state, &parts);
                   e != VcpuStateDecodeError::None) {
            log_warn("%s: vcpu_set_state for domain %u: %s", caller.domain->name, d.id,
                     vcpu_state_decode_error_name(e));
            result = kErrorBadState;
        } else {
            StateCall call{state, kErrorWrongState, parts};
            scheduler_call_on_vcpu_cpu(d.vcpus[index], give_state, &call);
            result = call.result;
        }
    }
    delete state;
    delete[] buffer;
    return result;
}

// The platform's device state (docs/hypercalls.md, "Platform state"), under the rule of
// a vCPU's: only while the domain cannot run, checked again once the state is taken (the
// domain may have been unpaused meanwhile). The platform takes its own lock; the domain's
// is not held around it (the virtual PC takes that one under its own: request_reset), so
// DomainPlatformUse keeps the platform from a destroy meanwhile.
i64 get_platform_state(Vcpu& caller, Domain& d, u64 address, u64 size) {
    if (!state_accessible(d)) return kErrorWrongState;
    const DomainPlatformUse use(d);
    if (!use.platform()) return kErrorWrongState;
    auto* buffer = new (kNoThrow) u8[kPlatformStateMax];
    if (!buffer) return kErrorNoMemory;
    const usize bytes = use.platform()->save_state(buffer, kPlatformStateMax);
    i64 result;
    if (bytes == 0)
        result = kErrorNotSupported;
    else if (bytes > size || bytes > kPlatformStateMax)
        result = kErrorTooBig;
    else if (!state_accessible(d))
        result = kErrorWrongState;
    else
        result = write_caller(caller, address, buffer, bytes) ? i64(bytes) : kErrorFault;
    delete[] buffer;
    return result;
}

// A blob is read whole, then given to the platform, which checks all of it before it
// changes anything (kErrorInvalid for any fault in it).
i64 set_platform_state(Vcpu& caller, Domain& d, u64 address, u64 length) {
    if (length > kPlatformStateMax) return kErrorTooBig;
    if (!state_accessible(d)) return kErrorWrongState;
    const DomainPlatformUse use(d);
    if (!use.platform()) return kErrorWrongState;
    auto* buffer = new (kNoThrow) u8[kPlatformStateMax];
    if (!buffer) return kErrorNoMemory;
    i64 result;
    if (length && !read_caller(caller, address, buffer, usize(length)))
        result = kErrorFault;
    else if (!state_accessible(d))
        result = kErrorWrongState;
    else
        result = use.platform()->restore_state(buffer, usize(length));
    delete[] buffer;
    return result;
}

// What CPUID tells the domain (xm save and restore compare two domains' features): vCPU 0's
// answer as at reset (CpuidPolicy::at_reset), so it does not depend on what the guest has
// done. The policy does not change after creation and lives as long as the domain.
i64 domain_cpuid(Vcpu& caller, const Domain& d, u64 leaf, u64 subleaf, u64 address) {
    if (leaf > 0xffffffffull || subleaf > 0xffffffffull) return kErrorInvalid;
    const CpuidResult r = d.cpuid.at_reset(u32(leaf), u32(subleaf));
    const u32 registers[4] = {r.eax, r.ebx, r.ecx, r.edx};
    return write_caller(caller, address, registers, sizeof(registers)) ? 0 : kErrorFault;
}

// Every domain's id (xm list): how many there are, the first `capacity` of them written.
i64 list(Vcpu& caller, u64 address, u64 capacity) {
    if (capacity > kMaxDomainListCapacity) return kErrorTooBig;
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    u32 ids[kMaxDomains];
    for (u32 i = 0; i < n; ++i) ids[i] = all[i]->id;
    const usize written = n < capacity ? n : usize(capacity);
    if (written && !write_caller(caller, address, ids, written * sizeof(u32))) return kErrorFault;
    return i64(n);
}

i64 host_info(Vcpu& caller, u64 address) {
    HostInfo info;
    host_info_fill(info);
    return write_caller(caller, address, &info, sizeof(info)) ? 0 : kErrorFault;
}

// The graceful request (xm shutdown): what the guest sees of it is its platform's (the
// ACPI power button of the virtual PC). Under the domain's lock, the platform cannot go
// away meanwhile (domain_release_resources marks the release under it first).
i64 request_shutdown(Domain& d) {
    LockGuard<SpinLock> guard(d.lock);
    if (d.resources_released || d.ended() || !d.platform) return kErrorWrongState;
    return d.platform->request_shutdown() ? 0 : kErrorNotSupported;
}

i64 stats(Vcpu& caller, u64 address) {
    HypervisorStats s{};
    s.free_memory_bytes = memory_stats().free_bytes;
    s.heap_bytes_in_use = kernel_heap_bytes_in_use();
    s.domains = domain_count();
    s.free_domain_ids = domain_free_ids();
    s.free_vpids = vcpu_free_hardware_tags();
    s.cpus = percpu_online_count();
    return write_caller(caller, address, &s, sizeof(s)) ? 0 : kErrorFault;
}

i64 get_vcpu_info(Vcpu& caller, Domain& d, u64 index, u64 address) {
    if (index >= d.vcpu_count) return kErrorInvalid;
    const Vcpu& v = d.vcpus[index];
    VcpuInfo info{};
    info.cpu = __atomic_load_n(&v.cpu, __ATOMIC_RELAXED);
    info.state = v.state == VcpuState::Runnable  ? kVcpuRunnable
                 : v.state == VcpuState::Blocked ? kVcpuBlocked
                                                 : kVcpuStopped;
    info.migrations = v.migrations;
    for (u64 count : v.exits) info.exits += count;
    info.cpu_time_ns = cpu_time_ns(v);
    info.affinity = __atomic_load_n(&v.sched.hard_affinity, __ATOMIC_RELAXED);
    info.soft_affinity = __atomic_load_n(&v.sched.soft_affinity, __ATOMIC_RELAXED);
    return write_caller(caller, address, &info, sizeof(info)) ? 0 : kErrorFault;
}

// A ring read (console_read, log_read): the header, then what `read` copied, through a
// heap buffer, so that the ring's lock is never held while the caller's memory is written.
template <typename Read>
i64 ring_read(Vcpu& caller, u64 address, u64 length, Read read) {
    if (length < sizeof(RingReadHeader) || length > kRingReadMax) return kErrorTooBig;
    const usize room = usize(length - sizeof(RingReadHeader));
    auto* buffer = new (kNoThrow) char[usize(length)];
    if (!buffer) return kErrorNoMemory;
    RingReadHeader header{};
    const usize n = read(buffer + sizeof(header), room, header);
    memcpy(buffer, &header, sizeof(header));
    const bool ok = write_caller(caller, address, buffer, sizeof(header) + n);
    delete[] buffer;
    return ok ? i64(n) : kErrorFault;
}

i64 console_read(Vcpu& caller, Domain& d, u64 position, u64 address, u64 length) {
    return ring_read(caller, address, length, [&](char* out, usize room, RingReadHeader& header) {
        LockGuard<SpinLock> guard(d.lock);
        const usize n = d.console_ring.read(position, out, room, header.first);
        header.end = d.console_ring.end();
        return n;
    });
}

i64 log_read(Vcpu& caller, u64 position, u64 address, u64 length, u64 flags) {
    if (flags & ~u64(kLogReadClear)) return kErrorInvalid;
    return ring_read(caller, address, length, [&](char* out, usize room, RingReadHeader& header) {
        return log_ring_read(position, out, room, header.first, header.end, flags & kLogReadClear);
    });
}

// Input for the domain's console (its COM1), as keys typed on Vireo's console are: what
// its queue takes now, which may be less than all (the caller sends the rest later).
i64 console_input(Vcpu& caller, Domain& d, u64 address, u64 length) {
    if (length > kConsoleWriteMax) return kErrorTooBig;
    {
        LockGuard<SpinLock> guard(d.lock);
        if (d.resources_released || d.ended() || !d.platform) return kErrorWrongState;
        if (!d.platform->takes_console_input()) return kErrorNotSupported;
    }
    char text[kConsoleWriteMax];
    if (length && !read_caller(caller, address, text, usize(length))) return kErrorFault;
    usize taken = 0;
    while (taken < length && domain_console_input(d, text[taken])) ++taken;
    return i64(taken);
}

i64 event_status(Vcpu& caller, u64 address) {
    EventStatus status{domain_events::state_generation(), domain_events::console_generation()};
    return write_caller(caller, address, &status, sizeof(status)) ? 0 : kErrorFault;
}

i64 rename(Vcpu& caller, Domain& d, u64 address) {
    char name[Domain::kNameLength];
    if (!read_caller(caller, address, name, sizeof(name))) return kErrorFault;
    usize length = 0;
    while (length < sizeof(name) && name[length]) ++length;
    if (length == sizeof(name) || !valid_domain_name(name, length)) return kErrorInvalid;
    if (d.ended() || d.lifecycle.being_destroyed()) return kErrorWrongState;
    return domain_rename(d, name);
}

i64 set_affinity(Domain& d, u64 index, u64 mask, u64 kind) {
    if (index >= d.vcpu_count) return kErrorInvalid;
    switch (kind) {
        case kAffinityHard: return scheduler_set_affinity(d.vcpus[index], mask) ? 0 : kErrorInvalid;
        case kAffinitySoft: return scheduler_set_soft_affinity(d.vcpus[index], mask) ? 0 : kErrorInvalid;
        default: return kErrorInvalid;
    }
}

static_assert(kSchedMinWeight == kCreditMinWeight && kSchedMaxWeight == kCreditMaxWeight &&
              kSchedDefaultWeight == kCreditDefaultWeight);

// The domain's weight and cap (xm sched-credit). A set checks both before it changes
// either, so a refused call leaves the domain as it was.
i64 sched_credit(Vcpu& caller, Domain& d, u64 op, u64 address) {
    SchedCredit settings{};
    switch (op) {
        case kSchedCreditGet:
            settings.weight = __atomic_load_n(&d.sched.weight, __ATOMIC_RELAXED);
            settings.cap_percent = __atomic_load_n(&d.sched.cap_percent, __ATOMIC_RELAXED);
            return write_caller(caller, address, &settings, sizeof(settings)) ? 0 : kErrorFault;
        case kSchedCreditSet: {
            if (!read_caller(caller, address, &settings, sizeof(settings))) return kErrorFault;
            if (!credit_share_valid(settings.weight, settings.cap_percent, d.vcpu_count)) return kErrorInvalid;
            credit_set_weight(d.sched, settings.weight);
            credit_set_cap(d.sched, settings.cap_percent, d.vcpu_count);
            for (u32 i = 0; i < d.vcpu_count; ++i) scheduler_reconsider_vcpu(d.vcpus[i]);
            return 0;
        }
        default: return kErrorInvalid;
    }
}

// The dirty log (docs/hypercalls.md): the hypervisor keeps the bitmap; take hands it over.
// Taking write access away is followed by a shootdown, outside the domain's lock (a CPU
// handling an exit of this domain may be waiting for that lock).
i64 dirty_log(Vcpu& caller, Domain& d, u64 op, u64 address, u64 pages) {
    const usize words = usize((d.memory.pages() + 63) / 64);
    switch (op) {
        case kDirtyLogEnable: {
            if (!d.quota.charge(words * sizeof(u64))) return kErrorNoMemory;
            auto* bitmap = new (kNoThrow) u64[words];
            {
                // Pages others map may be written past the log: foreign_mappings.hpp counts
                // them as written when they are unmapped, and at the final take.
                LockGuard<SpinLock> guard(d.lock);
                i64 result = 0;
                if (bitmap && (d.resources_released || d.lifecycle.being_destroyed() || d.dirty_bitmap))
                    result = kErrorWrongState;
                else if (!bitmap || !d.memory.dirty_log_enable(bitmap))
                    result = kErrorNoMemory;  // no bitmap, or no table memory (or quota) to split a page
                if (result) {
                    delete[] bitmap;
                    d.quota.uncharge(words * sizeof(u64));
                    return result;
                }
                d.dirty_bitmap = bitmap;
            }
            domain_tlb_shootdown(d);
            return 0;
        }
        case kDirtyLogTake:
        case kDirtyLogTakeFinal: {
            if (pages != d.memory.pages()) return kErrorInvalid;
            auto* out = new (kNoThrow) u64[words]{};
            if (!out) return kErrorNoMemory;
            u64 count = 0;
            auto take = [&] {
                LockGuard<SpinLock> guard(d.lock);
                if (d.resources_released || !d.dirty_bitmap) return false;
                if (op == kDirtyLogTakeFinal) foreign_mark_mapped_written_locked(d);
                count = d.memory.dirty_log_take(out);
                return true;
            };
            // The final take counts the pages others map: under the mappings' lock, taken
            // before the domain's (foreign_mappings.cpp's order). A plain take leaves every
            // other domain's mappings alone.
            bool taken;
            if (op == kDirtyLogTakeFinal) {
                LockGuard<SpinLock> foreign_guard(foreign_mappings_lock());
                taken = take();
            } else {
                taken = take();
            }
            if (!taken) {
                delete[] out;
                return kErrorWrongState;
            }
            domain_tlb_shootdown(d);  // before the caller reads the pages it names
            const bool ok = write_caller(caller, address, out, usize((pages + 7) / 8));
            delete[] out;
            return ok ? i64(count) : kErrorFault;
        }
        case kDirtyLogDisable: {
            {
                LockGuard<SpinLock> guard(d.lock);
                if (d.resources_released || !d.dirty_bitmap) return kErrorWrongState;
                d.memory.dirty_log_disable();
                delete[] d.dirty_bitmap;
                d.dirty_bitmap = nullptr;
                d.quota.uncharge(words * sizeof(u64));
            }
            // The pages its write faults split are merged again: once no CPU can walk the
            // tables that freed, they go back (and off the domain's quota).
            domain_tlb_shootdown(d);
            LockGuard<SpinLock> guard(d.lock);
            if (!d.resources_released) d.memory.free_retired_tables();
            return 0;
        }
        default: return kErrorInvalid;
    }
}

// The caller's list of its own guest frames, then the mapping (foreign_mappings.hpp).
i64 map_foreign(Vcpu& caller, Domain& d, u64 first_gfn, u64 count, u64 address) {
    if (count == 0 || count > kForeignMapMaxPages) return count == 0 ? kErrorInvalid : kErrorTooBig;
    auto* gfns = new (kNoThrow) u64[count];
    if (!gfns) return kErrorNoMemory;
    i64 result = kErrorFault;
    if (read_caller(caller, address, gfns, usize(count) * sizeof(u64)))
        result = foreign_map(*caller.domain, d, first_gfn, gfns, u32(count));
    delete[] gfns;
    return result;
}

// The guest frame numbers from the caller, then the balloon (domain_balloon.hpp).
i64 balloon(Vcpu& caller, Domain& d, u64 op, u64 address, u64 count) {
    if (count == 0 || count > kBalloonMaxPages) return count == 0 ? kErrorInvalid : kErrorTooBig;
    auto* gfns = new (kNoThrow) u64[count];
    if (!gfns) return kErrorNoMemory;
    i64 result = kErrorFault;
    if (read_caller(caller, address, gfns, usize(count) * sizeof(u64)))
        result = domain_balloon(d, op, gfns, u32(count));
    delete[] gfns;
    return result;
}

}  // namespace

i64 control_hypercall(Vcpu& caller, u64 number, const u64 (&args)[5]) {
    switch (number) {
        case kDomainCreate: return create(caller, args[0]);
        case kHypervisorStats: return stats(caller, args[0]);
        case kDomainList: return list(caller, args[0], args[1]);
        case kHostInfo: return host_info(caller, args[0]);
        case kEventStatus: return event_status(caller, args[0]);
        case kLogRead: return log_read(caller, args[0], args[1], args[2], args[3]);
        case kDomainUnmapForeign: return foreign_unmap(*caller.domain, args[0]);
        case kEventGsi: return caller.domain->hardware_domain ? i64(kDom0EventGsi) : kErrorNotSupported;
        default: break;
    }
    DomainRef target = domain_lookup(u32(args[0]));
    if (!target || args[0] > 0xffffffffull) return kErrorNoSuchDomain;
    switch (number) {
        case kDomainDestroy: return domain_destroy(*target);
        case kDomainPause: return domain_pause(*target);
        case kDomainUnpause: return domain_unpause(*target);
        case kDomainGetStatus: return get_status(caller, *target, args[1]);
        case kDomainMemoryWrite: return copy_memory(caller, *target, args[1], args[2], args[3], true);
        case kDomainMemoryRead: return copy_memory(caller, *target, args[1], args[2], args[3], false);
        case kVcpuGetState: return get_vcpu_state(caller, *target, args[1], args[2], args[3]);
        case kVcpuSetState: return set_vcpu_state(caller, *target, args[1], args[2], args[3]);
        case kVcpuGetInfo: return get_vcpu_info(caller, *target, args[1], args[2]);
        case kDomainDirtyLog: return dirty_log(caller, *target, args[1], args[2], args[3]);
        case kDomainShutdown: return request_shutdown(*target);
        case kDomainConsoleRead: return console_read(caller, *target, args[1], args[2], args[3]);
        case kDomainConsoleWrite: return console_input(caller, *target, args[1], args[2]);
        case kDomainReset: return domain_reset(*target);
        case kDomainRename: return rename(caller, *target, args[1]);
        case kVcpuSetAffinity: return set_affinity(*target, args[1], args[2], args[3]);
        case kDomainMapForeign: return map_foreign(caller, *target, args[1], args[2], args[3]);
        case kIoreqAttach: return ioreq_attach(*caller.domain, *target, args[1]);
        case kIoreqDetach: return ioreq_detach(*caller.domain, *target);
        case kIoreqMap: return ioreq_map(*caller.domain, *target, args[1], args[2], args[3], args[4]);
        case kIoreqComplete: return ioreq_complete(*caller.domain, *target, args[1]);
        case kDomainBalloon: return balloon(caller, *target, args[1], args[2], args[3]);
        case kDomainMemoryTarget: return domain_memory_target(*target, args[1], args[2]);
        case kDomainSchedCredit: return sched_credit(caller, *target, args[1], args[2]);
        case kDomainPlatformStateGet: return get_platform_state(caller, *target, args[1], args[2]);
        case kDomainPlatformStateSet: return set_platform_state(caller, *target, args[1], args[2]);
        case kDomainCpuid: return domain_cpuid(caller, *target, args[1], args[2], args[3]);
        case kInjectMsi: {
            if (args[2] > 0xffffffffull) return kErrorInvalid;
            // A device model's interrupt may race its domain's destroy (DomainPlatformUse).
            const DomainPlatformUse use(*target);
            if (!use.platform()) return use.going() ? kErrorWrongState : kErrorInvalid;
            return use.platform()->inject_msi(args[1], u32(args[2])) ? 0 : kErrorInvalid;
        }
        default: return kErrorNoSuchCall;
    }
}
