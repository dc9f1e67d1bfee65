// Instruction decoding in the order of the SDM vol. 2 figure 2-1: legacy prefixes, REX
// or VEX/EVEX/XOP, opcode (with escapes), ModRM, SIB, displacement, immediate.
#include "kernel/emulator/decoder.hpp"

#include "kernel/emulator/classify.hpp"
#include "kernel/emulator/opcode_table.hpp"
#include "kernel/emulator/validity.hpp"

using namespace x86_decode;

namespace {

// No instruction may exceed 15 bytes, #GP(0) otherwise (SDM vol. 2 2.3.11, APM vol. 3 1.1).
constexpr usize kMaxLength = 15;

constexpr u8 kRegSp = 4;
constexpr u8 kRegBp = 5;
constexpr u8 kRegSi = 6;
constexpr u8 kRegDi = 7;
constexpr u8 kRegBx = 3;

// What a decoder that needs the byte at `index` must report when it is missing.
DecodeResult reach(usize index, usize available) {
    if (index >= kMaxLength) return DecodeResult::TooLong;
    if (index >= available) return DecodeResult::NeedMoreBytes;
    return DecodeResult::Ok;
}

// 26 2E 36 3E select ES CS SS DS (bits 4:3), 64 and 65 FS and GS.
Segment segment_of_prefix(u8 prefix) {
    if (prefix >= 0x64) return prefix == 0x64 ? Segment::FS : Segment::GS;
    return Segment((prefix >> 3) & 3);
}

u64 read_le(const u8* p, usize size) {
    u64 value = 0;
    for (usize i = 0; i < size; ++i) value |= u64(p[i]) << (8 * i);
    return value;
}

i64 sign_extend(u64 value, usize size) {
    switch (size) {
        case 1: return i8(value);
        case 2: return i16(value);
        case 4: return i32(value);
        default: return i64(value);
    }
}

// The opcode's shape, from the tables or from the rules for the three-byte and VEX maps.
struct Shape {
    bool modrm = false;
    bool mod_ignored = false;  // MOV CRn/DRn: ModRM always names registers (SDM vol. 2 MOV CR)
    Imm imm = Imm::None;
    SizeRule size = SizeRule::Word;
};

class Decoder {
public:
    Decoder(const u8* bytes, usize available, CpuMode mode, CpuVendor vendor)
        : bytes_(bytes), available_(available), mode_(mode), vendor_(vendor) {
        d_.mode = mode;
    }

    DecodeResult run(DecodedInstruction& out);

private:
    bool long_mode() const { return mode_ == CpuMode::Long64; }
    DecodeResult need(usize index) const { return reach(index, available_); }

    DecodeResult prefixes();
    DecodeResult opcode();
    DecodeResult vector_prefix(u8 first);
    DecodeResult legacy_opcode();
    DecodeResult modrm_sib();
    void sizes();
    u8 immediate_size(u8& second) const;
    void fill_operands(usize immediate_at, u8 size1, u8 size2);
    void memory_from_modrm();
    void set_segment(Segment default_segment);

