// The serialised vCPU state (kernel/vcpu/vcpu_state_codec.hpp): round trips, the fixed
// version-2 layout, the parts mask and the checksum, version 1 refused, and strict,
// bounded decoding of damaged input.
#include <gtest/gtest.h>
#include <string.h>

#include "kernel/vcpu/vcpu_state_codec.hpp"
#include "kernel/vm/hypercall_abi.hpp"

using namespace vcpu_state;

namespace {

// Version 2 offsets (the layout comment in vcpu_state_codec.hpp, worked out).
constexpr usize kSize = 1360;
constexpr usize kParts = 12, kChecksum = 16, kReserved = 20;
constexpr usize kGprs = 24, kRip = 152, kRflags = 160, kSegments = 168, kSegmentBytes = 17;
constexpr usize kGdtr = 304, kIdtr = 314, kControl = 324, kDebug = 372, kMsrs = 420, kFpu = 500;
constexpr usize kEvents = 1340, kTsc = 1352;
static_assert(kGprs == hypercall::kVcpuStateGprOffset && kRip == hypercall::kVcpuStateRipOffset);
static_assert(kRflags == hypercall::kVcpuStateRflagsOffset && kDebug == hypercall::kVcpuStateDebugOffset);
constexpr usize kSegmentCount = static_cast<usize>(SegmentIndex::Count);
// Offsets within events: kind, vector, has_error_code, error_code (4), instruction_length,
// interrupt_shadow, nmi_blocked, nmi_pending, activity.
constexpr usize kEventKind = kEvents + 0, kHasErrorCode = kEvents + 2, kShadow = kEvents + 8;
constexpr usize kNmiBlocked = kEvents + 9, kNmiPending = kEvents + 10, kActivity = kEvents + 11;
static_assert(kActivity == hypercall::kVcpuStateActivityOffset);

u64 load_le(const u8* p, usize width) {
    u64 v = 0;
    for (usize i = 0; i < width; ++i) v |= static_cast<u64>(p[i]) << (8 * i);
    return v;
}

void store_le(u8* p, u64 v, usize width) {
    for (usize i = 0; i < width; ++i) p[i] = static_cast<u8>(v >> (8 * i));
}

// Every field a distinct non-zero value (XSAVE bytes non-zero and position dependent;
// bools true, enums their last value).
VcpuArchState distinct_state() {
    VcpuArchState s{};
    u64 next = 0x1111'0000'0000'0001;
    auto take = [&next] { return next += 0x0101'0101'0101'0103; };
    for (auto& r : s.gpr) r = take();
    s.rip = take();
    s.rflags = take();
    for (usize i = 0; i < kSegmentCount; ++i) {
        s.segment[i] = {static_cast<u16>(0x1008 + i), static_cast<u16>(0x09b + i * 0x101), static_cast<u32>(take()),
                        take(), true};
    }
    s.gdtr = {take(), 0x7f7};
    s.idtr = {take(), 0xff1};
    s.control = {take(), take(), take(), take(), take(), take()};
    s.debug = {{take(), take(), take(), take()}, 0xffff4ff1, 0x0d0d0703};  // DR6, DR7: 32 bits
    s.msrs = {take(), take(), take(), take(), take(), take(), take(), take(), take(), take()};
    s.fpu.xcr0 = take();
    for (usize i = 0; i < Fpu::kLegacyBytes; ++i) s.fpu.legacy[i] = static_cast<u8>(1 + i % 251);
    for (usize i = 0; i < Fpu::kHeaderBytes; ++i) s.fpu.header[i] = static_cast<u8>(1 + (i + 97) % 251);
    for (usize i = 0; i < Fpu::kYmmHighBytes; ++i) s.fpu.ymm_high[i] = static_cast<u8>(1 + (i + 173) % 251);
    s.events.injected = {EventKind::SoftwareException, 0x0e, true, 0xdead'beef, 15};
    s.events.interrupt_shadow = s.events.nmi_blocked = s.events.nmi_pending = true;
    s.events.activity = ActivityState::Shutdown;
    s.tsc = take();
    return s;
}

// Field by field (the struct has padding, so no memcmp of whole structs).
::testing::AssertionResult same_state(const VcpuArchState& a, const VcpuArchState& b) {
    auto differ = [](const char* what, usize index) {
        return ::testing::AssertionFailure() << what << " [" << index << "] differs";
    };
    for (usize i = 0; i < 16; ++i)
        if (a.gpr[i] != b.gpr[i]) return differ("gpr", i);
    if (a.rip != b.rip || a.rflags != b.rflags) return differ("rip/rflags", 0);
    for (usize i = 0; i < kSegmentCount; ++i) {
        const Segment &x = a.segment[i], &y = b.segment[i];
        if (x.selector != y.selector || x.attributes != y.attributes || x.limit != y.limit || x.base != y.base ||
            x.unusable != y.unusable)
            return differ("segment", i);
    }
    if (a.gdtr.base != b.gdtr.base || a.gdtr.limit != b.gdtr.limit) return differ("gdtr", 0);
    if (a.idtr.base != b.idtr.base || a.idtr.limit != b.idtr.limit) return differ("idtr", 0);
    const Control &c = a.control, &d = b.control;
    if (c.cr0 != d.cr0 || c.cr2 != d.cr2 || c.cr3 != d.cr3 || c.cr4 != d.cr4 || c.cr8 != d.cr8 || c.efer != d.efer)
        return differ("control", 0);
    for (usize i = 0; i < 4; ++i)
        if (a.debug.dr[i] != b.debug.dr[i]) return differ("dr", i);
    if (a.debug.dr6 != b.debug.dr6 || a.debug.dr7 != b.debug.dr7) return differ("dr6/dr7", 0);
    const Msrs &m = a.msrs, &n = b.msrs;
    const u64 ma[] = {m.star,        m.lstar,        m.cstar,        m.sfmask, m.kernel_gs_base,
                      m.sysenter_cs, m.sysenter_esp, m.sysenter_eip, m.pat,    m.tsc_aux};
    const u64 mb[] = {n.star,        n.lstar,        n.cstar,        n.sfmask, n.kernel_gs_base,
                      n.sysenter_cs, n.sysenter_esp, n.sysenter_eip, n.pat,    n.tsc_aux};
    for (usize i = 0; i < 10; ++i)
        if (ma[i] != mb[i]) return differ("msr", i);
    if (a.fpu.xcr0 != b.fpu.xcr0) return differ("xcr0", 0);
    if (memcmp(a.fpu.legacy, b.fpu.legacy, Fpu::kLegacyBytes) != 0) return differ("fpu.legacy", 0);
    if (memcmp(a.fpu.header, b.fpu.header, Fpu::kHeaderBytes) != 0) return differ("fpu.header", 0);
    if (memcmp(a.fpu.ymm_high, b.fpu.ymm_high, Fpu::kYmmHighBytes) != 0) return differ("fpu.ymm_high", 0);
    const Event &e = a.events.injected, &f = b.events.injected;
    if (e.kind != f.kind || e.vector != f.vector || e.has_error_code != f.has_error_code ||
        e.error_code != f.error_code || e.instruction_length != f.instruction_length)
        return differ("events.injected", 0);
    if (a.events.interrupt_shadow != b.events.interrupt_shadow || a.events.nmi_blocked != b.events.nmi_blocked ||
        a.events.nmi_pending != b.events.nmi_pending || a.events.activity != b.events.activity)
        return differ("events", 0);
    if (a.tsc != b.tsc) return differ("tsc", 0);
    return ::testing::AssertionSuccess();
}

struct Encoded {
    u8 bytes[kSize];
    usize size;
};

Encoded encode(const VcpuArchState& s) {
    Encoded e{};
    e.size = vcpu_state_encode(s, e.bytes, sizeof e.bytes);
    return e;
}

// Decodes into a copy of distinct_state(); on error the copy must be left as it was.
VcpuStateDecodeError decode_keeps_out_on_error(const u8* in, usize length) {
    const VcpuArchState before = distinct_state();
    VcpuArchState out = before;
    const VcpuStateDecodeError error = vcpu_state_decode(in, length, out);
    if (error != VcpuStateDecodeError::None) EXPECT_TRUE(same_state(out, before)) << "length " << length;
    return error;
}

// The checksum made right again after an edit, as a toolstack does (hypercall_abi.hpp).
void reseal(u8* bytes) { hypercall::vcpu_state_seal(bytes); }

// One byte changed and the checksum made right again, so the field checks are what decides.
VcpuStateDecodeError decode_with_byte(usize offset, u8 value) {
    Encoded e = encode(distinct_state());
    e.bytes[offset] = value;
    reseal(e.bytes);
    return decode_keeps_out_on_error(e.bytes, e.size);
}

TEST(VcpuStateCodec, SizeAndHeaderAreAsDocumented) {
    EXPECT_EQ(vcpu_state_encoded_size(), kSize);
    const VcpuArchState s = distinct_state();
    const Encoded e = encode(s);
    ASSERT_EQ(e.size, kSize);
    const u8 header[16] = {'V', 'C', 'P', 'S', 2, 0, 0, 0, 0x50, 0x05, 0, 0, 0xff, 0x01, 0, 0};
    EXPECT_EQ(memcmp(e.bytes, header, sizeof header), 0);
    EXPECT_EQ(load_le(e.bytes, 4), 0x53504356u);
    EXPECT_EQ(load_le(e.bytes + 4, 4), VcpuArchState::kVersion);
    EXPECT_EQ(VcpuArchState::kVersion, 2u);
    EXPECT_EQ(load_le(e.bytes + kParts, 4), u64{kAll});
    EXPECT_EQ(load_le(e.bytes + kChecksum, 4), hypercall::vcpu_state_checksum(e.bytes, kSize));
    EXPECT_EQ(load_le(e.bytes + kReserved, 4), 0u);
}

// The checksum is the common CRC-32 (zlib's crc32()): its check value for "123456789" is
// CBF43926h, and the checksum field itself reads as 0.
TEST(VcpuStateCodec, TheChecksumIsZlibsCrc32) {
    const u8 digits[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    EXPECT_EQ(hypercall::vcpu_state_checksum(digits, 9), 0xcbf43926u);
    u8 a[kSize] = {}, b[kSize] = {};
    b[kChecksum] = 0x5a;
    b[kChecksum + 3] = 0xa5;
    EXPECT_EQ(hypercall::vcpu_state_checksum(a, kSize), hypercall::vcpu_state_checksum(b, kSize));
}

TEST(VcpuStateCodec, FieldsSitAtTheirVersion2Offsets) {
    const VcpuArchState s = distinct_state();
    const Encoded e = encode(s);
    const u8* p = e.bytes;
    for (usize i = 0; i < 16; ++i) EXPECT_EQ(load_le(p + kGprs + 8 * i, 8), s.gpr[i]) << i;
    EXPECT_EQ(load_le(p + kRip, 8), s.rip);
    EXPECT_EQ(load_le(p + kRflags, 8), s.rflags);
    for (usize i = 0; i < kSegmentCount; ++i) {
        const u8* seg = p + kSegments + i * kSegmentBytes;
        EXPECT_EQ(load_le(seg, 2), s.segment[i].selector) << i;
        EXPECT_EQ(load_le(seg + 2, 2), s.segment[i].attributes) << i;
        EXPECT_EQ(load_le(seg + 4, 4), s.segment[i].limit) << i;
        EXPECT_EQ(load_le(seg + 8, 8), s.segment[i].base) << i;
        EXPECT_EQ(seg[16], 1) << i;
    }
    EXPECT_EQ(load_le(p + kGdtr, 8), s.gdtr.base);
    EXPECT_EQ(load_le(p + kGdtr + 8, 2), s.gdtr.limit);
    EXPECT_EQ(load_le(p + kIdtr, 8), s.idtr.base);
    EXPECT_EQ(load_le(p + kIdtr + 8, 2), s.idtr.limit);
    const Control& c = s.control;
    const u64 control[] = {c.cr0, c.cr2, c.cr3, c.cr4, c.cr8, c.efer};
    for (usize i = 0; i < 6; ++i) EXPECT_EQ(load_le(p + kControl + 8 * i, 8), control[i]) << i;
    const u64 debug[] = {s.debug.dr[0], s.debug.dr[1], s.debug.dr[2], s.debug.dr[3], s.debug.dr6, s.debug.dr7};
    for (usize i = 0; i < 6; ++i) EXPECT_EQ(load_le(p + kDebug + 8 * i, 8), debug[i]) << i;
    const Msrs& m = s.msrs;
    const u64 msrs[] = {m.star,        m.lstar,        m.cstar,        m.sfmask, m.kernel_gs_base,
                        m.sysenter_cs, m.sysenter_esp, m.sysenter_eip, m.pat,    m.tsc_aux};
    for (usize i = 0; i < 10; ++i) EXPECT_EQ(load_le(p + kMsrs + 8 * i, 8), msrs[i]) << i;
    EXPECT_EQ(load_le(p + kFpu, 8), s.fpu.xcr0);
    EXPECT_EQ(memcmp(p + kFpu + 8, s.fpu.legacy, Fpu::kLegacyBytes), 0);
    EXPECT_EQ(memcmp(p + kFpu + 8 + 512, s.fpu.header, Fpu::kHeaderBytes), 0);
    EXPECT_EQ(memcmp(p + kFpu + 8 + 512 + 64, s.fpu.ymm_high, Fpu::kYmmHighBytes), 0);
    EXPECT_EQ(p[kEventKind], static_cast<u8>(EventKind::SoftwareException));
    EXPECT_EQ(p[kEvents + 1], s.events.injected.vector);
    EXPECT_EQ(p[kHasErrorCode], 1);
    EXPECT_EQ(load_le(p + kEvents + 3, 4), s.events.injected.error_code);
    EXPECT_EQ(p[kEvents + 7], s.events.injected.instruction_length);
    EXPECT_EQ(p[kShadow] + p[kNmiBlocked] + p[kNmiPending], 3);
    EXPECT_EQ(p[kActivity], static_cast<u8>(ActivityState::Shutdown));
    EXPECT_EQ(load_le(p + kTsc, 8), s.tsc);
}

TEST(VcpuStateCodec, RoundTripsEveryField) {
    const VcpuArchState s = distinct_state();
    const Encoded e = encode(s);
    ASSERT_EQ(e.size, kSize);
    VcpuArchState out{};
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out), VcpuStateDecodeError::None);
    EXPECT_TRUE(same_state(out, s));
}

TEST(VcpuStateCodec, RoundTripsZeroStateAndMixedFlags) {
    VcpuArchState zero{};
    VcpuArchState out = distinct_state();
    Encoded e = encode(zero);
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out), VcpuStateDecodeError::None);
    EXPECT_TRUE(same_state(out, zero));

