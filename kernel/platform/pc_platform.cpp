// The virtual PC a Linux domain stands on: the device models of kernel/vm/devices (PICs,
// PIT, port 0x61, COM1 with interrupts, ACPI PM block, PCI host bridge, reset control,
// keyboard controller, IOAPIC, one local APIC per vCPU), wired to the domain's port and
// MMIO buses, to its vCPUs' interrupt delivery and to the scheduler's time. All models of
// one domain sit behind one lock.
//
// Device time runs on one timer per domain (kernel/sched/cpu_timers.hpp), re-armed under
// that lock whenever the earliest deadline of the models changes (a guest access, or
// device time advancing). It is armed on the CPU of the vCPU whose local APIC timer is
// due first, else of vCPU 0, which takes the PIC's and most other interrupts, so that
// usually the interrupt is raised where it is taken. A vCPU that moves leaves the timer
// where it is until it is re-armed: its callback works on any CPU, waking a halted vCPU
// or kicking one in the guest on another CPU (scheduler_notify_vcpu).
#include <string.h>

#include "drivers/hardware_port_io.hpp"
#include "kernel/alloc.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/platform/platform.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/dom0_pci.hpp"
#include "kernel/passthrough/dom0_power.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/pm1_control_policy.hpp"
#include "kernel/power.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/sched/cpu_work.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/time.hpp"
#include "kernel/vm/devices/apic/apic_bus.hpp"
#include "kernel/vm/devices/apic/apic_time.hpp"
#include "kernel/vm/devices/apic/kvm_pv_ipi.hpp"
#include "kernel/vm/devices/apic/virtual_ioapic.hpp"
#include "kernel/vm/devices/apic/virtual_lapic.hpp"
#include "kernel/vm/devices/pc/acpi_pm_block.hpp"
#include "kernel/vm/devices/pc/cmos_rtc.hpp"
#include "kernel/vm/devices/pc/i8042_model.hpp"
#include "kernel/vm/devices/pc/kvm_clock.hpp"
#include "kernel/vm/devices/pc/pc_platform_state.hpp"
#include "kernel/vm/devices/pc/pci_host_bridge.hpp"
#include "kernel/vm/devices/pc/pic8259_model.hpp"
#include "kernel/vm/devices/pc/pit8254_model.hpp"
#include "kernel/vm/devices/pc/pv_eoi.hpp"
#include "kernel/vm/devices/pc/reset_control.hpp"
#include "kernel/vm/devices/pc/steal_time.hpp"
#include "kernel/vm/devices/pc/system_control_port_b.hpp"
#include "kernel/vm/devices/pc/uart16550_model.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

// Unix seconds now; 0 (1970) when the machine's clock could not be read.
i64 wall_clock_now() {
    const i64 boot = time_wall_clock_at_boot();
    return boot < 0 ? 0 : boot + i64(uptime_us() / 1000000);
}

}  // namespace

