// KVM's steal time, as Debian's stock Linux drives it once CPUID 0x40000101 shows
// KVM_FEATURE_STEAL_TIME (bit 5): Linux's arch/x86/kernel/kvm.c (kvm_register_steal_time,
// kvm_steal_clock, __kvm_vcpu_is_preempted, kvm_flush_tlb_multi); the interface is Linux's
// Documentation/virt/kvm/x86/msr.rst (MSR_KVM_STEAL_TIME) and cpuid.rst.
//
// Each vCPU names a 64-byte record of its RAM with MSR_KVM_STEAL_TIME:
//   u64 steal (ns the vCPU could run but waited for a CPU), u32 version, u32 flags,
//   u8 preempted, then padding.
// The hypervisor adds to `steal` under the version protocol (odd while it writes), so the
// guest accounts that time as stolen (/proc/stat's steal column) rather than as its own.
// `preempted` has KVM_VCPU_PREEMPTED (bit 0) while the vCPU lost its CPU and could still
// run: the guest's spinlocks and mutexes stop spinning on a lock holder that is not
// running (vcpu_is_preempted). And with KVM_FEATURE_PV_TLB_FLUSH (bit 9) a vCPU that
// wants another one's TLB flushed sets KVM_VCPU_FLUSH_TLB (bit 1) in a preempted vCPU's
// record instead of sending it an IPI; the hypervisor flushes that vCPU's TLB before it
// runs again (resumed's result).
//
// The scheduler calls preempted() when a vCPU lost its CPU to another one while it could
// run, and resumed() when it gets a CPU again after another vCPU had it, with the time it
// waited. The record lives in the guest's RAM: nothing but the MSR is the hypervisor's.
//
// Pure: the record goes through GuestPhysicalMemory. Host-tested
// (tests/unit/steal_time_test.cpp).
#pragma once

#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

class StateWriter;
class StateReader;

class StealTime {
public:
    static constexpr u32 kMsr = 0x4b564d03;  // MSR_KVM_STEAL_TIME
    static constexpr u64 kEnable = 1;        // bit 0; bits 5:1 reserved, 63:6 the address
    static constexpr u64 kReservedBits = 0x3e;
    static constexpr u64 kRecordSize = 64;
    // The record's layout (struct kvm_steal_time).
    static constexpr u64 kStealOffset = 0, kVersionOffset = 8, kPreemptedOffset = 16;
    static constexpr u8 kPreempted = 1;  // KVM_VCPU_PREEMPTED
    static constexpr u8 kFlushTlb = 2;   // KVM_VCPU_FLUSH_TLB
    static constexpr u32 kMaxVcpus = 64;

    static bool handles_msr(u32 index) { return index == kMsr; }

    // RDMSR: the last value written.
    u64 msr_read(u32 vcpu) const { return vcpu < kMaxVcpus ? msr_[vcpu] : 0; }
    // WRMSR: false (#GP) for a set reserved bit (as KVM), or, enabling, for a record that
    // is not 64 bytes of the guest's RAM.
    bool msr_write(u32 vcpu, u64 value, GuestPhysicalMemory& memory);
    bool enabled(u32 vcpu) const { return vcpu < kMaxVcpus && (msr_[vcpu] & kEnable); }

    // The vCPU lost its CPU while it could still run: `preempted` gets KVM_VCPU_PREEMPTED
    // (a guest flag already there, such as a flush request, stays).
    void preempted(u32 vcpu, GuestPhysicalMemory& memory);
    // It gets a CPU again after waiting `waited_ns` able to run: `steal` grows by that
    // under the version protocol, and `preempted` is taken back to 0 atomically (other
    // vCPUs of the guest may be setting bits in it). True when it held KVM_VCPU_FLUSH_TLB:
    // the caller flushes the vCPU's TLB before the guest runs.
    bool resumed(u32 vcpu, u64 waited_ns, GuestPhysicalMemory& memory);

    // The domain's reset: steal time off on every vCPU, as at power-on.
    void reset();

    // Save and restore (the pc_state::kStealTime record): each vCPU's MSR value. The
    // record itself is in the guest's RAM, which travels on its own.
    struct State {
        u64 msr[kMaxVcpus];
    };
    void save(StateWriter& out, u32 vcpus) const;
    // False for a value no WRMSR could have left (a reserved bit set).
    bool load(StateReader& in, u32 vcpus, State& out) const;
    void restore(const State& state, u32 vcpus);

private:
    u64 record(u32 vcpu) const { return msr_[vcpu] & ~(kRecordSize - 1); }

    u64 msr_[kMaxVcpus] = {};
};