    VcpuArchState mixed = distinct_state();
    mixed.seg(SegmentIndex::Cs).unusable = false;
    mixed.events.injected = {EventKind::Nmi, 2, false, 0, 0};
    mixed.events.nmi_blocked = false;
    mixed.events.activity = ActivityState::WaitForSipi;
    e = encode(mixed);
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out), VcpuStateDecodeError::None);
    EXPECT_TRUE(same_state(out, mixed));
}

TEST(VcpuStateCodec, EncodeNeedsTheWholeSize) {
    u8 buffer[kSize + 8];
    memset(buffer, 0xcc, sizeof buffer);
    EXPECT_EQ(vcpu_state_encode(distinct_state(), buffer, kSize - 1), 0u);
    EXPECT_EQ(vcpu_state_encode(distinct_state(), buffer, 0), 0u);
    for (u8 b : buffer) ASSERT_EQ(b, 0xcc);  // nothing written
    EXPECT_EQ(vcpu_state_encode(distinct_state(), buffer, sizeof buffer), kSize);
    EXPECT_EQ(buffer[kSize], 0xcc);  // nothing past the encoding
}

TEST(VcpuStateCodec, TruncatedInputIsTooShortAndLeavesOutAlone) {
    const Encoded e = encode(distinct_state());
    for (usize length = 0; length < kSize; ++length) {
        // A copy of exactly `length` bytes, so ASan catches any read past it.
        u8* exact = new u8[length == 0 ? 1 : length];
        memcpy(exact, e.bytes, length);
        EXPECT_EQ(decode_keeps_out_on_error(exact, length), VcpuStateDecodeError::TooShort) << "length " << length;
        delete[] exact;
    }
}