namespace {
template <typename Model>
class LockedPorts;
class LapicMmio;
class IoapicMmio;
class PcMachine;
class PciConfigPorts;

// The device models and their wiring. Everything is private: the domain reaches it
// through PcMachine (the Platform) and the port and MMIO adapters, its friends.
class PcPlatform final : public GuestClock,
                         public InterruptLines,
                         public UartOutput,
                         public PlatformControl,
                         public ApicWakeup,
                         public ExtIntSource,
                         public IoapicPinListener {
    template <typename Model>
    friend class LockedPorts;
    friend class LapicMmio;
    friend class IoapicMmio;
    friend class PcMachine;
    friend class PciConfigPorts;

    explicit PcPlatform(Domain& domain)
        : domain_(domain),
          start_tsc_(x86::rdtsc()),
          tsc_(tsc_hz(), i64(start_tsc_)),
          pit_(*this, *this),
          port61_(pit_),
          kvm_clock_(tsc_hz(), start_tsc_, wall_clock_now()),
          rtc_(*this, *this, wall_clock_now(),
               {guest_ram_below_4g(domain.memory.layout_size()), guest_ram_above_4g(domain.memory.layout_size())}),
          com1_(*this, *this),
          pm_(*this, *this, *this),
          reset_control_(*this),
          pci_(reset_control_),
          kbc_(*this, *this),
          apic_bus_(this),
          ioapic_(apic_bus_, 0x11, kGuestIoApicId, domain.hardware_domain ? kDom0EventGsi + 1 : VirtualIoapic::kPins) {
        if (domain.hardware_domain) {
            ioapic_.set_pin_listener(this);
            host_interrupts_set_target(&domain.vcpus[0]);
        }
    }

    ~PcPlatform() {
        if (domain_.hardware_domain) {
            host_interrupts_set_target(nullptr);
            dom0_pci_destroy(pci_passthrough_);
            for (u8 pin = 0; pin < VirtualIoapic::kPins; ++pin)
                if (forwarded(pin)) host_gsi_program(pin, false, false, true);
        }
        stop_timers();
        for (VirtualLapic* l : lapics_) delete l;
    }

    void stop_timers() {
        timer_shutdown(device_timer_);
        timer_shutdown(input_timer_);
        timer_shutdown(shutdown_timer_);
    }

    // A shutdown request (Platform::request_shutdown, under the domain's lock): the power
    // button is pressed from a timer, under the platform's lock.
    void request_shutdown() { timer_arm(shutdown_timer_, domain_.vcpus[0].cpu, uptime_us()); }
    static void shutdown_timer_fired(Timer& timer, u64) {
        PcPlatform& p = *static_cast<PcPlatform*>(timer.owner);
        if (p.domain_.ended()) return;
        LockGuard<SpinLock> guard(p.lock_);
        p.pm_.press_power_button();
        p.deadlines_changed();
    }

    bool create_lapics() {
        for (u32 i = 0; i < domain_.vcpu_count; ++i) {
            LapicConfig config;
            config.apic_id = i;
            config.bsp = i == 0;
            lapics_[i] = new (kNoThrow) VirtualLapic(config, *this, tsc_);
            if (!lapics_[i] || !apic_bus_.attach(i, *lapics_[i])) return false;
            lapics_[i]->set_eoi_listener(&ioapic_);
            if (i == 0) lapics_[i]->set_extint_source(this);
        }
        return true;
    }

    // GuestClock: device time, from clock_base_ns_ at start_tsc_ on.
    u64 now_ns() const override {
        return clock_base_ns_ + mul_div_floor(x86::rdtsc() - start_tsc_, kNsPerSecond, tsc_hz());
    }

    // --- Save and restore (pc_platform_state.hpp; docs/hypercalls.md "Platform state") --
    PcDevices devices() {
        return {pic_, pit_,    port61_,    rtc_,    com1_,       pm_,     reset_control_,    pci_,
                kbc_, ioapic_, kvm_clock_, pv_eoi_, steal_time_, lapics_, domain_.vcpu_count};
    }

    // The devices' state and the clock they count on: device time (the guest's time
    // since this platform started) and the guest's TSC, both read at one instant.
    usize save_state(u8* out, usize capacity) {
        LockGuard<SpinLock> guard(lock_);
        const u64 now = now_ns();
        return pc_state_save(devices(), {now, tsc_.tsc_at(now), u32(tsc_.tsc_hz() / 1000)}, out, capacity);
    }

    // Everything checked first (pc_state_load), then committed: device time and the
    // guest's TSC go on from the saved ones, so each saved deadline keeps the guest time it
    // had left whatever this host's TSC rate and start were; then the models take their
    // state. A vCPU whose local APIC has something pending is woken (a halted one would
    // otherwise wait for the next interrupt): the toolstack restores the vCPUs' states
    // first (docs/hypercalls.md).
    i64 restore_state(const u8* in, usize length) {
        auto* state = new (kNoThrow) PcPlatformState;
        if (!state) return hypercall::kErrorNoMemory;
        u32 record = 0;
        PcStateError error;
        {
            LockGuard<SpinLock> guard(lock_);
            error = pc_state_load(devices(), in, length, *state, &record);
            if (error == PcStateError::None) {
                const u64 multiplier = adopt_tsc_rate(state->clock.guest_tsc_khz);
                continue_clock(state->clock);
                // Every vCPU's TSC from the platform's model: at start_tsc_ it reads the
                // saved guest TSC (Domain::TscBase).
                domain_.tsc_base = {domain_.tsc_base.generation + 1, multiplier, start_tsc_, state->clock.guest_tsc};
                pc_state_restore(devices(), *state);
                kvm_clock_.rebase(tsc_.tsc_hz(), tsc_.tsc_at(0), domain_.vcpu_count, domain_.memory);
                for (u32 i = 0; i < domain_.vcpu_count; ++i) requested_[i] = false;
                deadlines_changed();
                for (u32 i = 0; i < domain_.vcpu_count && !domain_.ended(); ++i)
                    if (lapics_[i]->has_pending_event()) wake_vcpu(i);
            }
        }
        delete state;
        if (error == PcStateError::None) return 0;
        log_warn("domain %u (%s): platform state refused: %s (record %u)", domain_.id, domain_.name,
                 pc_state_error_name(error), record);
        return hypercall::kErrorBadState;
    }

    // The guest's TSC goes on at the rate it had where it was saved, if this CPU can scale
    // it (kernel/vm/tsc_rate.hpp; the multiplier, which its vCPUs take with
    // Domain::tsc_base); else, and where the rates match, at this host's. The rate the
    // platform's TSC-deadline timers and kvmclock records count by (continue_clock,
    // rebase) is the one the guest's TSC then has.
    u64 adopt_tsc_rate(u32 saved_khz) {
        const u64 host_hz = tsc_hz(), saved_hz = u64(saved_khz) * 1000;
        u64 rate = host_hz, multiplier = kTscMultiplierOne;
        if (saved_khz != 0 && !tsc_rates_match(saved_hz, host_hz)) {
            const u64 m = tsc_multiplier_for(saved_hz, host_hz);
            const VcpuBackend* backend = domain_.vcpus[0].backend;
            const char* scaling = backend ? backend->tsc_scaling() : nullptr;
            if (m != 0 && scaling) {
                rate = saved_hz;
                multiplier = m;
                log_info(
                    "domain %u (%s): its TSC runs at %u kHz, as where it was saved (this host's at %llu kHz), "
                    "scaled %s",
                    domain_.id, domain_.name, saved_khz, (unsigned long long)(host_hz / 1000), scaling);
            } else {
                // A guest that calibrated its timers by the old rate sees its time run
                // faster (or slower) by the ratio: said, not hidden.
                log_warn(
                    "domain %u (%s): its TSC ran at %u kHz where it was saved; this CPU cannot scale it, so it "
                    "runs at this host's %llu kHz, and the guest's timers by the ratio %s",
                    domain_.id, domain_.name, saved_khz, (unsigned long long)(host_hz / 1000),
                    host_hz > saved_hz ? "faster" : "slower");
            }
        }
        tsc_ = LinearGuestTsc(rate, 0);  // continue_clock sets where it stands
        return multiplier;
    }

    // Device time reads clock.device_ns now, and the guest's TSC clock.guest_tsc: one
    // reading of this host's TSC is the new start, and uptime keeps its fixed offset to
    // device time (schedule_timer; the subtraction may wrap, the sum it is added to not).
    void continue_clock(const PcClock& clock) {
        start_tsc_ = x86::rdtsc();
        clock_base_ns_ = clock.device_ns;
        uptime_offset_ns_ = mul_div_floor(start_tsc_ - time_boot_tsc(), kNsPerSecond, tsc_hz()) - clock.device_ns;
        tsc_.set_tsc(clock.device_ns, clock.guest_tsc);
    }

    // InterruptLines: ISA IRQ n reaches PIC pin n and IOAPIC pin n, except IRQ 0, which
    // is IOAPIC pin 2 (the MADT's interrupt source override says so).
    VIREO_HOT_PATH void set_isa_irq(u8 irq, bool high) override {
        pic_.set_irq(irq, high);
        ioapic_.set_pin(irq == 0 ? 2 : irq, high);
        pic_output_changed();
    }

    // UartOutput: COM1 lines go to the Vireo console as "[name] text".
    VIREO_HOT_PATH void uart_transmit(u8 byte) override {
        const char c = char(byte);
        domain_console_write(domain_, &c, 1);
    }

    // PlatformControl.
    void request_power_off() override {
        log_info("domain %u (%s): ACPI power-off", domain_.id, domain_.name);
        domain_shutdown(domain_, 0);
    }
    void request_reset() override {
        if (domain_.hardware_domain) dom0_reset(domain_);                     // the machine's reboot
        if (domain_.lifecycle.state() == LifecycleState::Restarting) return;  // a second reset of the same
        if (domain_request_restart(domain_)) {
            log_info("domain %u (%s): reset requested; restarting it", domain_.id, domain_.name);
            return;
        }
        // A domain its toolstack built cannot be loaded again here: it ends, and the
        // toolstack carries out on_reboot, or on_crash when its kernel panicked before
        // (Linux's panic=N resets the machine). The exit code is one of its own, so that
        // it never passes for a clean power-off.
        char panic[sizeof(domain_.panic_line)];
        {
            LockGuard<SpinLock> guard(domain_.lock);
            memcpy(panic, domain_.panic_line, sizeof(panic));
        }
        if (panic[0]) {
            domain_crash(domain_, "reset after a kernel panic: %s", panic);
            return;
        }
        log_info("domain %u (%s): reset requested; it cannot be restarted, so it ends (exit code %d)", domain_.id,
                 domain_.name, int(Domain::kResetExitCode));
        domain_shutdown(domain_, Domain::kResetExitCode, EndReason::Reboot);
    }

    // The platform reset (RESET# on every device, SDM vol. 3A 9.1.1 for the APICs). The
    // CMOS RTC keeps its time and RAM (battery-backed). The PIT, port 0x61 and the PICs
    // keep theirs: every OS programs them before use (ICW1 starts a PIC afresh), and
    // nothing reaches the CPU from the PICs meanwhile, since a reset local APIC has LINT0
    // masked.
    void reset_devices() {
        LockGuard<SpinLock> guard(lock_);
        kvm_clock_.reset();
        pv_eoi_.reset();
        steal_time_.reset();
        com1_.reset();
        pm_.reset();
        reset_control_.reset();
        pci_.reset();
        kbc_.reset();
        ioapic_.reset();
        for (u32 i = 0; i < domain_.vcpu_count; ++i) {
            lapics_[i]->reset();
            requested_[i] = false;
        }
        deadlines_changed();
    }

    // ApicWakeup: something arrived for vCPU `index`. A halted vCPU wakes; one in the
    // guest on another CPU is kicked so that it takes it now (a timer callback or another
    // vCPU's IPI may come from any CPU).
    void wake_vcpu(u32 index) override {
        if (index >= domain_.vcpu_count || domain_.lifecycle.state() == LifecycleState::Restarting) return;
        Vcpu& v = domain_.vcpus[index];
        if (v.state == VcpuState::Stopped) {
            if (!domain_.ended()) start_if_sipi(v);
            return;
        }
        scheduler_notify_vcpu(v);
    }

    // Domain-0's pins that follow the real lines of the same number: all but those of
    // the devices it has as models (IRQ 0 of the PIT on pin 2, COM1 on pin 4) and pin 0.
    bool forwarded(u8 pin) const {
        return domain_.hardware_domain && pin != 0 && pin != 2 && pin != 4 && pin != kDom0EventGsi &&
               host_gsi_forwardable(pin);
    }

    // IoapicPinListener: the real line follows what dom0 programs; a level line's EOI
    // takes the pin down until the line fires again, and lets it fire.
    void pin_programmed(u8 pin, u64 entry) override {
        if (!forwarded(pin)) return;
        host_gsi_program(pin, entry & VirtualIoapic::kEntryLevelTriggered, entry & VirtualIoapic::kEntryActiveLow,
                         entry & VirtualIoapic::kEntryMasked);
    }
    void pin_eoi(u8 pin) override {
        if (!forwarded(pin)) return;
        ioapic_.set_pin(pin, !ioapic_.asserted_level(pin));
        host_gsi_unmask(pin);
    }

    // The real lines that fired since the last look raise dom0's pins: a level line
    // stays asserted until dom0's EOI, an edge is a pulse.
    void take_host_interrupts() {
        u64 pending = host_gsi_take_pending();
        while (pending) {
            const u8 pin = u8(__builtin_ctzll(pending));
            pending &= pending - 1;
            if (!forwarded(pin)) continue;
            const bool level = ioapic_.asserted_level(pin);
            ioapic_.set_pin(pin, level);
            if (!(ioapic_.redirection_entry(pin) & VirtualIoapic::kEntryLevelTriggered)) ioapic_.set_pin(pin, !level);
        }
        // Vireo's event line: a pulse (Domain-0's module takes it as an edge).
        if (dom0_event_take()) {
            const bool level = ioapic_.asserted_level(kDom0EventGsi);
            ioapic_.set_pin(kDom0EventGsi, level);
            ioapic_.set_pin(kDom0EventGsi, !level);
        }
    }

    // ExtIntSource: the PIC behind LINT0 of vCPU 0.
    bool extint_pending() const override { return pic_.interrupt_pending(); }
    u8 extint_acknowledge() override {
        const u8 vector = pic_.acknowledge();
        pic_output_changed();
        return vector;
    }

    // After anything that may have changed the PIC's INTR output.
    void pic_output_changed() {
        if (lapics_[0]) lapics_[0]->set_lint(0, pic_.interrupt_pending());
    }

    // Device time: raises what became due since the last call; true when it did, and
    // the next deadline was computed again.
    bool advance(u64 now) {
        if (now < next_deadline_ns_) return false;
        pit_.advance_to(now);
        rtc_.advance_to(now);
        pm_.advance_to(now);
        for (u32 i = 0; i < domain_.vcpu_count; ++i) lapics_[i]->advance_to(now);
        u64 next = pit_.next_deadline_ns();
        const u64 pm_next = pm_.next_deadline_ns();
        if (pm_next < next) next = pm_next;
        const u64 rtc_next = rtc_.next_deadline_ns();
        if (rtc_next < next) next = rtc_next;
        next_owner_ = 0;
        for (u32 i = 0; i < domain_.vcpu_count; ++i) {
            const u64 l = lapics_[i]->next_deadline_ns();
            if (l < next) {
                next = l;
                next_owner_ = i;
            }
        }
        next_deadline_ns_ = next;
        return true;
    }

    // The device timer, for next_deadline_ns_, unless it is armed for that already.
    // Device time is clock_base_ns_ plus the host's TSC since start_tsc_, uptime the TSC
    // since boot: the same clock, so a deadline converts with a fixed offset, and the same device deadline
    // gives the same uptime (no re-arm at each access). Two microseconds late rather than
    // early, for the rounding of both conversions: an early callback would find nothing due.
    void schedule_timer() {
        if (next_deadline_ns_ == kNoDeadline) {
            if (armed_us_) timer_cancel(device_timer_);
            armed_us_ = 0;
            return;
        }
        const u64 at = (next_deadline_ns_ + uptime_offset_ns_) / 1000 + 2;
        const u32 cpu = __atomic_load_n(&domain_.vcpus[next_owner_].cpu, __ATOMIC_RELAXED);
        if (at == armed_us_ && cpu == armed_cpu_) return;
        armed_us_ = at;
        armed_cpu_ = cpu;
        timer_arm(device_timer_, cpu, at);
    }

    // A guest access, or a reset, may have changed a model's deadline: device time is
    // brought up to date, and the timer follows the new earliest deadline.
    void deadlines_changed() {
        next_deadline_ns_ = 0;
        advance(now_ns());
        schedule_timer();
    }

    void print_timers() {
        LockGuard<SpinLock> guard(lock_);
        const u64 now = now_ns();
        console_line(
            "  %s (id %u): device time %llu us, next deadline %lld us ahead (vcpu%u), timer armed for uptime %llu us "
            "(now %llu us)",
            domain_.name, domain_.id, (unsigned long long)(now / 1000),
            next_deadline_ns_ == kNoDeadline ? -1ll : (long long)(next_deadline_ns_ - now) / 1000, next_owner_,
            (unsigned long long)armed_us_, (unsigned long long)uptime_us());
        for (u32 i = 0; i < domain_.vcpu_count; ++i) {
            const LapicTimer& t = lapics_[i]->timer();
            const u64 next = lapics_[i]->next_deadline_ns();
            console_line(
                "    vcpu%u: lapic timer %s, TSC deadline %#llx, guest TSC %#llx (host %#llx), next %lld us ahead", i,
                t.mode() == LapicTimer::Mode::TscDeadline ? "tsc-deadline"
                : t.mode() == LapicTimer::Mode::Periodic  ? "periodic"
                                                          : "one-shot",
                (unsigned long long)t.tsc_deadline(), (unsigned long long)tsc_.tsc_at(now),
                (unsigned long long)x86::rdtsc(), next == kNoDeadline ? -1ll : (long long)(next - now) / 1000);
        }
    }

    static void device_timer_fired(Timer& timer, u64) {
        PcPlatform& p = *static_cast<PcPlatform*>(timer.owner);
        if (p.domain_.ended()) return;
        LockGuard<SpinLock> guard(p.lock_);
        p.armed_us_ = 0;  // it fired: whatever is due next needs arming again
        p.advance(p.now_ns());
        p.schedule_timer();
    }

    // Keys queued for the domain (domain_console_input) go to COM1 while its receive
    // FIFO has room; the rest wait until the guest reads COM1 (after_access).
    void console_input() { timer_arm(input_timer_, domain_.vcpus[0].cpu, uptime_us()); }
    static void input_timer_fired(Timer& timer, u64) {
        PcPlatform& p = *static_cast<PcPlatform*>(timer.owner);
        if (p.domain_.ended()) return;
        LockGuard<SpinLock> guard(p.lock_);
        char key;
        while (domain_console_peek(p.domain_, key) && p.com1_.receive(u8(key))) domain_console_pop(p.domain_);
    }

    // After a port access to a model, under the lock.
    template <typename Model>
    void after_access(Model&) {}
    void after_access(Uart16550& uart) {
        if (domain_console_pending(domain_) && !uart.receive_fifo_full()) console_input();
    }

    bool before_entry(Vcpu& v) {
        LockGuard<SpinLock> guard(lock_);
        if (domain_.hardware_domain) {
            take_host_interrupts();
            if (pci_passthrough_) dom0_pci_take_host_interrupts(*pci_passthrough_);
        }
        if (advance(now_ns())) schedule_timer();
        VirtualLapic& l = *lapics_[v.index];
        if (l.take_init()) {
            if (v.index == 0) {
                // INIT to the boot processor restarts it at the reset vector, which only a
                // firmware could serve: the guest asked for a reset.
                request_reset();
                return false;
            }
            // INIT: the vCPU waits for a start-up IPI (SDM 8.4.3); its APIC reset itself.
            // The SIPI may already be here (Linux sends it right after the INIT).
            v.started = false;
            vcpu_set_state(v, VcpuState::Stopped);
            requested_[v.index] = false;
            start_if_sipi(v);
            return false;
        }
        if (l.take_nmi()) v.events.nmi_pending = true;
        if (v.events.interrupt_requested) {
            // An ExtINT was acknowledged at the PIC already: it is delivered as it is.
            if (!requested_[v.index]) return true;
            // A vector of the local APIC handed to the CPU but not yet taken gives way when
            // it is no longer the one the APIC would deliver now (SDM vol. 3A 11.8.3.1: the
            // highest IRR vector above PPR): one of higher priority arrived, or TPR rose.
            if (l.pending_vector() == i32(requested_vector_[v.index])) return true;
            l.cancel_in_flight();
            v.events.interrupt_requested = false;
            requested_[v.index] = false;
        }
        if (l.extint_pending()) {
            v.events.request_interrupt(l.acknowledge_extint());
        } else if (const i32 vector = l.pending_vector(); vector != VirtualLapic::kNoVector) {
            v.events.request_interrupt(u8(vector));
            l.mark_in_flight(u8(vector));
            requested_[v.index] = true;
            requested_vector_[v.index] = u8(vector);
        }
        offer_pv_eoi(v);
        return true;
    }

    // PV EOI (pv_eoi.hpp): offered when the vector handed to the vCPU now will be the only
    // one in service and nothing else is requested, and its EOI tells no I/O APIC
    // anything (edge-triggered), as KVM's apic_sync_pv_eoi_to_guest.
    void offer_pv_eoi(Vcpu& v) {
        if (!pv_eoi_.enabled(v.index) || !requested_[v.index] || !v.events.interrupt_requested) return;
        if (lapics_[v.index]->only_request_and_nothing_in_service(requested_vector_[v.index]))
            pv_eoi_.arm(v.index, domain_.memory);
    }

    // after_exit has nothing to acknowledge (the vector handed to the vCPU, if any, is still
    // requested: not taken) and no PV EOI to look for, and before_entry would request the
    // same: what changes the APIC's choice (a device's interrupt, an IPI, a deadline) comes
    // with a kick (scheduler_notify_vcpu), and a TPR or EOI write is no fast exit.
    bool direct_reentry_allowed(const Vcpu& v) const {
        return (!requested_[v.index] || v.events.interrupt_requested) && !pv_eoi_.armed(v.index);
    }

    void after_exit(Vcpu& v) {
        const bool delivered = requested_[v.index] && !v.events.interrupt_requested;
        if (!delivered && !pv_eoi_.armed(v.index)) return;
        LockGuard<SpinLock> guard(lock_);
        if (delivered) {
            lapics_[v.index]->acknowledge(requested_vector_[v.index]);
            requested_[v.index] = false;
        }
        // After the acknowledgement: the EOI the guest left to Vireo is for that vector.
        if (pv_eoi_.take(v.index, domain_.memory)) lapics_[v.index]->eoi_left_by_guest();
    }

    void halt(Vcpu& v) {
        constexpr u64 kRflagsIf = 1ull << 9;
        LockGuard<SpinLock> guard(lock_);
        VirtualLapic& l = *lapics_[v.index];
        const bool interruptible = v.regs.rflags & kRflagsIf;
        // An NMI ends HLT whatever RFLAGS.IF says (SDM vol. 2A, HLT).
        if (v.events.nmi_pending || l.nmi_pending()) return;
        if (interruptible &&
            (v.events.interrupt_requested || l.extint_pending() || l.pending_vector() != VirtualLapic::kNoVector))
            return;  // taken at the next entry
        vcpu_set_state(v, VcpuState::Blocked);
    }

    bool msr(Vcpu& v, bool write, u32 index, u64& value, bool& ok) {
        if (KvmClock::handles_msr(index)) return kvm_clock_msr(v, write, index, value, ok);
        if (PvEoi::handles_msr(index)) return pv_eoi_msr(v, write, value, ok);
        if (StealTime::handles_msr(index)) return steal_time_msr(v, write, value, ok);
        if (!VirtualLapic::handles_msr(index)) return false;
        constexpr u32 kApicBaseMsr = 0x1b;
        constexpr u64 kApicBaseAddress = 0xffffff000ull;
        if (write && index == kApicBaseMsr && (value & kApicBaseAddress) != kGuestLocalApicBase) {
            // The APIC page stays where the MADT says; relocating it is refused (#GP), as
            // on processors whose APIC base is fixed.
            ok = false;
            return true;
        }
        LockGuard<SpinLock> guard(lock_);
        ok = write ? lapics_[v.index]->msr_write(index, value) : lapics_[v.index]->msr_read(index, value);
        deadlines_changed();
        return true;
    }

    // MSR_KVM_PV_EOI_EN. The first enable of each vCPU is logged: whether a guest uses
    // PV EOI shows nowhere else.
    bool pv_eoi_msr(Vcpu& v, bool write, u64& value, bool& ok) {
        LockGuard<SpinLock> guard(lock_);
        if (!write) {
            value = pv_eoi_.msr_read(v.index);
            ok = true;
            return true;
        }
        const bool was_enabled = pv_eoi_.enabled(v.index);
        ok = pv_eoi_.msr_write(v.index, value, domain_.memory);
        if (ok && !was_enabled && pv_eoi_.enabled(v.index) && !(pv_eoi_logged_ & (1ull << v.index))) {
            pv_eoi_logged_ |= 1ull << v.index;
            log_info("%s: vcpu%u uses KVM's PV EOI (word at %#llx)", domain_.name, v.index,
                     (unsigned long long)(value & ~3ull));
        }
        return true;
    }

    // MSR_KVM_STEAL_TIME, logged as PV EOI's is.
    bool steal_time_msr(Vcpu& v, bool write, u64& value, bool& ok) {
        LockGuard<SpinLock> guard(lock_);
        if (!write) {
            value = steal_time_.msr_read(v.index);
            ok = true;
            return true;
        }
        const bool was_enabled = steal_time_.enabled(v.index);
        ok = steal_time_.msr_write(v.index, value, domain_.memory);
        if (ok && !was_enabled && steal_time_.enabled(v.index) && !(steal_time_logged_ & (1ull << v.index))) {
            steal_time_logged_ |= 1ull << v.index;
            log_info("%s: vcpu%u uses KVM's steal time (record at %#llx)", domain_.name, v.index,
                     (unsigned long long)(value & ~(StealTime::kRecordSize - 1)));
        }
        return true;
    }

    // The scheduler's hand-over (Platform::vcpu_preempted, vcpu_resumed). Without the
    // lock: only the vCPU's own CPU touches its steal-time record from the hypervisor's
    // side, here and in its MSR writes, never both at once; the guest's other vCPUs change
    // the record's flags with atomic operations, which steal_time.hpp's match.
    void vcpu_preempted(Vcpu& v) { steal_time_.preempted(v.index, domain_.memory); }
    bool vcpu_resumed(Vcpu& v, u64 waited_ns) { return steal_time_.resumed(v.index, waited_ns, domain_.memory); }

    // KVM_HC_SEND_IPI (Platform::kvm_send_ipi). The first one is logged: whether a guest
    // sends its IPIs this way shows nowhere else.
    i64 kvm_send_ipi(Vcpu& v, u64 bitmap_low, u64 bitmap_high, u64 min, u64 icr, bool wide) {
        LockGuard<SpinLock> guard(lock_);
        const i64 sent = kvm_pv_send_ipi(apic_bus_, bitmap_low, bitmap_high, min, icr, wide, v.index);
        if (sent >= 0 && !pv_ipi_logged_) {
            pv_ipi_logged_ = true;
            log_info("%s: vcpu%u sends IPIs through KVM's PV send-IPI hypercall", domain_.name, v.index);
        }
        return sent;
    }

    // MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW: the records go into the
    // domain's memory at once (kernel/vm/devices/pc/kvm_clock.hpp). Never a #GP, as on
    // KVM; an address outside the domain's RAM is logged once and written nowhere.
    bool kvm_clock_msr(Vcpu& v, bool write, u32 index, u64& value, bool& ok) {
        ok = true;
        LockGuard<SpinLock> guard(lock_);
        if (!write) {
            value = kvm_clock_.msr_read(v.index, index);
            return true;
        }
        if (kvm_clock_.msr_write(v.index, index, value, domain_.memory) == KvmClock::WriteResult::BadAddress &&
            !kvm_clock_bad_address_logged_) {
            kvm_clock_bad_address_logged_ = true;
            log_warn("%s: vcpu%u put its kvmclock record at %#llx, outside its RAM: not written (logged once)",
                     domain_.name, v.index, (unsigned long long)value);
        }
        return true;
    }

    SpinLock lock_;
    Domain& domain_;
    // Device time 0, the guest's TSC model and uptime all come from this one reading of
    // the TSC: taken from separate readings, they would differ by whatever ran in between
    // (an interrupt, or on an emulator a host thread switch of many milliseconds), and a
    // guest TSC model ahead of the guest's real TSC fires every TSC deadline that much
    // early: Linux's periodic tick, which re-arms 4 ms ahead, then fires without pause.
    u64 start_tsc_;
    u64 clock_base_ns_ = 0;  // device time at start_tsc_: 0, or a restored state's
    LinearGuestTsc tsc_;
    Pic8259Pair pic_;
    Pit8254 pit_;
    SystemControlPortB port61_;
    KvmClock kvm_clock_;    // device time as KVM's paravirtual clock (Linux's kvm-clock)
    PvEoi pv_eoi_;          // KVM's paravirtual EOI (kernel/vm/devices/pc/pv_eoi.hpp)
    StealTime steal_time_;  // KVM's steal time (kernel/vm/devices/pc/steal_time.hpp)
    bool kvm_clock_bad_address_logged_ = false;
    // Bit n: vcpu n's first PV EOI enable was logged. Once per vCPU for the domain's
    // life, so that a guest turning the MSR off and on cannot fill Vireo's console.
    u64 pv_eoi_logged_ = 0;
    u64 steal_time_logged_ = 0;   // the same for steal time
    bool pv_ipi_logged_ = false;  // the domain's first PV send-IPI was logged
    CmosRtc rtc_;
    Uart16550 com1_;
    AcpiPmBlock pm_;
    ResetControl reset_control_;
    PciHostBridge pci_;
    I8042 kbc_;
    ApicBus apic_bus_;
    VirtualIoapic ioapic_;
    VirtualLapic* lapics_[Domain::kMaxVcpus] = {};
    Dom0Pci* pci_passthrough_ = nullptr;  // Domain-0's real PCI devices
    bool requested_[Domain::kMaxVcpus] = {};
    u8 requested_vector_[Domain::kMaxVcpus] = {};
    u64 next_deadline_ns_ = 0;
    u32 next_owner_ = 0;  // the vCPU whose local APIC is due at next_deadline_ns_, else 0
    // uptime in ns = device time + this, modulo 2^64 (both count the same TSC:
    // schedule_timer); a restored device time may exceed this host's uptime.
    u64 uptime_offset_ns_ = mul_div_floor(start_tsc_ - time_boot_tsc(), kNsPerSecond, tsc_hz());
    Timer device_timer_{device_timer_fired, this};
    Timer input_timer_{input_timer_fired, this};
    Timer shutdown_timer_{shutdown_timer_fired, this};
    u64 armed_us_ = 0;  // device_timer_'s deadline while armed, else 0
    u32 armed_cpu_ = 0;

    void start_if_sipi(Vcpu& v) {
        VirtualLapic& l = *lapics_[v.index];
        l.take_init();  // the INIT that preceded the SIPI: the vCPU is already stopped
        u8 vector = 0;
        if (!l.take_sipi(vector)) return;
        // The start-up IPI's vector names the 4 KiB page where the AP starts in real mode
        // (SDM 8.4.4.1): CS = vector << 8, IP = 0.
        GuestEntryState entry{};
        entry.mode = GuestCpuMode::Real;
        entry.cs_selector = u16(vector) << 8;
        entry.rip = 0;
        if (scheduler_start_vcpu(v, entry))
            log_info("domain %u (%s): vcpu%u started by a start-up IPI at %04x:0000 on cpu%u", domain_.id, domain_.name,
                     v.index, u32(vector) << 8, v.cpu);
        else
            log_warn("domain %u (%s): vcpu%u ignored a start-up IPI", domain_.id, domain_.name, v.index);
    }
};

// Whether an access to a model can move a device deadline: it keeps time itself (PIT,
// CMOS RTC, ACPI PM timer) or gates a timer (port 61h, the PIT's channel 2). Only then
// is device time brought up to date and the device timer re-armed after the access. The
// others keep no time, so every deadline stays where it was; what falls due meanwhile is
// raised before the next entry all the same (before_entry). A Linux guest's serial
// console makes two UART accesses per character, each an exit that paid for all of it.
template <typename Model>
inline constexpr bool kAccessMovesDeadlines = true;
template <>
inline constexpr bool kAccessMovesDeadlines<Uart16550> = false;
template <>
inline constexpr bool kAccessMovesDeadlines<Pic8259Pair> = false;
template <>
inline constexpr bool kAccessMovesDeadlines<I8042> = false;
template <>
inline constexpr bool kAccessMovesDeadlines<ResetControl> = false;
template <>
inline constexpr bool kAccessMovesDeadlines<PciHostBridge> = false;

// Port I/O into one model, under the platform's lock.
template <typename Model>
class LockedPorts final : public IoDevice {
public:
    LockedPorts(PcPlatform& platform, Model& model) : platform_(platform), model_(model) {}
    VIREO_HOT_PATH u32 io_read(Vcpu&, u16 port, u8 size) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        const u32 value = model_.port_read(port, size);
        after_access();
        return value;
    }
    VIREO_HOT_PATH void io_write(Vcpu&, u16 port, u8 size, u32 value) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        model_.port_write(port, size, value);
        after_access();
    }

