#include "kernel/emulator/opcode_table.hpp"

namespace x86_decode {
namespace {

// One 16-bit word per opcode:
//   bits 0-3 Imm, bits 4-6 SizeRule, bits 7-9 Special, bit 10 ModRM, bit 11 undefined,
//   bit 12 invalid in 64-bit mode.
constexpr u16 imm(Imm i) { return u16(i); }
constexpr u16 size(SizeRule s) { return u16(u16(s) << 4); }
constexpr u16 special(Special s) { return u16(u16(s) << 7); }

constexpr u16 M = 1u << 10;    // ModRM follows
constexpr u16 UD = 1u << 11;   // undefined: #UD
constexpr u16 I64 = 1u << 12;  // #UD in 64-bit mode
constexpr u16 N = 0;           // no operands beyond the opcode (or only implicit ones)
constexpr u16 B = size(SizeRule::Byte);
constexpr u16 D64 = size(SizeRule::Default64);
constexpr u16 F64 = size(SizeRule::Branch64);
constexpr u16 CR = size(SizeRule::Fixed64);
constexpr u16 Ib = imm(Imm::Ib);
constexpr u16 Iw = imm(Imm::Iw);
constexpr u16 Iz = imm(Imm::Iz);
constexpr u16 Iv = imm(Imm::Iv);
constexpr u16 IwIb = imm(Imm::IwIb);
constexpr u16 Ap = imm(Imm::Ap);
constexpr u16 Ob = imm(Imm::Moffs);
constexpr u16 Jb = imm(Imm::Jb);
constexpr u16 Jz = imm(Imm::Jz);
constexpr u16 JB = Jb | F64;  // short branch (rel8)
constexpr u16 JZ = Jz | F64;  // near branch (rel16/32)
constexpr u16 G6 = imm(Imm::GroupF6);
constexpr u16 G7 = imm(Imm::GroupF7);
constexpr u16 PFX = special(Special::Prefix);
constexpr u16 ESC = special(Special::Escape);
constexpr u16 VEX = special(Special::VexOrLoad) | M;
constexpr u16 EVX = special(Special::EvexOrBound) | M;
constexpr u16 XOP = special(Special::XopOrPop) | M | D64;

// clang-format off
// SDM vol. 2 table A-2 (one-byte opcode map), APM vol. 3 table A-1.
constexpr u16 kOneByte[256] = {
    // 00-0F: ADD, PUSH/POP ES, OR, PUSH CS, 0F escape
    M | B, M, M | B, M, Ib | B, Iz, I64, I64, M | B, M, M | B, M, Ib | B, Iz, I64, ESC,
    // 10-1F: ADC, PUSH/POP SS, SBB, PUSH/POP DS
    M | B, M, M | B, M, Ib | B, Iz, I64, I64, M | B, M, M | B, M, Ib | B, Iz, I64, I64,
    // 20-2F: AND, ES:, DAA, SUB, CS:, DAS
    M | B, M, M | B, M, Ib | B, Iz, PFX, I64, M | B, M, M | B, M, Ib | B, Iz, PFX, I64,
    // 30-3F: XOR, SS:, AAA, CMP, DS:, AAS
    M | B, M, M | B, M, Ib | B, Iz, PFX, I64, M | B, M, M | B, M, Ib | B, Iz, PFX, I64,
    // 40-4F: INC/DEC r (REX prefixes in 64-bit mode, consumed before the table is read)
    N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N,
    // 50-5F: PUSH r, POP r
    D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64, D64,
    // 60-6F: PUSHA, POPA, BOUND/EVEX, ARPL/MOVSXD, FS:, GS:, 66, 67, PUSH Iz, IMUL Iz,
    // PUSH Ib, IMUL Ib, INS, OUTS
    I64, I64, EVX, M, PFX, PFX, PFX, PFX, Iz | D64, M | Iz, Ib | D64, M | Ib, B, N, B, N,
    // 70-7F: Jcc rel8
    JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB, JB,
    // 80-8F: group 1, TEST, XCHG, MOV, MOV Sreg, LEA, MOV Sreg, group 1A (POP) / XOP
    M | Ib | B, M | Iz, M | Ib | B | I64, M | Ib, M | B, M, M | B, M, M | B, M, M | B, M, M, M, M, XOP,
    // 90-9F: XCHG/NOP, CBW, CWD, CALLF, FWAIT, PUSHF, POPF, SAHF, LAHF
    N, N, N, N, N, N, N, N, N, N, Ap | I64, N, D64, D64, N, N,
    // A0-AF: MOV moffs, MOVS, CMPS, TEST, STOS, LODS, SCAS
    Ob | B, Ob, Ob | B, Ob, B, N, B, N, Ib | B, Iz, B, N, B, N, B, N,
    // B0-BF: MOV r8, imm8; MOV r, imm16/32/64
    Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv,
    // C0-CF: shift group 2 Ib, RET Iw, RET, LES/VEX3, LDS/VEX2, group 11 (MOV), ENTER,
    // LEAVE, RETF Iw, RETF, INT3, INT Ib, INTO, IRET
    M | Ib | B, M | Ib, Iw | F64, F64, VEX, VEX, M | Ib | B, M | Iz, IwIb | D64, D64, Iw, N, N, Ib, I64, N,
    // D0-DF: shift group 2 by 1 and CL, AAM, AAD, SALC, XLAT, x87 escapes
    M | B, M, M | B, M, Ib | I64, Ib | I64, I64, B, M, M, M, M, M, M, M, M,
    // E0-EF: LOOPNE, LOOPE, LOOP, JrCXZ, IN/OUT Ib, CALL, JMP, JMPF, JMP rel8, IN/OUT DX
    JB, JB, JB, JB, Ib | B, Ib, Ib | B, Ib, JZ, JZ, Ap | I64, JB, B, N, B, N,
    // F0-FF: LOCK, INT1, REPNE, REP, HLT, CMC, group 3, CLC..STD, group 4, group 5
    PFX, N, PFX, PFX, N, N, M | G6 | B, M | G7, N, N, N, N, N, N, M | B, M,
};

// SDM vol. 2 table A-3 (two-byte opcode map, 0F xx), APM vol. 3 tables.
constexpr u16 kTwoByte[256] = {
    // 00-0F: group 6, group 7, LAR, LSL, -, SYSCALL, CLTS, SYSRET, INVD, WBINVD, -,
    // UD2, -, group P (PREFETCH), FEMMS, 3DNow! (ModRM, then the opcode as imm8)
    M, M, M, M, UD, N, N, N, N, N, UD, UD, UD, M, N, M | Ib,
    // 10-1F: SSE moves, group 16 (PREFETCHh), reserved-NOP / hint NOP
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // 20-2F: MOV from/to CRn/DRn (ModRM.mod ignored), MOV TRn (gone), SSE
    M | CR, M | CR, M | CR, M | CR, UD, UD, UD, UD, M, M, M, M, M, M, M, M,
    // 30-3F: WRMSR, RDTSC, RDMSR, RDPMC, SYSENTER, SYSEXIT, -, GETSEC, 0F 38, -, 0F 3A
    N, N, N, N, N, N, UD, N, ESC, UD, ESC, UD, UD, UD, UD, UD,
    // 40-4F: CMOVcc
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // 50-5F: SSE
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // 60-6F: MMX/SSE
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // 70-7F: PSHUF* Ib, groups 12-14 Ib, PCMPEQ*, EMMS, VMREAD/EXTRQ, VMWRITE/INSERTQ, -,
    // -, SSE3, MOVD/MOVQ
    M | Ib, M | Ib, M | Ib, M | Ib, M, M, M, N, M, M, UD, UD, M, M, M, M,
    // 80-8F: Jcc rel16/32
    JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ, JZ,
    // 90-9F: SETcc
    M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B,
    // A0-AF: PUSH/POP FS, CPUID, BT, SHLD Ib, SHLD CL, (VIA PadLock: #UD here),
    // PUSH/POP GS, RSM, BTS, SHRD Ib, SHRD CL, group 15, IMUL
    D64, D64, N, M, M | Ib, M, UD, UD, D64, D64, N, M, M | Ib, M, M, M,
    // B0-BF: CMPXCHG, LSS, BTR, LFS, LGS, MOVZX, POPCNT (F3 only), UD1, group 8 Ib,
    // BTC, BSF/TZCNT, BSR/LZCNT, MOVSX
    M | B, M, M, M, M, M, M, M, M, UD, M | Ib, M, M, M, M, M,
    // C0-CF: XADD, CMPPS Ib, MOVNTI, PINSRW Ib, PEXTRW Ib, SHUFPS Ib, group 9, BSWAP
    M | B, M, M | Ib, M, M | Ib, M | Ib, M | Ib, M, N, N, N, N, N, N, N, N,
    // D0-DF: MMX/SSE
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // E0-EF: MMX/SSE
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    // F0-FF: MMX/SSE, UD0
    M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, UD,
};
// clang-format on

static_assert(u16(Imm::GroupF7) < 16 && u16(SizeRule::Fixed64) < 8 && u16(Special::XopOrPop) < 8,
              "the fields fit their bits");

OpcodeInfo unpack(u16 word) {
    OpcodeInfo info;
    info.imm = Imm(word & 0xf);
    info.size = SizeRule((word >> 4) & 0x7);
    info.special = Special((word >> 7) & 0x7);
    info.modrm = (word & M) != 0;
    info.undefined = (word & UD) != 0;
    info.invalid64 = (word & I64) != 0;
    return info;
}

}  // namespace

OpcodeInfo one_byte_info(u8 opcode) { return unpack(kOneByte[opcode]); }
OpcodeInfo two_byte_info(u8 opcode) { return unpack(kTwoByte[opcode]); }

}  // namespace x86_decode
