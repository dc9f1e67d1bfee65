// KVM's paravirtual clock, kvmclock, as Debian's stock Linux drives it once it finds KVM's
// CPUID signature (Linux's arch/x86/kernel/kvmclock.c and pvclock.c; the interface is
// Linux's Documentation/virt/kvm/x86/msr.rst and cpuid.rst). The guest gives each vCPU's
// record an address with MSR_KVM_SYSTEM_TIME_NEW and asks for the wall clock with
// MSR_KVM_WALL_CLOCK_NEW; the hypervisor writes them into its memory. The clock then
// needs no exit at all: the guest reads its TSC and scales it with the record. Linux also
// takes the TSC's frequency from the record, instead of calibrating it against the PIT
// or the PM timer, which fails when a vCPU shares its CPU (Linux then marks the TSC
// unstable and falls back to reading the emulated PM timer, an exit each time).
//
// Every vCPU gets the same record, as KVM's "master clock" does for a guest whose vCPUs'
// TSCs agree: system time 0 at the guest TSC of device time 0, so the clock is the
// platform's device time (the one its LAPIC timers and RTC use), and reads on different
// vCPUs never disagree, which PVCLOCK_TSC_STABLE_BIT lets Linux rely on.
//
// Pure: the records go through GuestPhysicalMemory. Host-tested
// (tests/unit/kvm_clock_test.cpp).
#pragma once

#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

class StateWriter;
class StateReader;

// The guest TSC to nanoseconds, as pvclock scales it: ns = ((delta << shift, or >> -shift)
// * mul) >> 32, with mul normalized to [2^31, 2^32).
struct PvclockScale {
    u32 mul;
    i8 shift;
};
PvclockScale pvclock_scale(u64 tsc_hz);
// What a guest computes from `scale` (Linux's pvclock_scale_delta).
u64 pvclock_apply(u64 delta, PvclockScale scale);

// struct pvclock_vcpu_time_info and struct pvclock_wall_clock (Linux's
// arch/x86/include/asm/pvclock-abi.h): the guest's view, little-endian.
struct __attribute__((packed)) PvclockVcpuTimeInfo {
    u32 version;  // odd while the hypervisor writes the record
    u32 pad0;
    u64 tsc_timestamp;
    u64 system_time;
    u32 tsc_to_system_mul;
    i8 tsc_shift;
    u8 flags;
    u8 pad[2];
};
static_assert(sizeof(PvclockVcpuTimeInfo) == 32);
struct __attribute__((packed)) PvclockWallClock {
    u32 version;
    u32 sec;
    u32 nsec;
};
static_assert(sizeof(PvclockWallClock) == 12);

inline constexpr u8 kPvclockTscStable = 1u << 0;  // PVCLOCK_TSC_STABLE_BIT

class KvmClock {
public:
    static constexpr u32 kWallClockMsr = 0x4b564d00;   // MSR_KVM_WALL_CLOCK_NEW
    static constexpr u32 kSystemTimeMsr = 0x4b564d01;  // MSR_KVM_SYSTEM_TIME_NEW
    static constexpr u64 kSystemTimeEnable = 1;        // bit 0 of MSR_KVM_SYSTEM_TIME_NEW
    static constexpr u32 kMaxVcpus = 64;

    // The guest's TSC runs at `tsc_hz` and read `tsc_at_zero` at device time 0, when the
    // wall clock (Unix time) was `wall_seconds_at_zero`.
    KvmClock(u64 tsc_hz, u64 tsc_at_zero, i64 wall_seconds_at_zero);

    static bool handles_msr(u32 index) { return index == kWallClockMsr || index == kSystemTimeMsr; }

    enum class WriteResult : u8 {
        Published,   // the record is in guest memory
        Off,         // the vCPU's clock is off (enable bit clear)
        BadAddress,  // not the guest's RAM: nothing written, as KVM, the write itself succeeds
    };
    // RDMSR: the last value written, as KVM's.
    u64 msr_read(u32 vcpu, u32 index) const;
    // WRMSR: KVM takes any value, so there is never a #GP.
    WriteResult msr_write(u32 vcpu, u32 index, u64 value, GuestPhysicalMemory& memory);
    // The domain's reset: every vCPU's clock off, as at power-on.
    void reset();

    // The record every vCPU gets (its version aside).
    PvclockVcpuTimeInfo record() const;

    // Save and restore (platform_state_codec.hpp; the pc_state::kKvmClock record): each
    // vCPU's MSR_KVM_SYSTEM_TIME_NEW and record version, the wall clock's MSR, version and
    // Unix time at system time 0. Not the scale or the TSC at system time 0: those are the
    // restoring host's (rebase).
    struct State {
        i64 wall_seconds_at_zero;
        u64 wall_clock_msr;
        u32 wall_version;
        u64 system_time_msr[kMaxVcpus];
        u32 version[kMaxVcpus];
    };
    void save(StateWriter& out, u32 vcpus) const;
    // False for a state no guest could have given it: an odd version (a record left half
    // written), which the guest would then wait on for ever (pvclock_read_retry).
    bool load(StateReader& in, u32 vcpus, State& out) const;
    void restore(const State& state, u32 vcpus);
    // After a restore, on this host: the guest's TSC runs at `tsc_hz` and read
    // `tsc_at_zero` at device time 0. Every enabled vCPU's record is written again into
    // the guest's memory (its version moving on), as KVM does after a migration, so that the guest's clock goes on from
    // the saved device time at this host's TSC rate, whatever the records in the restored memory said.
    void rebase(u64 tsc_hz, u64 tsc_at_zero, u32 vcpus, GuestPhysicalMemory& memory);

private:
    bool publish_time(u32 vcpu, GuestPhysicalMemory& memory);
    bool publish_wall_clock(u64 gpa, GuestPhysicalMemory& memory);

    PvclockScale scale_;
    u64 tsc_at_zero_;
    i64 wall_seconds_at_zero_;
    u64 system_time_msr_[kMaxVcpus] = {};
    u32 version_[kMaxVcpus] = {};
    u64 wall_clock_msr_ = 0;
    u32 wall_version_ = 0;
};
