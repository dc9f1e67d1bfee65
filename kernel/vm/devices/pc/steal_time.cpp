#include "kernel/vm/devices/pc/steal_time.hpp"

#include "kernel/vm/devices/platform_state_codec.hpp"

bool StealTime::msr_write(u32 vcpu, u64 value, GuestPhysicalMemory& memory) {
    if (vcpu >= kMaxVcpus || (value & kReservedBits)) return false;
    if (value & kEnable) {
        u8 probe[kRecordSize];
        if (!memory.read(value & ~(kRecordSize - 1), probe, sizeof(probe))) return false;
    }
    msr_[vcpu] = value;
    return true;
}

void StealTime::preempted(u32 vcpu, GuestPhysicalMemory& memory) {
    if (!enabled(vcpu)) return;
    const u64 at = record(vcpu) + kPreemptedOffset;
    // Compare-exchange, not a plain write: another vCPU may set KVM_VCPU_FLUSH_TLB in
    // the same byte at any moment (kvm_flush_tlb_multi's try_cmpxchg).
    for (u32 tries = 0; tries < 64; ++tries) {
        u8 current;
        if (!memory.read(at, &current, 1)) return;
        bool exchanged = false;
        if (!memory.compare_exchange(at, current, u8(current | kPreempted), 1, exchanged)) return;
        if (exchanged) return;
    }
}

bool StealTime::resumed(u32 vcpu, u64 waited_ns, GuestPhysicalMemory& memory) {
    if (!enabled(vcpu)) return false;
    const u64 base = record(vcpu);
    // The version protocol (msr.rst): odd while the hypervisor writes, the guest reads
    // again until it sees the same even version before and after. An odd version the
    // guest left there (junk before the first update) is made even first, as KVM does.
    if (waited_ns) {
        u32 version;
        u64 steal;
        if (!memory.read(base + kVersionOffset, &version, sizeof(version)) ||
            !memory.read(base + kStealOffset, &steal, sizeof(steal)))
            return false;
        version += (version & 1) + 1;
        memory.write(base + kVersionOffset, &version, sizeof(version));
        __atomic_thread_fence(__ATOMIC_RELEASE);
        steal += waited_ns;
        memory.write(base + kStealOffset, &steal, sizeof(steal));
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ++version;
        memory.write(base + kVersionOffset, &version, sizeof(version));
    }
    // Take `preempted` back to 0 in one exchange: a flush request that comes after it
    // finds the vCPU not preempted and sends an IPI instead.
    const u64 at = base + kPreemptedOffset;
    for (u32 tries = 0; tries < 64; ++tries) {
        u8 current;
        if (!memory.read(at, &current, 1)) return true;  // not RAM now (ballooned): flush
        if (!current) return false;
        bool exchanged = false;
        if (!memory.compare_exchange(at, current, 0, 1, exchanged)) return true;
        if (exchanged) return (current & kFlushTlb) != 0;
    }
    // The guest kept changing the byte: 0 it is all the same, and a flush, which is
    // never wrong, covers whatever request the plain write overwrote. A request after
    // the write finds the vCPU not preempted.
    const u8 zero = 0;
    memory.write(at, &zero, 1);
    return true;
}

void StealTime::reset() {
    for (u64& m : msr_) m = 0;
}

void StealTime::save(StateWriter& out, u32 vcpus) const {
    out.put_u32(vcpus);
    for (u32 v = 0; v < vcpus && v < kMaxVcpus; ++v) out.put_u64(msr_[v]);
}

bool StealTime::load(StateReader& in, u32 vcpus, State& out) const {
    out = State{};
    in.require(in.get_u32() == vcpus && vcpus <= kMaxVcpus);
    for (u32 v = 0; v < vcpus && !in.failed(); ++v) {
        out.msr[v] = in.get_u64();
        in.require(!(out.msr[v] & kReservedBits));
    }
    return !in.failed();
}

void StealTime::restore(const State& state, u32 vcpus) {
    for (u32 v = 0; v < kMaxVcpus; ++v) msr_[v] = v < vcpus ? state.msr[v] : 0;
}