TEST(VcpuStateCodec, BytesBeyondTheEncodingAreBadLength) {
    u8 buffer[kSize + 1] = {};
    ASSERT_EQ(vcpu_state_encode(distinct_state(), buffer, sizeof buffer), kSize);
    EXPECT_EQ(decode_keeps_out_on_error(buffer, sizeof buffer), VcpuStateDecodeError::BadLength);
}

TEST(VcpuStateCodec, WrongMagicIsBadMagic) {
    EXPECT_EQ(decode_with_byte(0, 'v'), VcpuStateDecodeError::BadMagic);
    EXPECT_EQ(decode_with_byte(3, 'T'), VcpuStateDecodeError::BadMagic);
}

// Version 1 (a 16-byte header {magic, 1, 1352, 0} and the same body) is refused, at its
// own length and at version 2's.
TEST(VcpuStateCodec, Version1IsRefused) {
    const Encoded v2 = encode(distinct_state());
    u8 v1[1352];
    store_le(v1, 0x53504356, 4);
    store_le(v1 + 4, 1, 4);
    store_le(v1 + 8, 1352, 4);
    store_le(v1 + 12, 0, 4);
    memcpy(v1 + 16, v2.bytes + 24, kSize - 24);
    EXPECT_EQ(decode_keeps_out_on_error(v1, sizeof v1), VcpuStateDecodeError::UnknownVersion);
    EXPECT_EQ(decode_with_byte(4, 1), VcpuStateDecodeError::UnknownVersion);
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::UnknownVersion), "unknown version");
}

