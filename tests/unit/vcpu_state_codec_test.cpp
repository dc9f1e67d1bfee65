// The serialised vCPU state (kernel/vcpu/vcpu_state_codec.hpp): round trips, the fixed
// version-1 layout, and strict, bounded decoding of damaged input.
#include <gtest/gtest.h>
#include <string.h>

#include "kernel/vcpu/vcpu_state_codec.hpp"

using namespace vcpu_state;

namespace {

// Version 1 offsets (the layout comment in vcpu_state_codec.hpp, worked out).
constexpr usize kSize = 1352;
constexpr usize kGprs = 16, kRip = 144, kRflags = 152, kSegments = 160, kSegmentBytes = 17;
constexpr usize kGdtr = 296, kIdtr = 306, kControl = 316, kDebug = 364, kMsrs = 412, kFpu = 492;
constexpr usize kEvents = 1332, kTsc = 1344;
constexpr usize kSegmentCount = static_cast<usize>(SegmentIndex::Count);
// Offsets within events: kind, vector, has_error_code, error_code (4), instruction_length,
// interrupt_shadow, nmi_blocked, nmi_pending, activity.
constexpr usize kEventKind = kEvents + 0, kHasErrorCode = kEvents + 2, kShadow = kEvents + 8;
constexpr usize kNmiBlocked = kEvents + 9, kNmiPending = kEvents + 10, kActivity = kEvents + 11;

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
    s.debug = {{take(), take(), take(), take()}, take(), take()};
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

VcpuStateDecodeError decode_with_byte(usize offset, u8 value) {
    Encoded e = encode(distinct_state());
    e.bytes[offset] = value;
    return decode_keeps_out_on_error(e.bytes, e.size);
}

TEST(VcpuStateCodec, SizeAndHeaderAreAsDocumented) {
    EXPECT_EQ(vcpu_state_encoded_size(), kSize);
    const VcpuArchState s = distinct_state();
    const Encoded e = encode(s);
    ASSERT_EQ(e.size, kSize);
    const u8 header[16] = {'V', 'C', 'P', 'S', 1, 0, 0, 0, 0x48, 0x05, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(memcmp(e.bytes, header, sizeof header), 0);
    EXPECT_EQ(load_le(e.bytes, 4), 0x53504356u);
    EXPECT_EQ(load_le(e.bytes + 4, 4), VcpuArchState::kVersion);
}

TEST(VcpuStateCodec, FieldsSitAtTheirVersion1Offsets) {
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

TEST(VcpuStateCodec, OtherVersionsAreUnknown) {
    EXPECT_EQ(decode_with_byte(4, VcpuArchState::kVersion + 1), VcpuStateDecodeError::UnknownVersion);
    EXPECT_EQ(decode_with_byte(4, 0), VcpuStateDecodeError::UnknownVersion);
    EXPECT_EQ(decode_with_byte(7, 1), VcpuStateDecodeError::UnknownVersion);  // 2^24 + 1
}

TEST(VcpuStateCodec, WrongLengthFieldIsBadLength) {
    Encoded e = encode(distinct_state());
    for (u64 length : {u64{0}, u64{kSize - 1}, u64{kSize + 1}, u64{0xffffffff}}) {
        store_le(e.bytes + 8, length, 4);
        EXPECT_EQ(decode_keeps_out_on_error(e.bytes, e.size), VcpuStateDecodeError::BadLength) << length;
    }
}

TEST(VcpuStateCodec, NonZeroReservedIsBadField) {
    EXPECT_EQ(decode_with_byte(12, 1), VcpuStateDecodeError::BadField);
    EXPECT_EQ(decode_with_byte(15, 0x80), VcpuStateDecodeError::BadField);
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

// Every single-bit and whole-byte corruption: no crash or out-of-bounds read (ASan,
// UBSan), `out` untouched on error, and anything accepted re-encodes to the same bytes.
TEST(VcpuStateCodec, CorruptedBytesNeverCrash) {
    const Encoded good = encode(distinct_state());
    usize accepted = 0, rejected = 0;
    for (usize offset = 0; offset < kSize; ++offset) {
        for (u8 mask : {u8{0x01}, u8{0x02}, u8{0x04}, u8{0x08}, u8{0x10}, u8{0x20}, u8{0x40}, u8{0x80}, u8{0xff}}) {
            Encoded e = good;
            e.bytes[offset] ^= mask;
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
    EXPECT_STREQ(vcpu_state_decode_error_name(VcpuStateDecodeError::BadField), "bad field");
}

}  // namespace
