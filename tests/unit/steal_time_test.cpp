// KVM's steal-time record (kernel/vm/devices/pc/steal_time.hpp) against Linux's msr.rst
// and kvm.c: the MSR's checks, steal under the version protocol, the preempted flag and
// the flush request a preempted vCPU's record carries, reset and save/restore.
#include "kernel/vm/devices/pc/steal_time.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/platform_state_codec.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using guest_firmware_test::SparseGuestRam;

constexpr u64 kRecord = 0x13fc0;  // a guest's per-CPU struct kvm_steal_time, 64-byte aligned

struct Record {
    u64 steal;
    u32 version;
    u32 flags;
    u8 preempted;
};

Record record_of(SparseGuestRam& ram) {
    Record r{};
    EXPECT_TRUE(ram.read(kRecord + StealTime::kStealOffset, &r.steal, 8));
    EXPECT_TRUE(ram.read(kRecord + StealTime::kVersionOffset, &r.version, 4));
    EXPECT_TRUE(ram.read(kRecord + 12, &r.flags, 4));
    EXPECT_TRUE(ram.read(kRecord + StealTime::kPreemptedOffset, &r.preempted, 1));
    return r;
}

void set_preempted_byte(SparseGuestRam& ram, u8 value) {
    ASSERT_TRUE(ram.write(kRecord + StealTime::kPreemptedOffset, &value, 1));
}

TEST(StealTime, OffUntilTheGuestEnablesIt) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    EXPECT_TRUE(StealTime::handles_msr(0x4b564d03));
    EXPECT_FALSE(StealTime::handles_msr(0x4b564d04));
    EXPECT_FALSE(st.enabled(0));
    st.preempted(0, ram);
    EXPECT_FALSE(st.resumed(0, 5000, ram));
    EXPECT_EQ(ram.writes, 0u);  // nothing of the guest's RAM is touched
}

TEST(StealTime, TheMsrRefusesReservedBitsAndRecordsOutsideRam) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    for (u64 bit = 2; bit <= 0x20; bit <<= 1)
        EXPECT_FALSE(st.msr_write(0, kRecord | bit | StealTime::kEnable, ram)) << "bit " << bit;
    EXPECT_FALSE(st.msr_write(0, (64 * MiB - 32) | StealTime::kEnable, ram));  // runs past the RAM
    EXPECT_FALSE(st.enabled(0));
    EXPECT_EQ(st.msr_read(0), 0u);
    ASSERT_TRUE(st.msr_write(0, kRecord | StealTime::kEnable, ram));
    EXPECT_TRUE(st.enabled(0));
    EXPECT_EQ(st.msr_read(0), kRecord | StealTime::kEnable);
    // Off again (Linux's kvm_disable_steal_time writes 0).
    ASSERT_TRUE(st.msr_write(0, 0, ram));
    EXPECT_FALSE(st.enabled(0));
    EXPECT_FALSE(st.msr_write(StealTime::kMaxVcpus, kRecord | StealTime::kEnable, ram));
}

TEST(StealTime, WaitingTimeAddsUpUnderAnEvenVersion) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    ASSERT_TRUE(st.msr_write(1, kRecord | StealTime::kEnable, ram));
    EXPECT_FALSE(st.resumed(1, 2500, ram));
    Record r = record_of(ram);
    EXPECT_EQ(r.steal, 2500u);
    EXPECT_EQ(r.version, 2u);  // 0 -> 1 while written -> 2
    EXPECT_FALSE(st.resumed(1, 500, ram));
    r = record_of(ram);
    EXPECT_EQ(r.steal, 3000u);
    EXPECT_EQ(r.version, 4u);
    // No wait, no update: the version stays.
    EXPECT_FALSE(st.resumed(1, 0, ram));
    EXPECT_EQ(record_of(ram).version, 4u);
    // An odd version the guest left (junk) becomes even again after the update.
    const u32 odd = 7;
    ASSERT_TRUE(ram.write(kRecord + StealTime::kVersionOffset, &odd, 4));
    st.resumed(1, 1, ram);
    EXPECT_EQ(record_of(ram).version, 10u);
    EXPECT_EQ(record_of(ram).steal, 3001u);
}

