#include "kernel/vm/devices/pc/pv_eoi.hpp"

#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

constexpr u64 kReservedBit = 2;  // bit 1 of MSR_KVM_PV_EOI_EN (msr.rst)
constexpr u8 kSkipEoi = 1;       // bit 0 of the guest's word: KVM_PV_EOI_ENABLED

}  // namespace

bool PvEoi::msr_write(u32 vcpu, u64 value, GuestPhysicalMemory& memory) {
    if (vcpu >= kMaxVcpus || (value & kReservedBit)) return false;
    if (value & kEnable) {
        u32 word;
        if (!memory.read(word_address(value), &word, sizeof(word))) return false;
    }
    msr_[vcpu] = value;
    armed_[vcpu] = false;
    return true;
}

bool PvEoi::arm(u32 vcpu, GuestPhysicalMemory& memory) {
    if (!enabled(vcpu)) return false;
    // One byte, as KVM writes it: the guest's other bits of the word stay its own.
    u8 byte;
    if (!memory.read(word_address(msr_[vcpu]), &byte, 1)) return false;
    byte |= kSkipEoi;
    if (!memory.write(word_address(msr_[vcpu]), &byte, 1)) return false;
    armed_[vcpu] = true;
    return true;
}

bool PvEoi::take(u32 vcpu, GuestPhysicalMemory& memory) {
    if (!armed(vcpu)) return false;
    armed_[vcpu] = false;
    u8 byte;
    if (!memory.read(word_address(msr_[vcpu]), &byte, 1)) return false;
    if (!(byte & kSkipEoi)) return true;  // the guest took the offer
    byte &= u8(~kSkipEoi);
    memory.write(word_address(msr_[vcpu]), &byte, 1);
    return false;
}

void PvEoi::reset() {
    for (u32 v = 0; v < kMaxVcpus; ++v) {
        msr_[v] = 0;
        armed_[v] = false;
    }
}

void PvEoi::save(StateWriter& out, u32 vcpus) const {
    out.put_u32(vcpus);
    for (u32 v = 0; v < vcpus && v < kMaxVcpus; ++v) out.put_u64(msr_[v]);
}

bool PvEoi::load(StateReader& in, u32 vcpus, State& out) const {
    out = State{};
    in.require(in.get_u32() == vcpus && vcpus <= kMaxVcpus);
    for (u32 v = 0; v < vcpus && !in.failed(); ++v) {
        out.msr[v] = in.get_u64();
        in.require(!(out.msr[v] & kReservedBit));
    }
    return !in.failed();
}

void PvEoi::restore(const State& state, u32 vcpus) {
    for (u32 v = 0; v < kMaxVcpus; ++v) {
        msr_[v] = v < vcpus ? state.msr[v] : 0;
        armed_[v] = false;
    }
}
