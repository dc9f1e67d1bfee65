// KVM's PV EOI word (kernel/vm/devices/pc/pv_eoi.hpp) against Linux's msr.rst: the MSR's
// checks, the arming of bit 0, the take at an exit, reset and save/restore.
#include "kernel/vm/devices/pc/pv_eoi.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernel/vm/devices/platform_state_codec.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using guest_firmware_test::SparseGuestRam;

constexpr u64 kWord = 0x12340;  // a guest's per-CPU word (Linux: kvm_apic_eoi)

u32 word_of(SparseGuestRam& ram) {
    u32 w = 0;
    EXPECT_TRUE(ram.read(kWord, &w, sizeof(w)));
    return w;
}

TEST(PvEoi, OffUntilTheGuestEnablesIt) {
    SparseGuestRam ram(64 * MiB);
    PvEoi pv;
    EXPECT_TRUE(PvEoi::handles_msr(0x4b564d04));
    EXPECT_FALSE(PvEoi::handles_msr(0x4b564d01));
    EXPECT_FALSE(pv.enabled(0));
    EXPECT_FALSE(pv.arm(0, ram));
    EXPECT_FALSE(pv.armed(0));
    EXPECT_EQ(word_of(ram), 0u);
}

TEST(PvEoi, TheMsrRefusesReservedBitsAndWordsOutsideRam) {
    SparseGuestRam ram(64 * MiB);
    PvEoi pv;
    EXPECT_FALSE(pv.msr_write(0, kWord | 2 | PvEoi::kEnable, ram));   // bit 1 reserved
    EXPECT_FALSE(pv.msr_write(0, (64 * MiB) | PvEoi::kEnable, ram));  // past the RAM
    EXPECT_FALSE(pv.enabled(0));
    EXPECT_EQ(pv.msr_read(0), 0u);
    ASSERT_TRUE(pv.msr_write(0, kWord | PvEoi::kEnable, ram));
    EXPECT_TRUE(pv.enabled(0));
    EXPECT_EQ(pv.msr_read(0), kWord | PvEoi::kEnable);
    // Off again: any address may be given with the enable bit clear.
    ASSERT_TRUE(pv.msr_write(0, 64 * MiB, ram));
    EXPECT_FALSE(pv.enabled(0));
    EXPECT_FALSE(pv.msr_write(PvEoi::kMaxVcpus, kWord | PvEoi::kEnable, ram));
}

TEST(PvEoi, AGuestThatClearsTheBitLeavesTheEoiToTheHypervisor) {
    SparseGuestRam ram(64 * MiB);
    PvEoi pv;
    const u32 other_bits = 0xabcd0000;  // the rest of the word is the guest's
    ASSERT_TRUE(ram.write(kWord, &other_bits, sizeof(other_bits)));
    ASSERT_TRUE(pv.msr_write(1, kWord | PvEoi::kEnable, ram));
    ASSERT_TRUE(pv.arm(1, ram));
    EXPECT_TRUE(pv.armed(1));
    EXPECT_EQ(word_of(ram), other_bits | 1);
    // The guest's EOI: test-and-clear of bit 0.
    const u32 cleared = other_bits;
    ASSERT_TRUE(ram.write(kWord, &cleared, sizeof(cleared)));
    EXPECT_TRUE(pv.take(1, ram));
    EXPECT_FALSE(pv.armed(1));
    EXPECT_EQ(word_of(ram), other_bits);
    // Taken once only.
    EXPECT_FALSE(pv.take(1, ram));
}

TEST(PvEoi, AnUnusedOfferIsTakenBackAtTheExit) {
    SparseGuestRam ram(64 * MiB);
    PvEoi pv;
    ASSERT_TRUE(pv.msr_write(0, kWord | PvEoi::kEnable, ram));
    ASSERT_TRUE(pv.arm(0, ram));
    EXPECT_FALSE(pv.take(0, ram));  // bit still set: the guest wrote its EOI, or has none yet
    EXPECT_EQ(word_of(ram) & 1, 0u);
    EXPECT_FALSE(pv.armed(0));
}

TEST(PvEoi, ReEnablingOrResetEndsAnOffer) {
    SparseGuestRam ram(64 * MiB);
    PvEoi pv;
    ASSERT_TRUE(pv.msr_write(0, kWord | PvEoi::kEnable, ram));
    ASSERT_TRUE(pv.arm(0, ram));
    ASSERT_TRUE(pv.msr_write(0, kWord | PvEoi::kEnable, ram));
    EXPECT_FALSE(pv.armed(0));
    ASSERT_TRUE(pv.arm(0, ram));
    pv.reset();
    EXPECT_FALSE(pv.armed(0));
    EXPECT_FALSE(pv.enabled(0));
    EXPECT_EQ(pv.msr_read(0), 0u);
}

TEST(PvEoi, SaveAndRestoreKeepEachVcpusMsr) {
    SparseGuestRam ram(64 * MiB);
    PvEoi source;
    ASSERT_TRUE(source.msr_write(0, kWord | PvEoi::kEnable, ram));
    ASSERT_TRUE(source.msr_write(2, (kWord + 8) | PvEoi::kEnable, ram));
    ASSERT_TRUE(source.arm(0, ram));
    std::vector<u8> buffer(256);
    StateWriter out(buffer.data(), buffer.size());
    source.save(out, 3);
    const usize length = out.size() - platform_state::kHeaderBytes;
    PvEoi target;
    PvEoi::State state{};
    StateReader in(buffer.data() + platform_state::kHeaderBytes, length);
    ASSERT_TRUE(target.load(in, 3, state));
    EXPECT_TRUE(in.done());
    target.restore(state, 3);
    EXPECT_EQ(target.msr_read(0), kWord | PvEoi::kEnable);
    EXPECT_EQ(target.msr_read(1), 0u);
    EXPECT_EQ(target.msr_read(2), (kWord + 8) | PvEoi::kEnable);
    EXPECT_FALSE(target.armed(0));  // an offer never travels
    // Another vCPU count, or a reserved bit, is refused.
    StateReader other(buffer.data() + platform_state::kHeaderBytes, length);
    EXPECT_FALSE(target.load(other, 2, state));
    buffer[platform_state::kHeaderBytes + 4] |= 2;
    StateReader reserved(buffer.data() + platform_state::kHeaderBytes, length);
    EXPECT_FALSE(target.load(reserved, 3, state));
}

}  // namespace