private:
    VIREO_HOT_PATH void after_access() {
        platform_.pic_output_changed();
        if constexpr (kAccessMovesDeadlines<Model>) platform_.deadlines_changed();
        platform_.after_access(model_);
    }

    PcPlatform& platform_;
    Model& model_;
};

// 0xCF8-0xCFF of a domain whose device model in Domain-0 has devices on bus 0: the data
// port's accesses to their configuration space are forwarded to it
// (kernel/ioreq/ioreq_server.hpp), everything else is the host bridge model's.
class PciConfigPorts final : public IoDevice {
public:
    PciConfigPorts(PcPlatform& platform, IoDevice& model) : platform_(platform), model_(model) {}
    u32 io_read(Vcpu& v, u16 port, u8 size) override {
        u64 address;
        if (!forwarded(v, port, address)) return model_.io_read(v, port, size);
        return u32(ioreq_forward(v, hypercall::kIoreqPciConfig, address, size, false, 0));
    }
    void io_write(Vcpu& v, u16 port, u8 size, u32 value) override {
        u64 address;
        if (!forwarded(v, port, address))
            model_.io_write(v, port, size, value);
        else
            ioreq_forward(v, hypercall::kIoreqPciConfig, address, size, true, value);
    }

private:
    // CONFIG_ADDRESS (PCI Local Bus 3.0, 3.2.2.3.2): enable bit 31, bus 23:16, device
    // 15:11, function 10:8, register 7:2; the data port's byte offset adds to it. The
    // request carries ECAM's layout (PCI Express Base 4.0, 7.2.2).
    bool forwarded(const Vcpu& v, u16 port, u64& address) {
        if (port < PciHostBridge::kConfigDataPort) return false;
        u32 config;
        {
            LockGuard<SpinLock> guard(platform_.lock_);
            config = platform_.pci_.config_address();
        }
        const u32 bus = (config >> 16) & 0xff, device = (config >> 11) & 0x1f, function = (config >> 8) & 7;
        if (!(config & PciHostBridge::kConfigEnable) || bus != 0 || !ioreq_pci_device_forwarded(*v.domain, u8(device)))
            return false;
        address =
            (u64(device) << 15) | (u64(function) << 12) | (config & 0xfc) | (port - PciHostBridge::kConfigDataPort);
        return true;
    }
    PcPlatform& platform_;
    IoDevice& model_;
};

