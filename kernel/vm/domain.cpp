#include "kernel/vm/domain.hpp"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel/log.hpp"
#include "kernel/virtualization_support.hpp"
#include "kernel/vm/devices/test_exit_port.hpp"
#include "kernel/vm/devices/test_mmio_device.hpp"
#include "kernel/vm/devices/virtual_uart.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/vm/pc_platform.hpp"
#include "kernel/x86/hardware_cpu.hpp"

namespace {

constexpr u32 kMaxDomains = 64;
Domain* g_domains[kMaxDomains];
u32 g_domain_count = 0;
SpinLock g_domains_lock;
HardwareCpu g_host_cpu;

// The devices every domain gets. Owned by the domain's slot.
struct DomainDevices {
    VirtualUart com1;
    TestExitPort exit_port;
    TestMmioDevice test_mmio;
    explicit DomainDevices(Domain& d) : com1(d), exit_port(d) {}
};
DomainDevices* g_devices[kMaxDomains];

void flush_console_line(Domain& d) {
    if (d.console_length == 0) return;
    console_line("[%s] %.*s", d.name, int(d.console_length), d.console_line);
    d.console_length = 0;
}

void end_domain(Domain& d, DomainState how) {
    LockGuard<SpinLock> guard(d.lock);
    if (d.ended()) return;
    d.state = how;
    flush_console_line(d);
}

}  // namespace

DomainState domain_current_state(const Domain& d) {
    if (d.state != DomainState::Running) return d.state;
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
    }
    return "?";
}

bool Domain::note_unknown_msr(u32 index) {
    for (usize i = 0; i < reported_msr_count; ++i)
        if (reported_msrs[i] == index) return false;
    if (reported_msr_count < sizeof(reported_msrs) / sizeof(reported_msrs[0]))
        reported_msrs[reported_msr_count++] = index;
    return true;
}

Domain* domain_create(const DomainConfig& config, const char** error) {
    if (config.vcpus == 0 || config.vcpus > Domain::kMaxVcpus) {
        *error = "vcpus must be between 1 and 8";
        return nullptr;
    }
    IrqLockGuard guard(g_domains_lock);
    if (g_domain_count == kMaxDomains) {
        *error = "too many domains (64)";
        return nullptr;
    }
    auto* d = new Domain;
    d->id = g_domain_count + 1;  // 0 is reserved for the service domain
    memcpy(d->name, config.name, sizeof(d->name));
    d->name[sizeof(d->name) - 1] = 0;
    const NestedPagingFormat format = detect_virtualization(g_host_cpu).vendor == VirtualizationVendor::IntelVmx
                                          ? NestedPagingFormat::IntelEpt
                                          : NestedPagingFormat::AmdNpt;
    if (!d->memory.create(config.memory_bytes, format, error)) {
        delete d;
        return nullptr;
    }
    d->vcpu_count = config.vcpus;
    for (u32 i = 0; i < config.vcpus; ++i) {
        d->vcpus[i].domain = d;
        d->vcpus[i].index = i;
        d->vcpus[i].state = VcpuState::Stopped;
    }
    d->cpuid.init(g_host_cpu, config.vcpus, fpu_guest_xcr0_supported());
    auto* devices = new DomainDevices(*d);
    // The test exit port is at 0xf4, where a PC has nothing (QEMU's isa-debug-exit sits
    // there too): every domain has it, so test kernels end the same way on any platform.
    d->io.claim(TestExitPort::kPort, TestExitPort::kPort + 3, &devices->exit_port);
    if (config.pc_platform) {
        if (!pc_platform_attach(*d, error)) {
            d->memory.destroy();
            delete devices;
            delete d;
            return nullptr;
        }
        d->cpuid.set_local_apic(true);
    } else {
        d->io.claim(VirtualUart::kCom1, VirtualUart::kCom1 + 7, &devices->com1);
        // Reachable only where the domain has no RAM (a domain of 4 GiB or more has RAM there).
        if (d->memory.size() <= TestMmioDevice::kBase)
            d->mmio.claim(TestMmioDevice::kBase, TestMmioDevice::kSize, &devices->test_mmio);
    }
    g_devices[g_domain_count] = devices;
    g_domains[g_domain_count++] = d;
    return d;
}

