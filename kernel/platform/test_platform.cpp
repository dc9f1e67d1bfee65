// The machine of the Multiboot test kernels: a COM1 that prints, the test MMIO device,
// and the hypercall timer (set_timer) and vCPU start (vcpu_start) instead of local
// APICs. CR8 is a plain register of each vCPU.
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/cpu_timers.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/time.hpp"
#include "kernel/vm/devices/test_mmio_device.hpp"
#include "kernel/vm/devices/virtual_uart.hpp"

namespace {

constexpr u64 kRflagsIf = 1ull << 9;

// The set_timer hypercall's timer of one vCPU. It is armed on the vCPU's CPU (the
// hypercall runs there) and stays there if the vCPU moves: the callback only notes that
// it fired and wakes or kicks the vCPU, wherever it is now, and the interrupt is
// requested at the vCPU's next entry, on its own CPU (before_entry).
struct VcpuTimer {
    Timer timer;
    Vcpu* vcpu = nullptr;
    u8 vector = 0;        // the vCPU's own CPU only (hypercall, before_entry)
    u64 deadline_us = 0;  // 0: not armed (for the halt message only)
    bool fired = false;   // atomic: set by the callback, taken by before_entry
};

class TestPlatform final : public Platform {
public:
    explicit TestPlatform(Domain& domain) : com1_(domain) {
        for (u32 i = 0; i < Domain::kMaxVcpus; ++i) {
            timers_[i].timer.callback = timer_fired;
            timers_[i].timer.owner = &timers_[i];
            timers_[i].vcpu = &domain.vcpus[i];
        }
    }
    ~TestPlatform() override { stop_timers(); }

    bool attach(Domain& d) {
        if (!d.io.claim(VirtualUart::kCom1, VirtualUart::kCom1 + 7, &com1_)) return false;
        // Reachable only where the domain has no RAM (a domain of 4 GiB or more has RAM there).
        if (d.memory.layout_size() <= TestMmioDevice::kBase &&
            !d.mmio.claim(TestMmioDevice::kBase, TestMmioDevice::kSize, &mmio_))
            return false;
        return true;
    }

    // The set_timer hypercall's vector is requested as an external interrupt once its
    // timer has fired.
    bool before_entry(Vcpu& v) override {
        VcpuTimer& t = timers_[v.index];
        if (__atomic_exchange_n(&t.fired, false, __ATOMIC_ACQ_REL)) v.events.request_interrupt(t.vector);
        return true;
    }
    void after_exit(Vcpu&) override {}
    // before_entry takes only what a timer's callback left, and the callback kicks.
    bool direct_reentry_allowed(const Vcpu&) const override { return true; }

    // Blocks unless an interrupt waits; the timer's callback sets `fired`, then wakes a
    // blocked vCPU, while this blocks, then looks at `fired`: with a full barrier between
    // each store and the load after it, at least one of the two sees the other's store
    // (the store-buffering case), so the wake-up is never lost.
    void halt(Vcpu& v) override {
        VcpuTimer& t = timers_[v.index];
        if (v.events.interrupt_requested || __atomic_load_n(&t.fired, __ATOMIC_ACQUIRE))
            return;  // delivered at the next entry
        if (!(v.regs.rflags & kRflagsIf) && __atomic_load_n(&t.deadline_us, __ATOMIC_RELAXED) == 0) {
            log_info("%s: vcpu%u halted with interrupts off at rip %#llx: it stays halted", v.domain->name, v.index,
                     (unsigned long long)v.regs.rip);
        }
        vcpu_set_state(v, VcpuState::Blocked);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&t.fired, __ATOMIC_SEQ_CST)) vcpu_change_state(v, VcpuState::Blocked, VcpuState::Runnable);
    }

    u64 read_cr8(Vcpu& v) override { return v.cr8; }
    void write_cr8(Vcpu& v, u64 value) override { v.cr8 = value; }
    bool read_msr(Vcpu&, u32, u64&, bool&) override { return false; }
    bool write_msr(Vcpu&, u32, u64, bool&) override { return false; }
    // A restart (every vCPU stopped) forgets the timers.
    void reset() override {
        for (VcpuTimer& t : timers_) {
            timer_cancel_sync(t.timer);
            t.deadline_us = 0;
            __atomic_store_n(&t.fired, false, __ATOMIC_RELAXED);
        }
    }
    bool has_local_apics() const override { return false; }
    bool takes_console_input() const override { return false; }
    bool request_shutdown() override { return false; }
    usize footprint_bytes() const override { return sizeof(*this); }
    void console_input() override {}

    // On the vCPU's CPU, handling its hypercall.
    bool set_vcpu_timer(Vcpu& v, u64 microseconds, u8 vector) override {
        VcpuTimer& t = timers_[v.index];
        t.vector = vector;
        if (microseconds == 0) {
            timer_cancel_sync(t.timer);
            __atomic_store_n(&t.deadline_us, 0, __ATOMIC_RELAXED);
            return true;
        }
        const u64 deadline = uptime_us() + microseconds;
        __atomic_store_n(&t.deadline_us, deadline, __ATOMIC_RELAXED);
        timer_arm(t.timer, v.cpu, deadline);
        return true;
    }

    void stop_timers() override {
        for (VcpuTimer& t : timers_) timer_shutdown(t.timer);
    }

private:
    // At the deadline: a stopped vCPU ignores it (as a real CPU waiting for a start-up
    // IPI would); otherwise `fired` is set, then the vCPU is woken or kicked (halt() has
    // the ordering).
    static void timer_fired(Timer& timer, u64) {
        VcpuTimer& t = *static_cast<VcpuTimer*>(timer.owner);
        Vcpu& v = *t.vcpu;
        if (v.state == VcpuState::Stopped) return;
        __atomic_store_n(&t.deadline_us, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&t.fired, true, __ATOMIC_SEQ_CST);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        scheduler_notify_vcpu(v);
    }

    VirtualUart com1_;
    TestMmioDevice mmio_;
    VcpuTimer timers_[Domain::kMaxVcpus];
};

}  // namespace

Platform* create_test_platform(Domain& domain, const char** error) {
    auto* platform = new (kNoThrow) TestPlatform(domain);
    if (!platform) {
        *error = "out of memory for the domain's devices";
        return nullptr;
    }
    if (!platform->attach(domain)) {
        delete platform;
        *error = "the test devices' ports or MMIO ranges are taken";
        return nullptr;
    }
    return platform;
}