// Domain-0's PM1 control registers are the machine's (ACPI 6.5 4.8.3.2.1): written
// through, except a write with SLP_EN, which would put the machine to sleep or power it
// off under the other domains. S5 becomes the machine's power-off once they have ended
// (kernel/passthrough/dom0_power.hpp); any other sleep state is refused, since Vireo
// cannot resume from one (pm1_control_policy.hpp). Each block is claimed on its 2 ports.
class HostPm1Control final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16 port, u8 size) override { return hardware_port_read(port, size); }
    void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) override {
        const HostAcpiPorts ports = passthrough_acpi_ports();
        const bool block_b = ports.pm1b_control && u16(port - ports.pm1b_control) < 2 &&
                             !(ports.pm1a_control && u16(port - ports.pm1a_control) < 2);
        const u16 base = block_b ? ports.pm1b_control : ports.pm1a_control;
        const Pm1WriteDecision d = pm1_control_write(u16(port - base), size, value, ports.s5, block_b);
        if (d.action == Pm1WriteAction::RefuseSleep) {
            if (!__atomic_exchange_n(&refused_logged_, true, __ATOMIC_RELAXED))
                log_warn("Domain-0 asked for sleep state SLP_TYP=%u; Vireo does not support sleep; ignored", d.slp_typ);
            return;
        }
        if (d.action == Pm1WriteAction::PowerOff) {
            if (d.s5_unknown)
                log_warn(
                    "Domain-0 wrote SLP_EN with SLP_TYP=%u; without \\_S5 in the DSDT Vireo cannot tell S5 from "
                    "sleep and powers the machine off",
                    d.slp_typ);
            // The whole register: the bytes dom0 wrote, the hardware's for the others.
            const u16 current = x86::inw(base);
            dom0_request_machine_power_off(*vcpu.domain, base, u16((current & ~d.lanes) | (d.image & d.lanes)));
            return;
        }
        hardware_port_write(port, size, value);
    }

