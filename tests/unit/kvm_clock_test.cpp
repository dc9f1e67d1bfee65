// kvmclock (kernel/vm/devices/pc/kvm_clock.hpp): the scale Linux reads back as the TSC's
// frequency, the records it finds in its memory, and what is refused.
#include "kernel/vm/devices/pc/kvm_clock.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "kernel/vm/devices/platform_state_codec.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using guest_firmware_test::SparseGuestRam;

// Linux's pvclock_tsc_khz: the TSC frequency a guest derives from a record.
u64 linux_tsc_khz(const PvclockScale& s) {
    u64 khz = (1'000'000ull << 32) / s.mul;
    return s.shift < 0 ? khz << -s.shift : khz >> s.shift;
}

TEST(KvmClock, ScaleGivesNanosecondsAndTheTscFrequency) {
    for (u64 hz :
         {1'000'000ull, 999'999'999ull, 1'000'000'000ull, 2'094'000'000ull, 3'600'000'123ull, 10'000'000'000ull}) {
        const PvclockScale s = pvclock_scale(hz);
        EXPECT_GE(s.mul, 1u << 31) << hz;  // normalized: all 32 bits of precision
        // One second of ticks is one second, to within a part in 10^8.
        EXPECT_NEAR(double(pvclock_apply(hz, s)), 1e9, 10.0) << hz;
        // An hour of ticks too (the guest scales the whole time since device time 0).
        EXPECT_NEAR(double(pvclock_apply(hz * 3600, s)), 3600e9, 3600e9 * 1e-8) << hz;
        EXPECT_NEAR(double(linux_tsc_khz(s)), double(hz) / 1000, 1.0) << hz;
    }
}