TEST(VcpuStateCodec, OtherVersionsAreUnknown) {
    EXPECT_EQ(decode_with_byte(4, VcpuArchState::kVersion + 1), VcpuStateDecodeError::UnknownVersion);
    EXPECT_EQ(decode_with_byte(4, 0), VcpuStateDecodeError::UnknownVersion);
    EXPECT_EQ(decode_with_byte(7, 1), VcpuStateDecodeError::UnknownVersion);  // 2^24 + 2
}

TEST(VcpuStateCodec, WrongLengthFieldIsBadLength) {
    Encoded e = encode(distinct_state());
    for (u64 length : {u64{0}, u64{kSize - 1}, u64{kSize + 1}, u64{0xffffffff}}) {
        store_le(e.bytes + 8, length, 4);
        EXPECT_EQ(decode_keeps_out_on_error(e.bytes, e.size), VcpuStateDecodeError::BadLength) << length;
    }
}

TEST(VcpuStateCodec, NonZeroReservedIsBadField) {
    EXPECT_EQ(decode_with_byte(kReserved, 1), VcpuStateDecodeError::BadField);
    EXPECT_EQ(decode_with_byte(kReserved + 3, 0x80), VcpuStateDecodeError::BadField);
}

TEST(VcpuStateCodec, UnknownPartsAreBadField) {
    EXPECT_EQ(decode_with_byte(kParts + 1, 2), VcpuStateDecodeError::BadField);  // bit 9
    EXPECT_EQ(decode_with_byte(kParts + 3, 0x80), VcpuStateDecodeError::BadField);
}