private:
    bool refused_logged_ = false;  // atomic
};

// Domain-0's keyboard controller is the machine's, but for its reset line: a command
// 0xF0-0xFF with bit 0 clear pulses the reset output (8042 "pulse output port"; 0xFE is
// the classic reset Linux tries with reboot=kbd), which would reset the machine under the
// hypervisor. That becomes dom0's reset (dom0_reset: a crash if it had panicked).
class HostKbcCommand final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16 port, u8) override { return x86::inb(port); }
    void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) override {
        const u8 command = u8(value);
        if (size != 1) return;  // wider accesses reach here split by byte (exit_handlers.cpp)
        if ((command & 0xf0) == 0xf0 && !(command & 1)) dom0_reset(*vcpu.domain);
        // 0xD1 writes the output port through port 0x60 next, whose bit 0 is the reset
        // line: refused (A20 gating means nothing to a 64-bit kernel).
        if (command == 0xd1) return;
        x86::outb(port, command);
    }
};

// Port 0x92, "system control port A": bit 0 is a fast reset on PC chipsets (Intel PCH
// datasheets; QEMU implements it). That becomes dom0's reset; the rest goes through.
class HostPort92 final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16 port, u8) override { return x86::inb(port); }
    void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) override {
        if (size != 1) return;
        if (value & 1) dom0_reset(*vcpu.domain);
        x86::outb(port, u8(value));
    }
};

