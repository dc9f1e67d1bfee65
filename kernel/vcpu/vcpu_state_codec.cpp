// The serialised form of VcpuArchState (see vcpu_state_codec.hpp for the layout). One
// visit_* walk lists the fields in order; a Sizer, a Writer and a Reader each follow it,
// so the size, the encoder and the decoder cannot disagree about the layout.
#include "kernel/vcpu/vcpu_state_codec.hpp"

#include "kernel/vm/hypercall_abi.hpp"

using namespace vcpu_state;

namespace {

constexpr u32 kMagic = 0x53504356;  // "VCPS" as little-endian bytes
constexpr usize kHeaderBytes = 24;
constexpr u16 kAttributeMask = 0x0fff;
static_assert(VcpuArchState::kVersion == hypercall::kVcpuStateVersion);

// Each of Sizer, Writer and Reader has `absent`, set while the walk is in a part the
// mask leaves out: its bytes are written as 0 and must read as 0.

// Counts the bytes the walk would write.
struct Sizer {
    usize size = 0;
    bool absent = false;

    constexpr void field(u8) { size += 1; }
    constexpr void field(bool) { size += 1; }
    constexpr void field(u16) { size += 2; }
    constexpr void field(u32) { size += 4; }
    constexpr void field(u64) { size += 8; }
    constexpr void bytes(const u8*, usize n) { size += n; }
    template <typename E>
    constexpr void enumeration(E, E) {
        size += 1;
    }
    constexpr void attributes(u16) { size += 2; }
    constexpr void register32(u64) { size += 8; }
};

// Writes little-endian fields; the caller has checked the capacity.
struct Writer {
    u8* out;
    usize pos = 0;
    bool absent = false;

    void put(u64 value, usize width) {
        if (absent) value = 0;
        for (usize i = 0; i < width; ++i) out[pos + i] = static_cast<u8>(value >> (8 * i));
        pos += width;
    }
    void field(u8 v) { put(v, 1); }
    void field(bool v) { put(v ? 1 : 0, 1); }
    void field(u16 v) { put(v, 2); }
    void field(u32 v) { put(v, 4); }
    void field(u64 v) { put(v, 8); }
    void bytes(const u8* src, usize n) {
        for (usize i = 0; i < n; ++i) out[pos + i] = absent ? 0 : src[i];
        pos += n;
    }
    template <typename E>
    void enumeration(E v, E) {
        put(static_cast<u8>(v), 1);
    }
    void attributes(u16 v) { put(v, 2); }
    void register32(u64 v) { put(v, 8); }
};

// Reads little-endian fields, never past `length`: a read beyond it yields 0 and sets
// overrun. A value the format forbids sets bad_field (the field keeps what was read).
struct Reader {
    const u8* in;
    usize length;
    usize pos = 0;
    bool overrun = false;
    bool bad_field = false;
    bool absent = false;