TEST(StealTime, APreemptedVcpuIsMarkedUntilItRunsAgain) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    ASSERT_TRUE(st.msr_write(0, kRecord | StealTime::kEnable, ram));
    st.preempted(0, ram);
    EXPECT_EQ(record_of(ram).preempted, StealTime::kPreempted);
    EXPECT_FALSE(st.resumed(0, 100, ram));
    EXPECT_EQ(record_of(ram).preempted, 0u);
}

TEST(StealTime, AFlushRequestInAPreemptedRecordIsHandedToTheCaller) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    ASSERT_TRUE(st.msr_write(0, kRecord | StealTime::kEnable, ram));
    st.preempted(0, ram);
    // Another vCPU's kvm_flush_tlb_multi: cmpxchg(preempted, PREEMPTED -> PREEMPTED | FLUSH).
    set_preempted_byte(ram, StealTime::kPreempted | StealTime::kFlushTlb);
    EXPECT_TRUE(st.resumed(0, 100, ram));
    EXPECT_EQ(record_of(ram).preempted, 0u);
    // Taken once: the next resume asks for nothing.
    st.preempted(0, ram);
    EXPECT_FALSE(st.resumed(0, 100, ram));
    // A flush request already there when the vCPU is marked again stays with the mark.
    set_preempted_byte(ram, StealTime::kFlushTlb);
    st.preempted(0, ram);
    EXPECT_EQ(record_of(ram).preempted, StealTime::kPreempted | StealTime::kFlushTlb);
    EXPECT_TRUE(st.resumed(0, 0, ram));
}

// RAM whose guest changes the preempted byte between every read and exchange.
class ContendedRam final : public GuestPhysicalMemory {
public:
    bool read(u64 gpa, void* dst, usize len) override { return ram.read(gpa, dst, len); }
    bool write(u64 gpa, const void* src, usize len) override { return ram.write(gpa, src, len); }
    bool compare_exchange(u64, u64, u64, usize, bool& exchanged) override {
        exchanged = false;
        return true;
    }
    SparseGuestRam ram{64 * MiB};
};

TEST(StealTime, AByteTheGuestKeepsChangingEndsAtZeroWithAFlush) {
    ContendedRam contended;
    StealTime st;
    ASSERT_TRUE(st.msr_write(0, kRecord | StealTime::kEnable, contended));
    set_preempted_byte(contended.ram, StealTime::kPreempted);
    EXPECT_TRUE(st.resumed(0, 0, contended)) << "whatever request the guest made meanwhile is honoured";
    EXPECT_EQ(record_of(contended.ram).preempted, 0u) << "the vCPU never runs marked preempted";
}

TEST(StealTime, ResetTurnsItOff) {
    SparseGuestRam ram(64 * MiB);
    StealTime st;
    ASSERT_TRUE(st.msr_write(3, kRecord | StealTime::kEnable, ram));
    st.reset();
    EXPECT_FALSE(st.enabled(3));
    EXPECT_EQ(st.msr_read(3), 0u);
}

TEST(StealTime, SaveAndRestoreKeepEachVcpusMsr) {
    SparseGuestRam ram(64 * MiB);
    StealTime source;
    ASSERT_TRUE(source.msr_write(0, kRecord | StealTime::kEnable, ram));
    ASSERT_TRUE(source.msr_write(2, (kRecord + 64) | StealTime::kEnable, ram));
    std::vector<u8> buffer(256);
    StateWriter out(buffer.data(), buffer.size());
    source.save(out, 3);
    const usize length = out.size() - platform_state::kHeaderBytes;
    StealTime target;
    StealTime::State state{};
    StateReader in(buffer.data() + platform_state::kHeaderBytes, length);
    ASSERT_TRUE(target.load(in, 3, state));
    EXPECT_TRUE(in.done());
    target.restore(state, 3);
    EXPECT_EQ(target.msr_read(0), kRecord | StealTime::kEnable);
    EXPECT_EQ(target.msr_read(1), 0u);
    EXPECT_EQ(target.msr_read(2), (kRecord + 64) | StealTime::kEnable);
    // Another vCPU count, or a reserved bit, is refused.
    StateReader other(buffer.data() + platform_state::kHeaderBytes, length);
    EXPECT_FALSE(target.load(other, 2, state));
    buffer[platform_state::kHeaderBytes + 4] |= 4;
    StateReader reserved(buffer.data() + platform_state::kHeaderBytes, length);
    EXPECT_FALSE(target.load(reserved, 3, state));
}

}  // namespace