// The local APIC page: each vCPU reaches its own APIC at the same address.
class LapicMmio final : public MmioDevice {
public:
    explicit LapicMmio(PcPlatform& platform) : platform_(platform) {}
    u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        return platform_.lapics_[vcpu.index]->mmio_read_sized(offset, size);
    }
    void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        platform_.lapics_[vcpu.index]->mmio_write_sized(offset, size, value);
        platform_.deadlines_changed();
    }

private:
    PcPlatform& platform_;
};

class IoapicMmio final : public MmioDevice {
public:
    explicit IoapicMmio(PcPlatform& platform) : platform_(platform) {}
    u64 mmio_read(Vcpu&, u64 offset, u8 size) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        return offset < VirtualIoapic::kMmioSize ? platform_.ioapic_.mmio_read_sized(offset, size) : ~0ull;
    }
    void mmio_write(Vcpu&, u64 offset, u8 size, u64 value) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        if (offset < VirtualIoapic::kMmioSize) platform_.ioapic_.mmio_write_sized(offset, size, value);
    }

private:
    PcPlatform& platform_;
};

}  // namespace

namespace {

// The Platform of a PC domain: the models and the adapters that put them on the domain's
// buses, allocated together.
class PcMachine final : public Platform {
    static_assert(Domain::kMaxVcpus <= pc_state::kMaxVcpus);

public:
    explicit PcMachine(Domain& d) : platform_(d) {}