TEST(KvmClock, EnablingPublishesTheSameRecordForEveryVcpu) {
    SparseGuestRam ram(64ull << 20);
    KvmClock clock(2'000'000'000, 5'000, 1'700'000'000);
    EXPECT_EQ(clock.msr_write(0, KvmClock::kSystemTimeMsr, 0x10000 | 1, ram), KvmClock::WriteResult::Published);
    EXPECT_EQ(clock.msr_write(1, KvmClock::kSystemTimeMsr, 0x10020 | 1, ram), KvmClock::WriteResult::Published);
    PvclockVcpuTimeInfo r0{}, r1{};
    ASSERT_TRUE(ram.read(0x10000, &r0, sizeof(r0)));
    ASSERT_TRUE(ram.read(0x10020, &r1, sizeof(r1)));
    EXPECT_EQ(r0.version % 2, 0u) << "even: the record is complete";
    EXPECT_NE(r0.version, 0u);
    EXPECT_EQ(r0.tsc_timestamp, 5'000u);
    EXPECT_EQ(r0.system_time, 0u);
    EXPECT_EQ(r0.flags, kPvclockTscStable);
    r1.version = r0.version;
    EXPECT_EQ(std::memcmp(&r0, &r1, sizeof(r0)), 0) << "one clock for all vCPUs";
    // A guest's reading at TSC 5000 + 2e9: one second.
    const PvclockScale s{r0.tsc_to_system_mul, r0.tsc_shift};
    EXPECT_NEAR(double(r0.system_time + pvclock_apply(2'000'000'000, s)), 1e9, 10.0);
    EXPECT_EQ(clock.msr_read(1, KvmClock::kSystemTimeMsr), 0x10021u);
    // Enabled again (Linux does at resume): a newer version.
    clock.msr_write(0, KvmClock::kSystemTimeMsr, 0x10000 | 1, ram);
    PvclockVcpuTimeInfo again{};
    ram.read(0x10000, &again, sizeof(again));
    EXPECT_EQ(again.version, r0.version + 2);
}

TEST(KvmClock, WallClockIsTheTimeAtSystemTimeZero) {
    SparseGuestRam ram(64ull << 20);
    KvmClock clock(1'000'000'000, 0, 1'700'000'000);
    EXPECT_EQ(clock.msr_write(0, KvmClock::kWallClockMsr, 0x2000, ram), KvmClock::WriteResult::Published);
    PvclockWallClock w{};
    ASSERT_TRUE(ram.read(0x2000, &w, sizeof(w)));
    EXPECT_EQ(w.version % 2, 0u);
    EXPECT_EQ(w.sec, 1'700'000'000u);
    EXPECT_EQ(w.nsec, 0u);
    EXPECT_EQ(clock.msr_read(0, KvmClock::kWallClockMsr), 0x2000u);
}

TEST(KvmClock, OffOrOutsideRamWritesNothing) {
    SparseGuestRam ram(64ull << 20);
    KvmClock clock(1'000'000'000, 0, 0);
    EXPECT_EQ(clock.msr_write(0, KvmClock::kSystemTimeMsr, 0x10000, ram), KvmClock::WriteResult::Off);
    // Past the end of RAM, and straddling it: nothing is written (no half record with an
    // odd version), and the WRMSR itself succeeds, as on KVM.
    EXPECT_EQ(clock.msr_write(0, KvmClock::kSystemTimeMsr, (64ull << 20) | 1, ram), KvmClock::WriteResult::BadAddress);
    EXPECT_EQ(clock.msr_write(0, KvmClock::kSystemTimeMsr, ((64ull << 20) - 16) | 1, ram),
              KvmClock::WriteResult::BadAddress);
    EXPECT_EQ(clock.msr_write(0, KvmClock::kWallClockMsr, (64ull << 20) - 4, ram), KvmClock::WriteResult::BadAddress);
    EXPECT_EQ(ram.writes, 0u);
    EXPECT_EQ(clock.msr_write(KvmClock::kMaxVcpus, KvmClock::kSystemTimeMsr, 0x10000 | 1, ram),
              KvmClock::WriteResult::Off);
    clock.msr_write(0, KvmClock::kSystemTimeMsr, 0x10000 | 1, ram);
    clock.reset();
    EXPECT_EQ(clock.msr_read(0, KvmClock::kSystemTimeMsr), 0u);
}

// A save on one host and a restore on another, whose TSC runs faster and read another
// value at device time 0: the MSRs and versions come along, and each enabled vCPU's
// record is written again with this host's scale and TSC (what the guest's clock reads
// from then on), its version moving on from the saved one.
TEST(KvmClock, ARestoreRepublishesTheRecordsOnTheNewHost) {
    SparseGuestRam ram(64ull << 20);
    KvmClock source(2'000'000'000, 5'000, 1'700'000'000);
    source.msr_write(0, KvmClock::kSystemTimeMsr, 0x10000 | 1, ram);
    source.msr_write(1, KvmClock::kSystemTimeMsr, 0x10020, ram);  // vCPU 1's clock is off
    source.msr_write(0, KvmClock::kWallClockMsr, 0x11000, ram);
    u8 buffer[256];
    StateWriter writer(buffer, sizeof(buffer));
    source.save(writer, 2);
    ASSERT_TRUE(writer.fits());
    const u8* payload = buffer + platform_state::kHeaderBytes;
    const usize length = writer.size() - platform_state::kHeaderBytes;

    KvmClock target(3'000'000'000, 0, 0);
    KvmClock::State state{};
    StateReader reader(payload, length);
    ASSERT_TRUE(target.load(reader, 2, state));
    EXPECT_TRUE(reader.done());
    target.restore(state, 2);
    EXPECT_EQ(target.msr_read(0, KvmClock::kSystemTimeMsr), 0x10000u | 1);
    EXPECT_EQ(target.msr_read(1, KvmClock::kSystemTimeMsr), 0x10020u);
    EXPECT_EQ(target.msr_read(0, KvmClock::kWallClockMsr), 0x11000u);

    const u64 writes_before = ram.writes;
    target.rebase(3'000'000'000, 777'777, 2, ram);
    PvclockVcpuTimeInfo r{};
    ASSERT_TRUE(ram.read(0x10000, &r, sizeof(r)));
    EXPECT_EQ(r.version, 4u);  // 2 at the source's publish, then the next even one
    EXPECT_EQ(r.tsc_timestamp, 777'777u);
    EXPECT_EQ(r.system_time, 0u);
    EXPECT_NEAR(double(pvclock_apply(3'000'000'000, {r.tsc_to_system_mul, r.tsc_shift})), 1e9, 10.0);
    PvclockVcpuTimeInfo off{};
    ASSERT_TRUE(ram.read(0x10020, &off, sizeof(off)));
    EXPECT_EQ(off.version, 0u);  // never enabled: nothing written there
    // The wall clock is not written again: the guest asks for it by its MSR.
    PvclockWallClock w{};
    ASSERT_TRUE(ram.read(0x11000, &w, sizeof(w)));
    EXPECT_EQ(w.version, 2u);
    EXPECT_GT(ram.writes, writes_before);
}

// A version left odd (a record half written) would keep the guest retrying for ever, and
// another vCPU count is another domain: both refused.
TEST(KvmClock, AStateNoGuestCouldHaveIsRefused) {
    KvmClock clock(2'000'000'000, 0, 0);
    u8 buffer[256];
    StateWriter writer(buffer, sizeof(buffer));
    clock.save(writer, 1);
    const usize length = writer.size() - platform_state::kHeaderBytes;
    u8* payload = buffer + platform_state::kHeaderBytes;
    KvmClock::State state{};
    {
        StateReader reader(payload, length);
        EXPECT_FALSE(clock.load(reader, 2, state));
    }
    payload[16] = 1;  // the wall clock's version
    {
        StateReader reader(payload, length);
        EXPECT_FALSE(clock.load(reader, 1, state));
    }
    payload[16] = 0;
    payload[32] = 3;  // vCPU 0's version
    {
        StateReader reader(payload, length);
        EXPECT_FALSE(clock.load(reader, 1, state));
    }
}

}  // namespace