    u64 get(usize width) {
        if (width > length - pos) {
            overrun = true;
            pos = length;
            return 0;
        }
        u64 value = 0;
        for (usize i = 0; i < width; ++i) value |= static_cast<u64>(in[pos + i]) << (8 * i);
        pos += width;
        if (absent && value != 0) bad_field = true;
        return value;
    }
    void field(u8& v) { v = static_cast<u8>(get(1)); }
    void field(bool& v) {
        const u64 raw = get(1);
        if (raw > 1) bad_field = true;
        v = raw == 1;
    }
    void field(u16& v) { v = static_cast<u16>(get(2)); }
    void field(u32& v) { v = static_cast<u32>(get(4)); }
    void field(u64& v) { v = get(8); }
    void bytes(u8* dst, usize n) {
        for (usize i = 0; i < n; ++i) dst[i] = static_cast<u8>(get(1));
    }
    template <typename E>
    void enumeration(E& v, E last) {
        const u64 raw = get(1);
        if (raw > static_cast<u8>(last)) bad_field = true;
        v = static_cast<E>(raw);
    }
    void attributes(u16& v) {
        field(v);
        if (v & ~kAttributeMask) bad_field = true;
    }
    // DR6 and DR7: bits 63:32 are reserved, must be 0 (SDM vol. 3A 18.2.4-18.2.6; MOV DR
    // faults otherwise, and VMRUN and VM entry refuse them: APM vol. 2 15.5.1, SDM vol. 3C
    // 26.3.1.1).
    void register32(u64& v) {
        field(v);
        if (v >> 32) bad_field = true;
    }
};

// The walks: `s` is const for Sizer and Writer, mutable for Reader.
constexpr void visit_segment(auto& io, auto& s) {
    io.field(s.selector);
    io.attributes(s.attributes);
    io.field(s.limit);
    io.field(s.base);
    io.field(s.unusable);
}

constexpr void visit_table(auto& io, auto& t) {
    io.field(t.base);
    io.field(t.limit);
}

constexpr void visit_control(auto& io, auto& c) {
    io.field(c.cr0);
    io.field(c.cr2);
    io.field(c.cr3);
    io.field(c.cr4);
    io.field(c.cr8);
    io.field(c.efer);
}

constexpr void visit_debug(auto& io, auto& d) {
    for (auto& dr : d.dr) io.field(dr);
    io.register32(d.dr6);
    io.register32(d.dr7);
}

constexpr void visit_msrs(auto& io, auto& m) {
    io.field(m.star);
    io.field(m.lstar);
    io.field(m.cstar);
    io.field(m.sfmask);
    io.field(m.kernel_gs_base);
    io.field(m.sysenter_cs);
    io.field(m.sysenter_esp);
    io.field(m.sysenter_eip);
    io.field(m.pat);
    io.field(m.tsc_aux);
}

constexpr void visit_fpu(auto& io, auto& f) {
    io.field(f.xcr0);
    io.bytes(f.legacy, Fpu::kLegacyBytes);
    io.bytes(f.header, Fpu::kHeaderBytes);
    io.bytes(f.ymm_high, Fpu::kYmmHighBytes);
}

constexpr void visit_events(auto& io, auto& e) {
    io.enumeration(e.injected.kind, EventKind::PrivilegedSoftwareException);
    io.field(e.injected.vector);
    io.field(e.injected.has_error_code);
    io.field(e.injected.error_code);
    io.field(e.injected.instruction_length);
    io.field(e.interrupt_shadow);
    io.field(e.nmi_blocked);
    io.field(e.nmi_pending);
    io.enumeration(e.activity, ActivityState::Shutdown);
}

// Every field, each under the part it belongs to (vcpu_state::Part).
constexpr void visit_state(auto& io, auto& s, u32 parts) {
    auto part = [&io, parts](u32 p) { io.absent = (parts & p) == 0; };
    part(kGprs);
    for (auto& r : s.gpr) io.field(r);
    part(kRipFlags);
    io.field(s.rip);
    io.field(s.rflags);
    part(kSegments);
    for (auto& seg : s.segment) visit_segment(io, seg);
    visit_table(io, s.gdtr);
    visit_table(io, s.idtr);
    part(kControl);
    visit_control(io, s.control);
    part(kDebug);
    visit_debug(io, s.debug);
    part(kMsrs);
    visit_msrs(io, s.msrs);
    part(kFpu);
    visit_fpu(io, s.fpu);
    part(kEvents);
    visit_events(io, s.events);
    part(kTsc);
    io.field(s.tsc);
    io.absent = false;
}

constexpr usize encoded_size() {
    Sizer sizer;
    sizer.size = kHeaderBytes;
    const VcpuArchState state{};
    visit_state(sizer, state, kAll);
    return sizer.size;
}

constexpr usize kEncodedSize = encoded_size();
static_assert(kEncodedSize == 1360, "the layout of version 2 changed: bump VcpuArchState::kVersion");
static_assert(kEncodedSize == hypercall::kVcpuStateSize, "docs/hypercalls.md names the size");
static_assert(hypercall::kVcpuStatePartsOffset == 12 && hypercall::kVcpuStateChecksumOffset == 16);

struct Header {
    u32 magic, version, length, parts, checksum, reserved;
};

VcpuStateDecodeError check_header(Reader& r, const u8* in, usize length, u32& parts) {
    Header h{};
    r.field(h.magic);
    r.field(h.version);
    r.field(h.length);
    r.field(h.parts);
    r.field(h.checksum);
    r.field(h.reserved);
    if (h.magic != kMagic) return VcpuStateDecodeError::BadMagic;
    // Version 1 (1352 bytes, a 16-byte header without parts or checksum) is refused like
    // any other: its only producer, this hypervisor before DR0-DR3 were switched, wrote
    // them as 0, so a restore from it would silently take the guest's breakpoints away.
    if (h.version != VcpuArchState::kVersion) return VcpuStateDecodeError::UnknownVersion;
    if (h.length != kEncodedSize) return VcpuStateDecodeError::BadLength;
    if (length < kEncodedSize) return VcpuStateDecodeError::TooShort;
    if (length > kEncodedSize) return VcpuStateDecodeError::BadLength;
    if (h.checksum != hypercall::vcpu_state_checksum(in, u32(kEncodedSize))) return VcpuStateDecodeError::BadChecksum;
    if (h.reserved != 0 || (h.parts & ~u32(kAll)) != 0) return VcpuStateDecodeError::BadField;
    parts = h.parts;
    return VcpuStateDecodeError::None;
}

}  // namespace

usize vcpu_state_encoded_size() { return kEncodedSize; }

usize vcpu_state_encode(const VcpuArchState& state, u8* out, usize capacity, u32 parts) {
    if (out == nullptr || capacity < kEncodedSize) return 0;
    parts &= kAll;
    Writer w{out};
    w.field(kMagic);
    w.field(VcpuArchState::kVersion);
    w.field(static_cast<u32>(kEncodedSize));
    w.field(parts);
    w.field(u32{0});  // the checksum, computed over the rest below
    w.field(u32{0});
    visit_state(w, state, parts);
    hypercall::vcpu_state_seal(out);
    return w.pos;
}

const char* vcpu_state_decode_error_name(VcpuStateDecodeError error) {
    switch (error) {
        case VcpuStateDecodeError::None: return "none";
        case VcpuStateDecodeError::TooShort: return "too short";
        case VcpuStateDecodeError::BadMagic: return "bad magic";
        case VcpuStateDecodeError::UnknownVersion: return "unknown version";
        case VcpuStateDecodeError::BadLength: return "bad length";
        case VcpuStateDecodeError::BadChecksum: return "bad checksum";
        case VcpuStateDecodeError::BadField: return "bad field";
    }
    return "unknown error";
}

VcpuStateDecodeError vcpu_state_decode(const u8* in, usize length, VcpuArchState& out, u32* parts_out) {
    if (in == nullptr || length < kHeaderBytes) return VcpuStateDecodeError::TooShort;
    Reader r{in, length};
    u32 parts = 0;
    const VcpuStateDecodeError header = check_header(r, in, length, parts);
    if (header != VcpuStateDecodeError::None) return header;
    VcpuArchState state{};
    visit_state(r, state, parts);
    if (r.overrun) return VcpuStateDecodeError::TooShort;
    if (r.bad_field) return VcpuStateDecodeError::BadField;
    out = state;
    if (parts_out) *parts_out = parts;
    return VcpuStateDecodeError::None;
}
