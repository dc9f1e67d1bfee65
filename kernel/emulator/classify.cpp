// Which decoded instructions the MMIO emulator executes, and how many bytes their memory
// operand covers. Opcodes from the SDM vol. 2 instruction pages and appendix A.
#include "kernel/emulator/classify.hpp"

namespace x86_decode {
namespace {

using K = InstructionKind;

// ADD OR ADC SBB AND SUB XOR CMP: the order of opcode rows 00-38 and of group 1's /reg.
constexpr K kAlu[8] = {K::Add, K::Or, K::Adc, K::Sbb, K::And, K::Sub, K::Xor, K::Cmp};

// One-byte map. Sets the kind; the memory size is the operand size unless noted.
K one_byte_kind(const DecodedInstruction& insn) {
    const u8 op = insn.opcode;
    const u8 reg = (insn.modrm.raw >> 3) & 7;
    const bool long_mode = insn.mode == CpuMode::Long64;
    if (op < 0x40 && (op & 7) < 6) return kAlu[op >> 3];
    if (op >= 0x40 && op <= 0x4f) return op < 0x48 ? K::Inc : K::Dec;  // never reached in 64-bit mode (REX)
    if (op >= 0x50 && op <= 0x57) return K::Push;
    if (op >= 0x58 && op <= 0x5f) return K::Pop;
    if (op >= 0x80 && op <= 0x83) return kAlu[reg];
    if (op >= 0x88 && op <= 0x8b) return K::Mov;
    if (op >= 0x91 && op <= 0x97) return K::Xchg;
    if (op >= 0xa0 && op <= 0xa3) return K::Mov;
    if (op >= 0xb0 && op <= 0xbf) return K::Mov;
    switch (op) {
        case 0x63: return long_mode ? K::Movsxd : K::Other;  // ARPL outside 64-bit mode
        case 0x68:
        case 0x6a: return K::Push;
        case 0x84:
        case 0x85:
        case 0xa8:
        case 0xa9: return K::Test;
        case 0x86:
        case 0x87: return K::Xchg;
        case 0x8f: return K::Pop;                           // group 1A: only /0 is valid
        case 0x90: return insn.rex.b ? K::Xchg : K::Other;  // XCHG r8, rAX; else NOP/PAUSE
        case 0xa4:
        case 0xa5: return K::Movs;
        case 0xa6:
        case 0xa7: return K::Cmps;
        case 0xaa:
        case 0xab: return K::Stos;
        case 0xac:
        case 0xad: return K::Lods;
        case 0xae:
        case 0xaf: return K::Scas;
        case 0xc6:
        case 0xc7: return reg == 0 ? K::Mov : K::Other;  // /7 F8: XABORT, XBEGIN
        case 0xf6:
        case 0xf7: {
            constexpr K kGroup3[8] = {K::Test, K::Test, K::Not, K::Neg, K::Other, K::Other, K::Other, K::Other};
            return kGroup3[reg];
        }
        case 0xfe:
        case 0xff: {
            constexpr K kGroup5[8] = {K::Inc, K::Dec, K::Other, K::Other, K::Other, K::Other, K::Push, K::Other};
            return kGroup5[reg];
        }
        default: return K::Other;
    }
}

struct VectorMove {
    K kind;
    u8 size;  // data size in bytes
    RegisterClass reg_class;
};

// The SSE/MMX moves of the 0F map, selected by the mandatory prefix (SDM vol. 2 MOVD/
// MOVQ, MOVDQA, MOVDQU, MOVAPS, MOVAPD, MOVUPS, MOVUPD, MOVSS, MOVSD). Kind Other when
// the opcode/prefix pair is not one of them.
VectorMove vector_move(const DecodedInstruction& insn) {
    const MandatoryPrefix prefix = insn.mandatory_prefix;
    const bool none = prefix == MandatoryPrefix::None;
    const bool p66 = prefix == MandatoryPrefix::P66;
    const bool pf3 = prefix == MandatoryPrefix::PF3;
    const RegisterClass xmm = RegisterClass::Xmm;
    switch (insn.opcode) {
        case 0x10:
        case 0x11:
            if (none) return {K::Movups, 16, xmm};
            if (p66) return {K::Movupd, 16, xmm};
            if (pf3) return {K::Movss, 4, xmm};
            return {K::MovsdXmm, 8, xmm};
        case 0x28:
        case 0x29:
            if (none) return {K::Movaps, 16, xmm};
            if (p66) return {K::Movapd, 16, xmm};
            break;
        case 0x6e:
        case 0x7e:
            if (none || p66) {
                const RegisterClass rc = none ? RegisterClass::Mmx : xmm;
                return insn.rex.w ? VectorMove{K::Movq, 8, rc} : VectorMove{K::Movd, 4, rc};
            }
            if (pf3 && insn.opcode == 0x7e) return {K::Movq, 8, xmm};  // MOVQ xmm, xmm/m64
            break;
        case 0x6f:
        case 0x7f:
            if (none) return {K::Movq, 8, RegisterClass::Mmx};
            if (p66) return {K::Movdqa, 16, xmm};
            if (pf3) return {K::Movdqu, 16, xmm};
            break;
        case 0xd6:
            if (p66) return {K::Movq, 8, xmm};  // MOVQ xmm/m64, xmm
            break;
        default: break;
    }
    return {K::Other, 0, RegisterClass::Gpr};
}

// Two-byte (0F) map. Returns the kind and sets the memory size when it is not the
// operand size.
K two_byte_kind(DecodedInstruction& insn, u8& memory_size) {
    const u8 op = insn.opcode;
    const u8 reg = (insn.modrm.raw >> 3) & 7;
    if (op >= 0x90 && op <= 0x9f) {
        memory_size = 1;
        return K::Setcc;
    }
    switch (op) {
        case 0x20:
        case 0x22: insn.reg_class = RegisterClass::Control; return K::Other;
        case 0x21:
        case 0x23: insn.reg_class = RegisterClass::Debug; return K::Other;
        case 0xa3: return K::Bt;
        case 0xab: return K::Bts;
        case 0xb3: return K::Btr;
        case 0xbb: return K::Btc;
        case 0xba: {
            constexpr K kGroup8[4] = {K::Bt, K::Bts, K::Btr, K::Btc};
            return reg >= 4 ? kGroup8[reg - 4] : K::Other;
        }
        case 0xb0:
        case 0xb1: return K::Cmpxchg;
        case 0xc0:
        case 0xc1: return K::Xadd;
        case 0xb6:
        case 0xbe: memory_size = 1; return op == 0xb6 ? K::Movzx : K::Movsx;
        case 0xb7:
        case 0xbf: memory_size = 2; return op == 0xb7 ? K::Movzx : K::Movsx;
        case 0xc3: return insn.mandatory_prefix == MandatoryPrefix::None ? K::Movnti : K::Other;
        default: break;
    }
    const VectorMove move = vector_move(insn);
    if (move.kind != K::Other) {
        insn.operand_size = move.size;
        insn.reg_class = move.reg_class;
        memory_size = move.size;
    }
    return move.kind;
}

}  // namespace

void classify(DecodedInstruction& insn) {
    insn.kind = K::Other;
    insn.memory_size = 0;
    if (insn.vex.kind != VexKind::None) return;
    u8 memory_size = insn.operand_size;
    if (insn.map == OpcodeMap::OneByte) {
        insn.kind = one_byte_kind(insn);
        if (insn.opcode == 0x8c || insn.opcode == 0x8e) insn.reg_class = RegisterClass::Segment;
        // MOVSXD r64, r/m32 and r32, r/m32 read 4 bytes; with 66, 2.
        if (insn.kind == K::Movsxd && memory_size == 8) memory_size = 4;
    } else if (insn.map == OpcodeMap::TwoByte) {
        insn.kind = two_byte_kind(insn, memory_size);
    }
    if (insn.kind != K::Other && insn.memory.present) insn.memory_size = memory_size;
}

}  // namespace x86_decode