    const u8* bytes_;
    usize available_;
    CpuMode mode_;
    CpuVendor vendor_;
    DecodedInstruction d_{};
    usize pos_ = 0;
    Shape shape_;
    u8 displacement_size_ = 0;
};

DecodeResult Decoder::run(DecodedInstruction& out) {
    DecodeResult result = prefixes();
    if (result == DecodeResult::Ok) result = opcode();
    if (result == DecodeResult::Ok) result = modrm_sib();
    if (result != DecodeResult::Ok) return result;
    sizes();
    u8 size2 = 0;
    const u8 size1 = immediate_size(size2);
    const usize immediate_at = pos_ + displacement_size_;
    const usize length = immediate_at + size1 + size2;
    // With the shape known, an over-long instruction is #GP whatever the bytes hold.
    if (length > kMaxLength) return DecodeResult::TooLong;
    if (!encoding_valid(d_, vendor_)) return DecodeResult::Invalid;
    if (length > available_) return DecodeResult::NeedMoreBytes;
    d_.length = u8(length);
    fill_operands(immediate_at, size1, size2);
    classify(d_);
    out = d_;
    return DecodeResult::Ok;
}

// Legacy prefixes in any order and number (SDM vol. 2 2.1.1); in 64-bit mode a REX
// prefix counts only directly before the opcode, one followed by a legacy prefix is
// ignored (SDM vol. 2 2.2.1, APM vol. 3 1.2.7).
DecodeResult Decoder::prefixes() {
    LegacyPrefixes& p = d_.prefixes;
    bool rex_pending = false;
    u8 rex = 0;
    for (;;) {
        if (DecodeResult r = need(pos_); r != DecodeResult::Ok) return r;
        const u8 b = bytes_[pos_];
        if (long_mode() && (b & 0xf0) == 0x40) {
            if (rex_pending) ++p.count;  // a REX followed by another REX is ignored
            rex_pending = true;
            rex = b;
            ++pos_;
            continue;
        }
        switch (b) {
            case 0xf0: p.lock = true; break;
            case 0xf2:
                p.repne = true;
                p.rep = false;
                break;
            case 0xf3:
                p.rep = true;
                p.repne = false;
                break;
            case 0x66: p.operand_size = true; break;
            case 0x67: p.address_size = true; break;
            case 0x26:
            case 0x2e:
            case 0x36:
            case 0x3e:
            case 0x64:
            case 0x65:
                p.has_segment = true;
                p.segment = segment_of_prefix(b);
                break;
            default:
                if (rex_pending) {
                    d_.rex.present = true;
                    d_.rex.w = (rex & 8) != 0;
                    d_.rex.r = (rex & 4) != 0;
                    d_.rex.x = (rex & 2) != 0;
                    d_.rex.b = (rex & 1) != 0;
                }
                return DecodeResult::Ok;
        }
        if (rex_pending) ++p.count;
        rex_pending = false;
        ++p.count;
        ++pos_;
    }
}

DecodeResult Decoder::opcode() {
    const u8 first = bytes_[pos_];
    // C4/C5 (LES/LDS), 62 (BOUND) outside 64-bit mode are VEX/EVEX only when the next
    // byte would be a register-form ModRM, which those instructions do not allow (SDM
    // vol. 2 2.3.5, 2.7.1 footnote). 8F is XOP when the next byte's mmmmm is 8 or more
    // (APM vol. 6 1.1), which POP's group 1A (only /0) cannot be.
    const Special special = one_byte_info(first).special;
    bool vector = false;
    if (special == Special::VexOrLoad || special == Special::EvexOrBound || special == Special::XopOrPop) {
        if (special != Special::XopOrPop && long_mode()) {
            vector = true;
        } else {
            if (DecodeResult r = need(pos_ + 1); r != DecodeResult::Ok) return r;
            const u8 next = bytes_[pos_ + 1];
            vector = special == Special::XopOrPop ? (next & 0x1f) >= 8 : (next & 0xc0) == 0xc0;
        }
    }
    if (!vector) return legacy_opcode();
    // VEX, EVEX and XOP are #UD in real mode and after 66, F2, F3, LOCK or REX (SDM
    // vol. 2 2.3.2, 2.3.3).
    const LegacyPrefixes& p = d_.prefixes;
    if (mode_ == CpuMode::Real16 || p.operand_size || p.rep || p.repne || p.lock || d_.rex.present)
        return DecodeResult::Invalid;
    return vector_prefix(first);
}

// VEX (SDM vol. 2 2.3.5), EVEX (2.7.1) and XOP (APM vol. 6 1.1) prefixes; every
// instruction behind one has a ModRM byte except VZEROUPPER/VZEROALL (VEX 0F 77).
DecodeResult Decoder::vector_prefix(u8 first) {
    VectorPrefix& v = d_.vex;
    const u8 size = first == 0xc5 ? 2 : first == 0x62 ? 4 : 3;
    if (DecodeResult r = need(pos_ + size); r != DecodeResult::Ok) return r;  // prefix and opcode
    const u8* p = bytes_ + pos_;
    v.size = size;
    v.r = (p[1] & 0x80) == 0;
    const u8 payload = p[size - 1];  // C5's byte 1, C4/8F's byte 2, EVEX's P1 is handled below
    if (first == 0xc5) {
        v.kind = VexKind::Vex2;
        v.map = 1;
    } else {
        v.kind = first == 0xc4 ? VexKind::Vex3 : first == 0x8f ? VexKind::Xop : VexKind::Evex;
        v.x = (p[1] & 0x40) == 0;
        v.b = (p[1] & 0x20) == 0;
        v.map = p[1] & (first == 0x62 ? 0x07 : 0x1f);
    }
    if (v.kind == VexKind::Evex) {
        // P0 bit 3 must be 0 and P1 bit 2 must be 1, or #UD.
        if ((p[1] & 0x08) != 0 || (p[2] & 0x04) == 0) return DecodeResult::Invalid;
        v.evex_r2 = (p[1] & 0x10) == 0;
        v.w = (p[2] & 0x80) != 0;
        v.vvvv = u8((~p[2] >> 3) & 0xf);
        v.pp = p[2] & 3;
        v.evex_z = (p[3] & 0x80) != 0;
        v.length = (p[3] >> 5) & 3;
        v.evex_b = (p[3] & 0x10) != 0;
        if ((p[3] & 0x08) == 0) v.vvvv |= 0x10;
        v.evex_aaa = p[3] & 7;
    } else {
        v.w = v.kind != VexKind::Vex2 && (payload & 0x80) != 0;
        v.vvvv = u8((~payload >> 3) & 0xf);
        v.length = (payload >> 2) & 1;
        v.pp = payload & 3;
    }
    if (!long_mode()) {
        // Outside 64-bit mode there are 8 registers: the R/X/B extensions and the top
        // bits of vvvv are ignored.
        v.r = v.x = v.b = v.evex_r2 = false;
        v.vvvv &= 7;
    }
    pos_ += size;
    d_.opcode = bytes_[pos_++];
    const u8 op = d_.opcode;
    constexpr MandatoryPrefix kFromPp[4] = {MandatoryPrefix::None, MandatoryPrefix::P66, MandatoryPrefix::PF3,
                                            MandatoryPrefix::PF2};
    d_.mandatory_prefix = kFromPp[v.pp];
    shape_ = Shape{};
    shape_.modrm = true;
    switch (v.kind == VexKind::Xop ? v.map + 0x10 : v.map) {
        case 1: {
            d_.map = OpcodeMap::TwoByte;
            const OpcodeInfo info = two_byte_info(op);
            // The opcodes without ModRM in the legacy map (SYSCALL, Jcc, BSWAP ...) have
            // no VEX form; holes of the legacy map may (EVEX 0F 7A, 7B).
            if (op == 0x77 && v.kind != VexKind::Evex) {
                shape_.modrm = false;  // VZEROUPPER, VZEROALL
            } else if (!info.modrm && !info.undefined) {
                return DecodeResult::Invalid;
            }
            if (info.imm == Imm::Ib) shape_.imm = Imm::Ib;
            break;
        }
        case 2: d_.map = OpcodeMap::ThreeByte0F38; break;
        case 3:
            d_.map = OpcodeMap::ThreeByte0F3A;
            shape_.imm = Imm::Ib;
            break;
        case 5:
        case 6:
            if (v.kind != VexKind::Evex) return DecodeResult::Invalid;
            d_.map = v.map == 5 ? OpcodeMap::Evex5 : OpcodeMap::Evex6;
            break;
        case 0x18:
            d_.map = OpcodeMap::Xop8;
            shape_.imm = Imm::Ib;
            break;
        case 0x19: d_.map = OpcodeMap::Xop9; break;
        case 0x1a:
            d_.map = OpcodeMap::XopA;
            shape_.imm = Imm::Id;
            break;
        default: return DecodeResult::Invalid;
    }
    return DecodeResult::Ok;
}

DecodeResult Decoder::legacy_opcode() {
    const LegacyPrefixes& p = d_.prefixes;
    u8 op = bytes_[pos_++];
    shape_ = Shape{};
    if (op != 0x0f) {
        const OpcodeInfo info = one_byte_info(op);
        if (info.undefined || (long_mode() && info.invalid64)) return DecodeResult::Invalid;
        // ARPL is #UD in real mode (SDM vol. 2 ARPL).
        if (op == 0x63 && mode_ == CpuMode::Real16) return DecodeResult::Invalid;
        d_.map = OpcodeMap::OneByte;
        d_.opcode = op;
        shape_.modrm = info.modrm;
        shape_.imm = info.imm;
        shape_.size = info.size;
        return DecodeResult::Ok;
    }
    d_.mandatory_prefix = p.rep            ? MandatoryPrefix::PF3
                          : p.repne        ? MandatoryPrefix::PF2
                          : p.operand_size ? MandatoryPrefix::P66
                                           : MandatoryPrefix::None;
    if (DecodeResult r = need(pos_); r != DecodeResult::Ok) return r;
    op = bytes_[pos_++];
    if (op == 0x38 || op == 0x3a) {
        if (DecodeResult r = need(pos_); r != DecodeResult::Ok) return r;
        d_.map = op == 0x38 ? OpcodeMap::ThreeByte0F38 : OpcodeMap::ThreeByte0F3A;
        d_.opcode = bytes_[pos_++];
        shape_.modrm = true;
        if (op == 0x3a) shape_.imm = Imm::Ib;
        return DecodeResult::Ok;
    }
    const OpcodeInfo info = two_byte_info(op);
    if (info.undefined) return DecodeResult::Invalid;
    // 0F 00 (SLDT ... VERW), LAR and LSL are #UD in real mode.
    if (mode_ == CpuMode::Real16 && op <= 0x03 && op != 0x01) return DecodeResult::Invalid;
    // 0F B8 is POPCNT with F3; without it JMPE, which only IA-64 processors had.
    if (op == 0xb8 && d_.mandatory_prefix != MandatoryPrefix::PF3) return DecodeResult::Invalid;
    d_.map = OpcodeMap::TwoByte;
    d_.opcode = op;
    shape_.modrm = info.modrm;
    shape_.imm = info.imm;
    shape_.size = info.size;
    shape_.mod_ignored = op >= 0x20 && op <= 0x23;
    // On AMD, 66 0F 78 /0 ib ib is EXTRQ and F2 0F 78 /r ib ib INSERTQ (SSE4a, APM vol. 4),
    // register forms only; Intel has only VMREAD there.
    if (op == 0x78 && vendor_ == CpuVendor::Amd &&
        (d_.mandatory_prefix == MandatoryPrefix::P66 || d_.mandatory_prefix == MandatoryPrefix::PF2))
        shape_.imm = Imm::IbIb;
    return DecodeResult::Ok;
}

// ModRM and SIB (SDM vol. 2 2.1.5, tables 2-1 to 2-3; 2.2.1 for REX): how many
// displacement bytes follow.
DecodeResult Decoder::modrm_sib() {
    // The address size is needed first: it selects the 16- or 32/64-bit ModRM table.
    const bool a67 = d_.prefixes.address_size;
    switch (mode_) {
        case CpuMode::Long64: d_.address_size = a67 ? 4 : 8; break;
        case CpuMode::Protected32: d_.address_size = a67 ? 2 : 4; break;
        default: d_.address_size = a67 ? 4 : 2; break;
    }
    if (!shape_.modrm) return DecodeResult::Ok;
    if (DecodeResult r = need(pos_); r != DecodeResult::Ok) return r;
    const bool vex = d_.vex.kind != VexKind::None;
    const bool ext_r = vex ? d_.vex.r : d_.rex.r;
    const bool ext_x = vex ? d_.vex.x : d_.rex.x;
    const bool ext_b = vex ? d_.vex.b : d_.rex.b;
    ModRm& m = d_.modrm;
    m.present = true;
    m.raw = bytes_[pos_++];
    m.mod = m.raw >> 6;
    m.reg = u8(((m.raw >> 3) & 7) | (ext_r ? 8 : 0) | (d_.vex.evex_r2 ? 16 : 0));
    m.rm = u8((m.raw & 7) | (ext_b ? 8 : 0));
    if (m.mod == 3 && d_.vex.kind == VexKind::Evex && d_.vex.x) m.rm |= 16;  // EVEX.X: zmm16-31
    if (m.mod == 3 || shape_.mod_ignored) return DecodeResult::Ok;
    const u8 rm3 = m.raw & 7;
    if (d_.address_size == 2) {
        // 16-bit forms: mod=00 rm=110 is a bare disp16.
        displacement_size_ = m.mod == 1 ? 1 : (m.mod == 2 || rm3 == 6) ? 2 : 0;
        return DecodeResult::Ok;
    }
    displacement_size_ = m.mod == 1 ? 1 : m.mod == 2 ? 4 : 0;
    if (rm3 == 4) {
        if (DecodeResult r = need(pos_); r != DecodeResult::Ok) return r;
        Sib& s = d_.sib;
        s.present = true;
        s.raw = bytes_[pos_++];
        s.scale = s.raw >> 6;
        s.index = u8(((s.raw >> 3) & 7) | (ext_x ? 8 : 0));
        s.base = u8((s.raw & 7) | (ext_b ? 8 : 0));
        if (m.mod == 0 && (s.raw & 7) == 5) displacement_size_ = 4;  // no base, disp32
    } else if (m.mod == 0 && rm3 == 5) {
        displacement_size_ = 4;  // disp32, RIP-relative in 64-bit mode
    }
    return DecodeResult::Ok;
}

void Decoder::sizes() {
    SizeRule rule = shape_.size;
    if (d_.map == OpcodeMap::OneByte && d_.modrm.present && d_.vex.kind == VexKind::None) {
        const u8 reg = (d_.modrm.raw >> 3) & 7;
        if (d_.opcode == 0xff) {  // group 5: near CALL/JMP are branches, PUSH defaults to 64
            if (reg == 2 || reg == 4) rule = SizeRule::Branch64;
            if (reg == 6) rule = SizeRule::Default64;
        }
    }
    const bool o16 = d_.prefixes.operand_size;
    const bool w = d_.vex.kind != VexKind::None ? d_.vex.w : d_.rex.w;
    u8 size = 0;
    if (rule == SizeRule::Byte) {
        size = 1;
    } else if (long_mode()) {
        switch (rule) {
            case SizeRule::Default64: size = (o16 && !w) ? 2 : 8; break;
            case SizeRule::Branch64: size = (o16 && !w && vendor_ == CpuVendor::Amd) ? 2 : 8; break;
            case SizeRule::Fixed64: size = 8; break;
            default: size = w ? 8 : o16 ? 2 : 4; break;
        }
    } else if (rule == SizeRule::Fixed64) {
        size = 4;
    } else {
        const bool default32 = mode_ == CpuMode::Protected32;
        size = (default32 != o16) ? 4 : 2;
    }
    // ARPL's operands are 16-bit whatever the prefixes.
    if (d_.map == OpcodeMap::OneByte && d_.opcode == 0x63 && !long_mode()) size = 2;
    d_.operand_size = size;
}

u8 Decoder::immediate_size(u8& second) const {
    const u8 op_size = d_.operand_size;
    const u8 z = op_size == 2 ? 2 : 4;
    const bool test = d_.modrm.present && ((d_.modrm.raw >> 3) & 7) <= 1;
    second = 0;
    switch (shape_.imm) {
        case Imm::None: return 0;
        case Imm::Ib:
        case Imm::Jb: return 1;
        case Imm::Iw: return 2;
        case Imm::Iz:
        case Imm::Jz: return z;
        case Imm::Iv: return op_size;
        case Imm::Id: return 4;
        case Imm::IwIb: second = 1; return 2;
        case Imm::IbIb: second = 1; return 1;
        case Imm::Ap: second = 2; return z;
        case Imm::Moffs: return d_.address_size;
        case Imm::GroupF6: return test ? 1 : 0;
        case Imm::GroupF7: return test ? z : 0;
    }
    return 0;
}

void Decoder::set_segment(Segment default_segment) {
    const LegacyPrefixes& p = d_.prefixes;
    MemoryOperand& mem = d_.memory;
    mem.segment = default_segment;
    // In 64-bit mode only the FS and GS overrides take effect (SDM vol. 1 3.3.7.1).
    if (p.has_segment && (!long_mode() || p.segment == Segment::FS || p.segment == Segment::GS))
        mem.segment = p.segment;
}

// The memory operand of a ModRM memory form (SDM vol. 2 tables 2-1 to 2-3).
void Decoder::memory_from_modrm() {
    const ModRm& m = d_.modrm;
    MemoryOperand& mem = d_.memory;
    mem.present = true;
    mem.displacement = d_.displacement.value;
    const u8 rm3 = m.raw & 7;
    if (d_.address_size == 2) {
        // [BX+SI] [BX+DI] [BP+SI] [BP+DI] [SI] [DI] [BP] [BX]; mod=00 rm=110 is disp16.
        constexpr u8 kBase[8] = {kRegBx, kRegBx, kRegBp, kRegBp, kRegSi, kRegDi, kRegBp, kRegBx};
        constexpr u8 kIndex[8] = {kRegSi, kRegDi, kRegSi, kRegDi, kNoRegister, kNoRegister, kNoRegister, kNoRegister};
        mem.base = (m.mod == 0 && rm3 == 6) ? kNoRegister : kBase[rm3];
        mem.index = kIndex[rm3];
        set_segment(mem.base == kRegBp ? Segment::SS : Segment::DS);
        return;
    }
    if (d_.sib.present) {
        const Sib& s = d_.sib;
        mem.base = (m.mod == 0 && (s.raw & 7) == 5) ? kNoRegister : s.base;
        mem.index = s.index == kRegSp ? kNoRegister : s.index;  // index 100 without REX.X: none
        mem.scale = u8(1u << s.scale);
    } else if (m.mod == 0 && rm3 == 5) {
        mem.base = kNoRegister;
        mem.rip_relative = long_mode();
    } else {
        mem.base = m.rm;
    }
    set_segment((mem.base == kRegSp || mem.base == kRegBp) ? Segment::SS : Segment::DS);
}

void Decoder::fill_operands(usize immediate_at, u8 size1, u8 size2) {
    Displacement& disp = d_.displacement;
    disp.size = displacement_size_;
    disp.value = sign_extend(read_le(bytes_ + pos_, disp.size), disp.size);
    d_.immediate.size = size1;
    d_.immediate.value = read_le(bytes_ + immediate_at, size1);
    d_.immediate2.size = size2;
    d_.immediate2.value = read_le(bytes_ + immediate_at + size1, size2);
    if (d_.modrm.present && d_.modrm.mod != 3 && !shape_.mod_ignored) memory_from_modrm();
    if (d_.vex.kind != VexKind::None || d_.map != OpcodeMap::OneByte) {
        if (d_.map == OpcodeMap::TwoByte && d_.opcode >= 0xc8 && d_.opcode <= 0xcf)  // BSWAP
            d_.opcode_register = u8((d_.opcode & 7) | (d_.rex.b ? 8 : 0));
        return;
    }
    const u8 op = d_.opcode;
    MemoryOperand& mem = d_.memory;
    if ((op >= 0x40 && op <= 0x5f) || (op >= 0x90 && op <= 0x97) || (op >= 0xb0 && op <= 0xbf))
        d_.opcode_register = u8((op & 7) | (d_.rex.b ? 8 : 0));
    if (op == 0x8c || op == 0x8e) d_.modrm.reg &= 7;  // Sreg: REX.R is ignored
    if (op >= 0xa0 && op <= 0xa3) {                   // moffs: an absolute address
        mem.present = true;
        mem.displacement = i64(d_.immediate.value);
        set_segment(Segment::DS);
    }
    // String instructions: DS:rSI (override allowed) for MOVS CMPS LODS OUTS, else
    // ES:rDI (no override) for STOS SCAS INS (SDM vol. 1 3.7.5).
    const bool source = (op >= 0xa4 && op <= 0xa7) || op == 0xac || op == 0xad || op == 0x6e || op == 0x6f;
    const bool destination = op == 0xaa || op == 0xab || op == 0xae || op == 0xaf || op == 0x6c || op == 0x6d;
    if (source || destination) {
        mem.present = true;
        mem.base = source ? kRegSi : kRegDi;
        if (source)
            set_segment(Segment::DS);
        else
            mem.segment = Segment::ES;
    }
}

}  // namespace

DecodeResult decode_instruction(const u8* bytes, usize available, CpuMode mode, DecodedInstruction& out,
                                CpuVendor vendor) {
    out = DecodedInstruction{};
    Decoder decoder(bytes, available, mode, vendor);
    return decoder.run(out);
}