    bool attach(Domain& d, const char** error) {
        if (!platform_.create_lapics()) {
            *error = "more vCPUs than the APIC bus takes, or no memory for their local APICs";
            return false;
        }
        IoBus& io = d.io;
        if (d.hardware_domain) {
            // Domain-0 keeps the models of what the hypervisor owns (the PICs, the PIT and
            // port 0x61, the console's COM1, the interrupt controllers) and the reset
            // control; the RTC, the ACPI PM block, PCI configuration space and the
            // keyboard controller are the real ones (kernel/passthrough/).
            const bool ok = io.claim(Pic8259Pair::kMasterCommandPort, Pic8259Pair::kMasterDataPort, &pic_ports_) &&
                            io.claim(Pic8259Pair::kSlaveCommandPort, Pic8259Pair::kSlaveDataPort, &pic_ports_) &&
                            io.claim(Pic8259Pair::kElcrMasterPort, Pic8259Pair::kElcrSlavePort, &pic_ports_) &&
                            io.claim(Pit8254::kCounter0Port, Pit8254::kControlPort, &pit_ports_) &&
                            io.claim(SystemControlPortB::kPort, SystemControlPortB::kPort, &port61_) &&
                            io.claim(Uart16550::kCom1Base, Uart16550::kCom1Base + Uart16550::kPortCount - 1, &com1_) &&
                            io.claim(ResetControl::kPort, ResetControl::kPort, &reset_ports_) &&
                            io.claim(I8042::kStatusPort, I8042::kStatusPort, &kbc_command_) &&
                            io.claim(0x92, 0x92, &port92_) && claim_pm1_control(io) &&
                            d.mmio.claim(kGuestLocalApicBase, kPageSize, &lapic_mmio_) &&
                            d.mmio.claim(kGuestIoApicBase, kPageSize, &ioapic_mmio_);
            if (!ok) {
                *error = "Domain-0's ports or MMIO ranges are taken";
                return false;
            }
            platform_.pci_passthrough_ = dom0_pci_create(d, platform_.apic_bus_, platform_.lock_, error);
            return platform_.pci_passthrough_ != nullptr;
        }
        const bool ok =
            io.claim(Pic8259Pair::kMasterCommandPort, Pic8259Pair::kMasterDataPort, &pic_ports_) &&
            io.claim(Pic8259Pair::kSlaveCommandPort, Pic8259Pair::kSlaveDataPort, &pic_ports_) &&
            io.claim(Pic8259Pair::kElcrMasterPort, Pic8259Pair::kElcrSlavePort, &pic_ports_) &&
            io.claim(Pit8254::kCounter0Port, Pit8254::kControlPort, &pit_ports_) &&
            io.claim(SystemControlPortB::kPort, SystemControlPortB::kPort, &port61_) &&
            io.claim(CmosRtc::kIndexPort, CmosRtc::kDataPort, &rtc_) &&
            io.claim(Uart16550::kCom1Base, Uart16550::kCom1Base + Uart16550::kPortCount - 1, &com1_) &&
            io.claim(AcpiPmBlock::kDefaultBase, AcpiPmBlock::kDefaultBase + AcpiPmBlock::kBlockSize - 1, &pm_) &&
            io.claim(PciHostBridge::kFirstPort, PciHostBridge::kFirstPort + PciHostBridge::kPortCount - 1, &pci_) &&
            io.claim(I8042::kDataPort, I8042::kDataPort, &kbc_) &&
            io.claim(I8042::kStatusPort, I8042::kStatusPort, &kbc_) &&
            d.mmio.claim(kGuestLocalApicBase, kPageSize, &lapic_mmio_) &&
            d.mmio.claim(kGuestIoApicBase, kPageSize, &ioapic_mmio_);
        if (!ok) *error = "the virtual PC's ports or MMIO ranges are taken";
        return ok;
    }

