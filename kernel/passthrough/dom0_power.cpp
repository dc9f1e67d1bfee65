#include "kernel/passthrough/dom0_power.hpp"

#include "kernel/passthrough/dma_protection.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/passthrough/pm1_control_policy.hpp"
#include "kernel/percpu.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/power.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/time.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

bool g_requested = false;  // atomic
bool g_noreboot = false;
u16 g_port = 0, g_value = 0;

// The grace period is over: whoever is still running is ended.
void grace_expired(Timer&, u64) {
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    for (u32 i = 0; i < n; ++i)
        if (!all[i]->ended())
            domain_crash(*all[i], "still running %u s after Domain-0 powered the machine off",
                         kDom0PowerOffGraceSeconds);
}

Timer g_grace_timer{grace_expired, nullptr};

}  // namespace

void dom0_request_machine_power_off(Domain& dom0, u16 port, u16 value) {
    if (__atomic_exchange_n(&g_requested, true, __ATOMIC_ACQ_REL)) return;
    g_port = port;
    g_value = value;
    DomainRef all[kMaxDomains];
    const u32 n = domain_table_snapshot(all, kMaxDomains);
    u32 others = 0, asked = 0;
    for (u32 i = 0; i < n; ++i) {
        Domain& d = *all[i];
        if (&d == &dom0 || d.ended()) continue;
        ++others;
        // Under the domain's lock, its platform cannot go away (domain_release_resources
        // marks the release under it first); request_shutdown only arms a timer.
        LockGuard<SpinLock> guard(d.lock);
        if (!d.resources_released && d.platform && d.platform->request_shutdown()) ++asked;
    }
    console_line("vireo: Domain-0 powers the machine off: %u other domain%s, %u asked to shut down, %u s to do so",
                 others, others == 1 ? "" : "s", asked, kDom0PowerOffGraceSeconds);
    if (others) timer_arm(g_grace_timer, this_cpu_index(), uptime_us() + u64(kDom0PowerOffGraceSeconds) * 1000000);
    domain_shutdown(dom0, 0);
}

void dom0_power_off_if_requested() {
    if (!__atomic_load_n(&g_requested, __ATOMIC_ACQUIRE)) return;
    timer_cancel(g_grace_timer);
    dma_protection_power_off_report();
    console_line("vireo: powering the machine off, as Domain-0 asked");
    x86::cli();
    passthrough_clear_waking_vectors();
    x86::outw(g_port, g_value);
    // A machine with two PM1 blocks sleeps when both are written (ACPI 6.5 4.8.3.2.1:
    // OSPM writes SLP_TYPa and SLP_TYPb with SLP_EN, PM1a first, as ACPICA does). Only
    // dom0's first SLP_EN write was kept, so Vireo writes the other block with \_S5's value.
    const HostAcpiPorts ports = passthrough_acpi_ports();
    if (ports.s5.found && ports.pm1a_control && ports.pm1b_control) {
        const bool wrote_a = g_port == ports.pm1a_control;
        const u16 other = wrote_a ? ports.pm1b_control : ports.pm1a_control;
        x86::outw(other, pm1_sleep_value(x86::inw(other), wrote_a ? ports.s5.slp_typ_b : ports.s5.slp_typ_a));
    }
    // The machine goes off at its own pace (QEMU's main loop takes the request after this
    // CPU goes on): this CPU waits for it, and never reaches the debug-exit port, whose
    // status would win the race.
    halt_this_cpu();
}

void dom0_set_noreboot(bool noreboot) { g_noreboot = noreboot; }

void dom0_crashed(Domain& dom0) {
    console_line("vireo: Domain-0 crashed: %s; %s", dom0.end_reason[0] ? dom0.end_reason : "no reason given",
                 g_noreboot ? "halting the machine (noreboot)" : "rebooting the machine");
    if (g_noreboot) halt_machine(HaltReason::GuestsFailed);
    reboot_machine();
}

void dom0_reset(Domain& dom0) {
    if (dom0.panic_line[0]) {
        domain_crash(dom0, "%s", dom0.panic_line);  // reports and reboots or halts
        dom0_crashed(dom0);                         // (already ended otherwise)
    }
    console_line("vireo: Domain-0 asked for a reboot; rebooting the machine");
    reboot_machine();
}