// Any change to the body or the parts mask without sealing again: every single-bit flip
// and every whole-byte inversion after the magic, version and length is a bad checksum,
// and `out` is left alone.
TEST(VcpuStateCodec, CorruptionWithoutResealingIsBadChecksum) {
    const Encoded good = encode(distinct_state());
    for (usize offset = kParts; offset < kSize; ++offset) {
        for (u8 mask : {u8{0x01}, u8{0x10}, u8{0x80}, u8{0xff}}) {
            Encoded e = good;
            e.bytes[offset] ^= mask;
            ASSERT_EQ(decode_keeps_out_on_error(e.bytes, e.size), VcpuStateDecodeError::BadChecksum)
                << "offset " << offset << " mask " << int(mask);
        }
    }
    Encoded e = good;
    store_le(e.bytes + kDebug, load_le(e.bytes + kDebug, 8) + 1, 8);  // DR0 one higher
    EXPECT_EQ(decode_keeps_out_on_error(e.bytes, e.size), VcpuStateDecodeError::BadChecksum);
    reseal(e.bytes);
    VcpuArchState out{};
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out), VcpuStateDecodeError::None) << "sealed again, it decodes";
    EXPECT_EQ(out.debug.dr[0], distinct_state().debug.dr[0] + 1);
}

// DR0-DR3 take any 64-bit value (the codec does not judge addresses); DR6 and DR7 have
// bits 63:32 reserved.
TEST(VcpuStateCodec, DebugRegistersRoundTripAndDr6Dr7Stay32Bit) {
    VcpuArchState s = distinct_state();
    s.debug = {{0xffff'8000'0000'1000ull, 0x7fff'ffff'ffffull, 1, 0xffff'ffff'ffff'ffffull}, 0xffff0ff0, 0x400};
    const Encoded e = encode(s);
    VcpuArchState out{};
    u32 parts = 0;
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out, &parts), VcpuStateDecodeError::None);
    EXPECT_TRUE(same_state(out, s));
    EXPECT_EQ(parts, u32{kAll});
    for (usize i = 0; i < 4; ++i) EXPECT_EQ(load_le(e.bytes + kDebug + 8 * i, 8), s.debug.dr[i]) << i;
    EXPECT_EQ(decode_with_byte(kDebug + 32 + 4, 1), VcpuStateDecodeError::BadField) << "DR6 bit 32";
    EXPECT_EQ(decode_with_byte(kDebug + 40 + 7, 0x80), VcpuStateDecodeError::BadField) << "DR7 bit 63";
    EXPECT_EQ(decode_with_byte(kDebug + 7, 0x80), VcpuStateDecodeError::None) << "DR0 bit 63";
}