void domain_shutdown(Domain& d, i64 exit_code) {
    d.exit_code = exit_code;
    end_domain(d, DomainState::Shutdown);
    log_info("domain %u (%s): shut down with exit code %lld", d.id, d.name, (long long)exit_code);
}

void domain_crash(Domain& d, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(d.end_reason, sizeof(d.end_reason), fmt, args);
    va_end(args);
    end_domain(d, DomainState::Crashed);
    log_error("domain %u (%s) crashed: %s", d.id, d.name, d.end_reason);
}

void domain_vcpu_stopped(Domain& d) {
    if (__atomic_sub_fetch(&d.live_vcpus, 1, __ATOMIC_ACQ_REL) != 0) return;
    // The last vCPU is off every CPU: nothing uses the memory or the VMCBs any more.
    for (u32 i = 0; i < d.vcpu_count; ++i) {
        delete d.vcpus[i].backend;
        d.vcpus[i].backend = nullptr;
        fpu_release_vcpu(d.vcpus[i]);
    }
    if (d.platform) pc_platform_destroy(d);
    const u64 bytes = d.memory.size();
    d.memory.destroy();
    log_info("domain %u (%s): %llu MiB of memory returned", d.id, d.name, (unsigned long long)(bytes / MiB));
}

void domain_console_write(Domain& d, const char* text, usize length) {
    LockGuard<SpinLock> guard(d.lock);
    for (usize i = 0; i < length; ++i) {
        const char c = text[i];
        if (c == '\n') {
            flush_console_line(d);
            continue;
        }
        if (c == '\r') continue;
        if (d.console_length == sizeof(d.console_line)) flush_console_line(d);  // a long line, in pieces
        d.console_line[d.console_length++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
    }
}

bool domain_console_input(Domain& d, char key) {
    LockGuard<SpinLock> guard(d.input_lock);
    if (d.input_head - d.input_tail == sizeof(d.input)) return false;
    d.input[d.input_head++ % sizeof(d.input)] = key;
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

Domain* domain_at(u32 index) { return index < g_domain_count ? g_domains[index] : nullptr; }

u32 domain_count() { return g_domain_count; }

u32 domains_alive() {
    u32 alive = 0;
    for (u32 i = 0; i < g_domain_count; ++i)
        if (!g_domains[i]->ended() || g_domains[i]->live_vcpus) ++alive;
    return alive;
}

u32 domains_running() {
    u32 running = 0;
    for (u32 i = 0; i < g_domain_count; ++i)
        if (!g_domains[i]->ended()) ++running;
    return running;
}

bool all_domains_exited_cleanly() {
    for (u32 i = 0; i < g_domain_count; ++i)
        if (g_domains[i]->state != DomainState::Shutdown || g_domains[i]->exit_code != 0) return false;
    return true;
}

void domain_print_exit_counters() {
    console_line("exit counters (debug key 'e'):");
    for (u32 i = 0; i < g_domain_count; ++i) {
        const Domain& d = *g_domains[i];
        for (u32 v = 0; v < d.vcpu_count; ++v) {
            char line[512];
            int n =
                snprintf(line, sizeof(line), "  %s (id %u) vcpu%u [%s]:", d.name, d.id, v, domain_state_name(d.state));
            for (u8 k = 0; k < u8(ExitKind::Count) && n > 0 && usize(n) < sizeof(line); ++k) {
                if (d.vcpus[v].exits[k] == 0) continue;
                n += snprintf(line + n, sizeof(line) - usize(n), " %s=%llu", exit_kind_name(static_cast<ExitKind>(k)),
                              (unsigned long long)d.vcpus[v].exits[k]);
            }
            console_line("%s", line);
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
        case ExitKind::Unhandled: return "unhandled";
        case ExitKind::Count: break;
    }
    return "?";
}
