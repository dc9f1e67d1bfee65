#include "kernel/vm/devices/pc/kvm_clock.hpp"

#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

constexpr u64 kNsPerSecond = 1'000'000'000;

// Writes `length` bytes of `record` at `gpa` with its first u32, the version, odd first
// and `version` (even) last: a guest that reads the record meanwhile sees an odd or a
// changed version and reads again (Linux's pvclock_read_begin/retry).
// Nothing is written unless the whole record lies in the guest's RAM.
bool write_versioned(GuestPhysicalMemory& memory, u64 gpa, const void* record, usize length, u32 version) {
    u8 probe[sizeof(PvclockVcpuTimeInfo)];
    if (length > sizeof(probe) || !memory.read(gpa, probe, length)) return false;
    const u32 writing = version - 1;
    if (!memory.write(gpa, &writing, sizeof(writing))) return false;
    const auto* bytes = static_cast<const u8*>(record);
    if (!memory.write(gpa + sizeof(u32), bytes + sizeof(u32), length - sizeof(u32))) return false;
    return memory.write(gpa, &version, sizeof(version));
}

}  // namespace

PvclockScale pvclock_scale(u64 tsc_hz) {
    // ns per tick = num / den, brought into [1/2, 1) by moving den by powers of two, so
    // that mul = num * 2^32 / den lies in [2^31, 2^32) (as KVM's kvm_get_time_scale).
    u64 num = kNsPerSecond, den = tsc_hz ? tsc_hz : 1;
    i8 shift = 0;
    while (num >= den) {  // a TSC of 1 GHz or less: ticks are scaled up
        den <<= 1;
        ++shift;
    }
    while (num * 2 < den) {  // above 2 GHz: ticks are scaled down
        den >>= 1;
        --shift;
    }
    return {u32((num << 32) / den), shift};
}

u64 pvclock_apply(u64 delta, PvclockScale scale) {
    delta = scale.shift < 0 ? delta >> -scale.shift : delta << scale.shift;
    // (delta * mul) >> 32 in 64-bit halves (Linux's mul_u64_u32_shr).
    const u64 low = (delta & 0xffffffffu) * scale.mul;
    const u64 high = (delta >> 32) * scale.mul;
    return high + (low >> 32);
}

KvmClock::KvmClock(u64 tsc_hz, u64 tsc_at_zero, i64 wall_seconds_at_zero)
    : scale_(pvclock_scale(tsc_hz)), tsc_at_zero_(tsc_at_zero), wall_seconds_at_zero_(wall_seconds_at_zero) {}

PvclockVcpuTimeInfo KvmClock::record() const {
    PvclockVcpuTimeInfo r{};
    r.tsc_timestamp = tsc_at_zero_;
    r.system_time = 0;
    r.tsc_to_system_mul = scale_.mul;
    r.tsc_shift = scale_.shift;
    r.flags = kPvclockTscStable;
    return r;
}

u64 KvmClock::msr_read(u32 vcpu, u32 index) const {
    if (index == kWallClockMsr) return wall_clock_msr_;
    return vcpu < kMaxVcpus ? system_time_msr_[vcpu] : 0;
}

KvmClock::WriteResult KvmClock::msr_write(u32 vcpu, u32 index, u64 value, GuestPhysicalMemory& memory) {
    if (index == kWallClockMsr) {
        wall_clock_msr_ = value;
        return publish_wall_clock(value, memory) ? WriteResult::Published : WriteResult::BadAddress;
    }
    if (vcpu >= kMaxVcpus) return WriteResult::Off;
    system_time_msr_[vcpu] = value;
    if (!(value & kSystemTimeEnable)) return WriteResult::Off;
    return publish_time(vcpu, memory) ? WriteResult::Published : WriteResult::BadAddress;
}

void KvmClock::reset() {
    for (u32 v = 0; v < kMaxVcpus; ++v) system_time_msr_[v] = 0;
    wall_clock_msr_ = 0;
}

bool KvmClock::publish_time(u32 vcpu, GuestPhysicalMemory& memory) {
    PvclockVcpuTimeInfo r = record();
    version_[vcpu] += 2;
    r.version = version_[vcpu];
    return write_versioned(memory, system_time_msr_[vcpu] & ~kSystemTimeEnable, &r, sizeof(r), r.version);
}

bool KvmClock::publish_wall_clock(u64 gpa, GuestPhysicalMemory& memory) {
    // The wall clock at system time 0; the guest adds its kvmclock reading.
    PvclockWallClock w{};
    wall_version_ += 2;
    w.version = wall_version_;
    w.sec = u32(wall_seconds_at_zero_ > 0 ? wall_seconds_at_zero_ : 0);
    w.nsec = 0;
    return write_versioned(memory, gpa, &w, sizeof(w), w.version);
}

void KvmClock::save(StateWriter& out, u32 vcpus) const {
    out.put_u64(u64(wall_seconds_at_zero_));
    out.put_u64(wall_clock_msr_);
    out.put_u32(wall_version_);
    out.put_u32(vcpus);
    for (u32 v = 0; v < vcpus && v < kMaxVcpus; ++v) {
        out.put_u64(system_time_msr_[v]);
        out.put_u32(version_[v]);
        out.put_u32(0);
    }
}

bool KvmClock::load(StateReader& in, u32 vcpus, State& out) const {
    out = State{};
    out.wall_seconds_at_zero = i64(in.get_u64());
    out.wall_clock_msr = in.get_u64();
    out.wall_version = in.get_u32();
    in.require(out.wall_version % 2 == 0);
    in.require(in.get_u32() == vcpus && vcpus <= kMaxVcpus);
    for (u32 v = 0; v < vcpus && !in.failed(); ++v) {
        out.system_time_msr[v] = in.get_u64();
        out.version[v] = in.get_u32();
        in.require(out.version[v] % 2 == 0);
        in.require(in.get_u32() == 0);
    }
    return !in.failed();
}

void KvmClock::restore(const State& state, u32 vcpus) {
    wall_seconds_at_zero_ = state.wall_seconds_at_zero;
    wall_clock_msr_ = state.wall_clock_msr;
    wall_version_ = state.wall_version;
    for (u32 v = 0; v < kMaxVcpus; ++v) {
        system_time_msr_[v] = v < vcpus ? state.system_time_msr[v] : 0;
        version_[v] = v < vcpus ? state.version[v] : 0;
    }
}

void KvmClock::rebase(u64 tsc_hz, u64 tsc_at_zero, u32 vcpus, GuestPhysicalMemory& memory) {
    scale_ = pvclock_scale(tsc_hz);
    tsc_at_zero_ = tsc_at_zero;
    // The wall clock is written only when the guest asks (its MSR write): its address
    // may be other memory by now. A record address that is not RAM is skipped, as at
    // the MSR write (BadAddress).
    for (u32 v = 0; v < vcpus && v < kMaxVcpus; ++v)
        if (system_time_msr_[v] & kSystemTimeEnable) publish_time(v, memory);
}
