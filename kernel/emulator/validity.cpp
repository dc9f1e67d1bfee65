// The #UD encodings that an instruction's shape (its length) does not reveal: LOCK where
// it is not allowed, register forms of memory-only instructions, unassigned group members,
// nonexistent control and debug registers.
#include "kernel/emulator/validity.hpp"

namespace x86_decode {
namespace {

// LOCK is allowed only on the read-modify-write instructions listed in SDM vol. 2
// "LOCK", with a memory destination; elsewhere it is #UD. AMD adds LOCK MOV CR0 as
// MOV CR8 (APM vol. 3 "MOV CRn").
bool lock_valid(const DecodedInstruction& insn, CpuVendor vendor) {
    if (insn.vex.kind != VexKind::None) return false;
    const u8 op = insn.opcode;
    if (insn.map == OpcodeMap::TwoByte && (op == 0x20 || op == 0x22)) return vendor == CpuVendor::Amd;
    if (!insn.modrm.present || insn.modrm.mod == 3) return false;
    const u8 reg = (insn.modrm.raw >> 3) & 7;
    if (insn.map == OpcodeMap::OneByte) {
        if (op < 0x38 && (op & 7) <= 1) return true;  // ADD OR ADC SBB AND SUB XOR r/m, r
        switch (op) {
            case 0x80:
            case 0x81:
            case 0x82:
            case 0x83: return reg != 7;  // not CMP
            case 0x86:
            case 0x87: return true;  // XCHG
            case 0xf6:
            case 0xf7: return reg == 2 || reg == 3;  // NOT, NEG
            case 0xfe:
            case 0xff: return reg <= 1;  // INC, DEC
            default: return false;
        }
    }
    if (insn.map != OpcodeMap::TwoByte) return false;
    switch (op) {
        case 0xab:                   // BTS
        case 0xb3:                   // BTR
        case 0xbb:                   // BTC
        case 0xb0:                   // CMPXCHG
        case 0xb1:                   // CMPXCHG
        case 0xc0:                   // XADD
        case 0xc1: return true;      // XADD
        case 0xba: return reg >= 5;  // BTS BTR BTC imm8
        case 0xc7: return reg == 1;  // CMPXCHG8B/16B
        default: return false;
    }
}

// MOV CRn/DRn: only CR0 CR2 CR3 CR4 CR8 and DR0-DR7 exist (SDM vol. 2 MOV CR, MOV DR).
// Sets ModRM.reg to the register number (REX.R, and AMD's LOCK for CR8, applied).
bool control_debug_valid(DecodedInstruction& insn) {
    const bool control = insn.opcode == 0x20 || insn.opcode == 0x22;
    u8 n = insn.modrm.reg;
    if (control && insn.prefixes.lock) n = u8(n + 8);
    insn.modrm.reg = n;
    if (!control) return n < 8;
    return n == 0 || n == 2 || n == 3 || n == 4 || n == 8;
}

}  // namespace

bool encoding_valid(DecodedInstruction& insn, CpuVendor vendor) {
    if (insn.prefixes.lock && !lock_valid(insn, vendor)) return false;
    if (insn.vex.kind != VexKind::None || !insn.modrm.present) return true;
    const u8 op = insn.opcode;
    const u8 reg = (insn.modrm.raw >> 3) & 7;
    const bool reg_form = insn.modrm.mod == 3;
    if (insn.map == OpcodeMap::OneByte) {
        switch (op) {
            // BOUND, LEA, LES, LDS: memory operands only.
            case 0x62:
            case 0x8d:
            case 0xc4:
            case 0xc5: return !reg_form;
            // MOV r/m, Sreg and MOV Sreg, r/m: ES CS SS DS FS GS, and CS cannot be loaded.
            case 0x8c: return reg <= 5;
            case 0x8e: return reg <= 5 && reg != 1;
            // Group 1A: POP r/m is /0 only.
            case 0x8f: return reg == 0;
            // Group 11: MOV r/m, imm is /0; /7 with ModRM F8 is XABORT (C6) and XBEGIN (C7).
            case 0xc6:
            case 0xc7: return reg == 0 || insn.modrm.raw == 0xf8;
            // Group 4: INC, DEC.
            case 0xfe: return reg <= 1;
            // Group 5: /7 is unassigned, far CALL and JMP (/3, /5) need a memory operand.
            case 0xff: return reg != 7 && !(reg_form && (reg == 3 || reg == 5));
            default: return true;
        }
    }
    if (insn.map != OpcodeMap::TwoByte) return true;
    switch (op) {
        case 0x00: return reg <= 5;  // group 6
        case 0x78:                   // EXTRQ xmm, imm8, imm8 (/0) and INSERTQ xmm, xmm, imm8, imm8
            if (vendor != CpuVendor::Amd ||
                (insn.mandatory_prefix != MandatoryPrefix::P66 && insn.mandatory_prefix != MandatoryPrefix::PF2))
                return true;  // VMREAD
            return reg_form && (insn.mandatory_prefix == MandatoryPrefix::PF2 || reg == 0);
        case 0x20:
        case 0x21:
        case 0x22:
        case 0x23: return control_debug_valid(insn);
        // LSS, LFS, LGS, MOVNTI: memory operands only.
        case 0xb2:
        case 0xb4:
        case 0xb5:
        case 0xc3: return !reg_form;
        // Group 8: /4-/7 are BT, BTS, BTR, BTC.
        case 0xba: return reg >= 4;
        // Group 9: CMPXCHG8B/16B need a memory operand.
        case 0xc7: return reg != 1 || !reg_form;
        default: return true;
    }
}

}  // namespace x86_decode