// A state of some parts only (the Part names are qualified: kGprs, kSegments and kDebug
// here are offsets): the others encode as zeros, decode as zeros, and a non-zero
// byte in one of them is refused even with the checksum right.
TEST(VcpuStateCodec, PartsMaskNamesWhatTheStateCarries) {
    const VcpuArchState s = distinct_state();
    Encoded e{};
    e.size = vcpu_state_encode(s, e.bytes, sizeof e.bytes, vcpu_state::kDebug | vcpu_state::kRipFlags);
    ASSERT_EQ(e.size, kSize);
    EXPECT_EQ(load_le(e.bytes + kParts, 4), u64{vcpu_state::kDebug | vcpu_state::kRipFlags});
    EXPECT_EQ(load_le(e.bytes + kGprs, 8), 0u) << "GPRs absent";
    EXPECT_EQ(load_le(e.bytes + kTsc, 8), 0u) << "TSC (kTsc) absent";
    EXPECT_EQ(load_le(e.bytes + kRip, 8), s.rip);
    EXPECT_EQ(load_le(e.bytes + kDebug, 8), s.debug.dr[0]);
    VcpuArchState out = distinct_state();
    u32 parts = 0;
    ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out, &parts), VcpuStateDecodeError::None);
    EXPECT_EQ(parts, u32{vcpu_state::kDebug | vcpu_state::kRipFlags});
    VcpuArchState expected{};
    expected.rip = s.rip;
    expected.rflags = s.rflags;
    expected.debug = s.debug;
    EXPECT_TRUE(same_state(out, expected));
    for (usize offset : {kGprs, kSegments + 16, kFpu + 100, kActivity, kTsc + 7}) {
        Encoded bad = e;
        bad.bytes[offset] = 1;
        reseal(bad.bytes);
        EXPECT_EQ(decode_keeps_out_on_error(bad.bytes, bad.size), VcpuStateDecodeError::BadField) << offset;
    }
    EXPECT_EQ(vcpu_state_encode(s, e.bytes, sizeof e.bytes, 0xffff'fe00u | vcpu_state::kGprs), kSize)
        << "unknown bits dropped";
    EXPECT_EQ(load_le(e.bytes + kParts, 4), u64{vcpu_state::kGprs});
}

TEST(VcpuStateCodec, EnumsOutOfRangeAreBadField) {
    EXPECT_EQ(decode_with_byte(kEventKind, static_cast<u8>(EventKind::PrivilegedSoftwareException) + 1),
              VcpuStateDecodeError::BadField);
    EXPECT_EQ(decode_with_byte(kEventKind, 0xff), VcpuStateDecodeError::BadField);
    EXPECT_EQ(decode_with_byte(kActivity, static_cast<u8>(ActivityState::Shutdown) + 1),
              VcpuStateDecodeError::BadField);
    EXPECT_EQ(decode_with_byte(kActivity, 0x80), VcpuStateDecodeError::BadField);
}

TEST(VcpuStateCodec, BoolBytesOtherThanZeroOrOneAreBadField) {
    usize bools[kSegmentCount + 4] = {kHasErrorCode, kShadow, kNmiBlocked, kNmiPending};
    for (usize i = 0; i < kSegmentCount; ++i) bools[4 + i] = kSegments + i * kSegmentBytes + 16;
    for (usize offset : bools) {
        EXPECT_EQ(decode_with_byte(offset, 2), VcpuStateDecodeError::BadField) << offset;
        EXPECT_EQ(decode_with_byte(offset, 0xff), VcpuStateDecodeError::BadField) << offset;
        EXPECT_EQ(decode_with_byte(offset, 0), VcpuStateDecodeError::None) << offset;
    }
}

TEST(VcpuStateCodec, SegmentAttributesAbove12BitsAreBadField) {
    for (usize i = 0; i < kSegmentCount; ++i) {
        const usize high = kSegments + i * kSegmentBytes + 3;  // attribute bits 15:8
        EXPECT_EQ(decode_with_byte(high, 0x1f), VcpuStateDecodeError::BadField) << i;
        EXPECT_EQ(decode_with_byte(high, 0x80), VcpuStateDecodeError::BadField) << i;
        EXPECT_EQ(decode_with_byte(high, 0x0f), VcpuStateDecodeError::None) << i;
    }
}

// Every single-bit and whole-byte corruption, sealed again so that the field checks see
// it: no crash or out-of-bounds read (ASan, UBSan), `out` untouched on error, and anything
// accepted re-encodes to the same bytes.
TEST(VcpuStateCodec, CorruptedBytesNeverCrash) {
    const Encoded good = encode(distinct_state());
    usize accepted = 0, rejected = 0;
    for (usize offset = 0; offset < kSize; ++offset) {
        for (u8 mask : {u8{0x01}, u8{0x02}, u8{0x04}, u8{0x08}, u8{0x10}, u8{0x20}, u8{0x40}, u8{0x80}, u8{0xff}}) {
            Encoded e = good;
            e.bytes[offset] ^= mask;
            reseal(e.bytes);
            VcpuArchState out = distinct_state();
            const VcpuStateDecodeError error = decode_keeps_out_on_error(e.bytes, e.size);
            if (error != VcpuStateDecodeError::None) {
                ++rejected;
                continue;
            }
            ++accepted;
            ASSERT_EQ(vcpu_state_decode(e.bytes, e.size, out), VcpuStateDecodeError::None);
            const Encoded again = encode(out);
            ASSERT_EQ(memcmp(again.bytes, e.bytes, kSize), 0) << "offset " << offset;
        }
    }
    EXPECT_GT(accepted, 0u);
    EXPECT_GT(rejected, 0u);
}

TEST(VcpuStateCodec, ErrorsHaveNames) {
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::None), "none");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::TooShort), "too short");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::BadMagic), "bad magic");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::UnknownVersion), "unknown version");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::BadLength), "bad length");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::BadChecksum), "bad checksum");
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::BadField), "bad field");
}

}  // namespace