const char* decode_result_name(DecodeResult result) {
    switch (result) {
        case DecodeResult::Ok: return "Ok";
        case DecodeResult::NeedMoreBytes: return "NeedMoreBytes";
        case DecodeResult::TooLong: return "TooLong";
        case DecodeResult::Invalid: return "Invalid";
    }
    return "?";
}

const char* instruction_kind_name(InstructionKind kind) {
    static const char* const kNames[] = {
        "Other", "Mov",  "Movzx", "Movsx",  "Movsxd", "Movnti", "Movs",   "Stos",    "Lods",   "Cmps",  "Scas",
        "Add",   "Adc",  "Sub",   "Sbb",    "And",    "Or",     "Xor",    "Cmp",     "Test",   "Inc",   "Dec",
        "Neg",   "Not",  "Bt",    "Bts",    "Btr",    "Btc",    "Xchg",   "Cmpxchg", "Xadd",   "Setcc", "Push",
        "Pop",   "Movd", "Movq",  "Movdqa", "Movdqu", "Movaps", "Movapd", "Movups",  "Movupd", "Movss", "MovsdXmm",
    };
    static_assert(sizeof(kNames) / sizeof(kNames[0]) == usize(InstructionKind::MovsdXmm) + 1);
    const usize index = usize(kind);
    return index < sizeof(kNames) / sizeof(kNames[0]) ? kNames[index] : "?";
}
