// The machine of the Multiboot test kernels: a COM1 that prints, the test MMIO device,
// and the hypercall timer (set_timer) and vCPU start (vcpu_start) instead of local
// APICs. CR8 is a plain register of each vCPU.
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/time.hpp"
#include "kernel/vm/devices/test_mmio_device.hpp"
#include "kernel/vm/devices/virtual_uart.hpp"

namespace {

constexpr u64 kRflagsIf = 1ull << 9;

class TestPlatform final : public Platform {
public:
    explicit TestPlatform(Domain& domain) : com1_(domain) {}

    bool attach(Domain& d) {
        if (!d.io.claim(VirtualUart::kCom1, VirtualUart::kCom1 + 7, &com1_)) return false;
        // Reachable only where the domain has no RAM (a domain of 4 GiB or more has RAM there).
        if (d.memory.size() <= TestMmioDevice::kBase &&
            !d.mmio.claim(TestMmioDevice::kBase, TestMmioDevice::kSize, &mmio_))
            return false;
        return true;
    }

    bool before_entry(Vcpu&) override { return true; }
    void after_exit(Vcpu&) override {}

    // The set_timer hypercall's timer: at the deadline the vector is requested as an
    // external interrupt and a blocked vCPU wakes.
    void poll(Vcpu& v) override {
        if (v.timer_deadline_us == 0 || uptime_us() < v.timer_deadline_us || v.state == VcpuState::Stopped) return;
        v.timer_deadline_us = 0;
        v.events.request_interrupt(v.timer_vector);
        scheduler_wake_vcpu(v);
    }

    u64 next_deadline_us(Vcpu& v) override { return v.timer_deadline_us; }

    void halt(Vcpu& v) override {
        if (v.events.interrupt_requested) return;  // delivered at the next entry
        if (!(v.regs.rflags & kRflagsIf) && v.timer_deadline_us == 0) {
            log_info("%s: vcpu%u halted with interrupts off at rip %#llx: it stays halted", v.domain->name, v.index,
                     (unsigned long long)v.regs.rip);
        }
        vcpu_set_state(v, VcpuState::Blocked);
    }

    u64 read_cr8(Vcpu& v) override { return v.cr8; }
    void write_cr8(Vcpu& v, u64 value) override { v.cr8 = value; }
    bool read_msr(Vcpu&, u32, u64&, bool&) override { return false; }
    bool write_msr(Vcpu&, u32, u64, bool&) override { return false; }
    void reset() override {}
    bool has_local_apics() const override { return false; }
    bool takes_console_input() const override { return false; }
    usize footprint_bytes() const override { return sizeof(*this); }

private:
    VirtualUart com1_;
    TestMmioDevice mmio_;
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