    bool before_entry(Vcpu& v) override { return platform_.before_entry(v); }
    void after_exit(Vcpu& v) override { platform_.after_exit(v); }
    VIREO_HOT_PATH bool direct_reentry_allowed(const Vcpu& v) const override {
        return platform_.direct_reentry_allowed(v);
    }
    void halt(Vcpu& v) override { platform_.halt(v); }
    bool local_apic_enabled(const Vcpu& v) const override { return platform_.lapics_[v.index]->hw_enabled(); }
    u64 read_cr8(Vcpu& v) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        return platform_.lapics_[v.index]->tpr() >> 4;
    }
    void write_cr8(Vcpu& v, u64 value) override {
        LockGuard<SpinLock> guard(platform_.lock_);
        platform_.lapics_[v.index]->write_cr8(value);
    }
    bool read_msr(Vcpu& v, u32 index, u64& value, bool& ok) override {
        return platform_.msr(v, false, index, value, ok);
    }
    bool write_msr(Vcpu& v, u32 index, u64 value, bool& ok) override {
        return platform_.msr(v, true, index, value, ok);
    }
    void reset() override { platform_.reset_devices(); }
    bool has_local_apics() const override { return true; }
    bool takes_console_input() const override { return true; }
    bool request_shutdown() override {
        if (platform_.domain_.hardware_domain) return false;  // its PM block is the machine's
        platform_.request_shutdown();
        return true;
    }
    usize footprint_bytes() const override {
        return sizeof(*this) + platform_.domain_.vcpu_count * sizeof(VirtualLapic) +
               (platform_.domain_.hardware_domain ? dom0_pci_footprint() : 0);
    }
    void console_input() override { platform_.console_input(); }
    bool set_vcpu_timer(Vcpu&, u64, u8) override { return false; }  // its local APICs have timers
    void stop_timers() override { platform_.stop_timers(); }
    void print_timers() override { platform_.print_timers(); }
    // Domain-0's RTC, PM block, PCI configuration space and keyboard controller are the
    // machine's, not models: it has no state to save here.
    usize save_state(u8* out, usize capacity) override {
        return platform_.domain_.hardware_domain ? 0 : platform_.save_state(out, capacity);
    }
    i64 restore_state(const u8* in, usize length) override {
        if (platform_.domain_.hardware_domain) return hypercall::kErrorNotSupported;
        return platform_.restore_state(in, length);
    }
    i64 kvm_send_ipi(Vcpu& v, u64 bitmap_low, u64 bitmap_high, u64 min, u64 icr, bool wide) override {
        return platform_.kvm_send_ipi(v, bitmap_low, bitmap_high, min, icr, wide);
    }
    void vcpu_preempted(Vcpu& v) override { platform_.vcpu_preempted(v); }
    bool vcpu_resumed(Vcpu& v, u64 waited_ns) override { return platform_.vcpu_resumed(v, waited_ns); }
    bool inject_msi(u64 address, u32 data) override {
        if (!msi_address_is_interrupt(address)) return false;
        LockGuard<SpinLock> guard(platform_.lock_);
        platform_.apic_bus_.send_message(message_from_msi(address, data));
        return true;
    }

private:
    PcPlatform platform_;
    LockedPorts<Pic8259Pair> pic_ports_{platform_, platform_.pic_};
    LockedPorts<Pit8254> pit_ports_{platform_, platform_.pit_};
    LockedPorts<SystemControlPortB> port61_{platform_, platform_.port61_};
    LockedPorts<CmosRtc> rtc_{platform_, platform_.rtc_};
    LockedPorts<Uart16550> com1_{platform_, platform_.com1_};
    LockedPorts<AcpiPmBlock> pm_{platform_, platform_.pm_};
    // 0xCF8-0xCFF: the host bridge passes byte accesses to 0xCF9 on to the reset control.
    LockedPorts<PciHostBridge> pci_model_{platform_, platform_.pci_};
    PciConfigPorts pci_{platform_, pci_model_};
    LockedPorts<I8042> kbc_{platform_, platform_.kbc_};
    LockedPorts<ResetControl> reset_ports_{platform_, platform_.reset_control_};
    HostPm1Control pm1_control_;
    HostKbcCommand kbc_command_;
    HostPort92 port92_;

    // The machine's PM1a/PM1b control blocks, when in I/O space (the FADT's).
    bool claim_pm1_control(IoBus& io) {
        const HostAcpiPorts ports = passthrough_acpi_ports();
        const u16 blocks[] = {ports.pm1a_control, ports.pm1b_control};
        for (const u16 port : blocks)
            if (port && !io.claim(port, u16(port + 1), &pm1_control_)) return false;
        return true;
    }
    LapicMmio lapic_mmio_{platform_};
    IoapicMmio ioapic_mmio_{platform_};
};

}  // namespace

Platform* create_pc_platform(Domain& d, const char** error) {
    auto* machine = new (kNoThrow) PcMachine(d);
    if (!machine) {
        *error = "out of memory for the virtual PC";
        return nullptr;
    }
    if (!machine->attach(d, error)) {
        delete machine;
        return nullptr;
    }
    return machine;
}
