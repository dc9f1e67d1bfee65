// x86 instruction decoder for the MMIO instruction emulator.
//
// A guest access to emulated MMIO exits to the hypervisor with a faulting guest address
// but, under QEMU's TCG, with neither the next RIP nor decode assists: Vireo must find
// the length of whatever instruction the guest ran and, for the instructions the
// emulator executes, its operands. This decoder covers the whole one-byte, 0F, 0F 38 and
// 0F 3A maps (x87 and 3DNow! included) and the VEX, EVEX and XOP prefixes for length,
// and describes operands in the terms of the Intel SDM vol. 2 chapter 2 ("Instruction
// Format") and the AMD APM vol. 3 chapter 1 ("Instruction Encoding").
//
// Pure code: no allocation, no C++ library; it reads only bytes[0 .. available).
#pragma once

#include "kernel/types.hpp"

// The processor mode the bytes are decoded for. Compatibility mode is Protected16 or
// Protected32 according to CS.D. Real16 differs from Protected16 only in what is valid
// (VEX, EVEX and XOP, ARPL, 0F 00, LAR and LSL are #UD in real mode).
enum class CpuMode : u8 { Real16, Protected16, Protected32, Long64 };

// The few encodings whose length or validity differs between vendors. Vireo's first
// target (QEMU TCG, SVM) follows AMD, hence the default.
//  - A 66 prefix on a near branch in 64-bit mode: AMD gives a 16-bit operand (rel16,
//    IP truncated), Intel ignores it (rel32). AMD APM vol. 3, "Near Branches in 64-Bit
//    Mode"; SDM vol. 2, JMP/CALL/Jcc, "64-bit mode operation".
//  - LOCK MOV CR0 means MOV CR8 on AMD (APM vol. 3, MOV CRn); it is #UD on Intel.
enum class CpuVendor : u8 { Amd, Intel };

enum class DecodeResult : u8 {
    Ok,
    NeedMoreBytes,  // the instruction continues past `available` (it fits in 15 bytes)
    TooLong,        // more than 15 bytes: #GP(0) (SDM vol. 2 2.3.11)
    Invalid,        // an encoding that raises #UD
};

const char* decode_result_name(DecodeResult result);

// Segment register numbers as encoded in ModRM.reg of MOV Sreg (SDM vol. 2 3.1.1.3).
enum class Segment : u8 { ES, CS, SS, DS, FS, GS };

enum class OpcodeMap : u8 {
    OneByte,
    TwoByte,        // 0F xx, VEX/EVEX map 1
    ThreeByte0F38,  // 0F 38 xx, VEX/EVEX map 2
    ThreeByte0F3A,  // 0F 3A xx, VEX/EVEX map 3
    Evex5,          // EVEX map 5 (AVX512-FP16)
    Evex6,          // EVEX map 6 (AVX512-FP16)
    Xop8,           // AMD XOP maps (APM vol. 6): 8 has imm8, 9 none, A imm32
    Xop9,
    XopA,
};

// The prefix that selects among SSE instructions sharing an opcode: F2 or F3 (whichever
// came last) if present, else 66 (SDM vol. 2 2.1.2; VEX.pp / EVEX.pp when present).
enum class MandatoryPrefix : u8 { None, P66, PF3, PF2 };

enum class VexKind : u8 { None, Vex2, Vex3, Evex, Xop };

// What the emulator executes; everything else decodes (length, operands) as Other.
enum class InstructionKind : u8 {
    Other,
    Mov,     // 88-8B, A0-A3 (moffs), B0-BF, C6 /0, C7 /0
    Movzx,   // 0F B6, 0F B7
    Movsx,   // 0F BE, 0F BF
    Movsxd,  // 63 in 64-bit mode
    Movnti,  // NP 0F C3
    Movs,    // A4, A5 (string)
    Stos,    // AA, AB
    Lods,    // AC, AD
    Cmps,    // A6, A7
    Scas,    // AE, AF
    Add,
    Adc,
    Sub,
    Sbb,
    And,
    Or,
    Xor,
    Cmp,
    Test,  // 84, 85, A8, A9, F6/F7 /0 and /1
    Inc,   // FE/FF /0, 40-47 outside 64-bit mode
    Dec,   // FE/FF /1, 48-4F outside 64-bit mode
    Neg,   // F6/F7 /3
    Not,   // F6/F7 /2
    Bt,    // 0F A3, 0F BA /4
    Bts,   // 0F AB, 0F BA /5
    Btr,   // 0F B3, 0F BA /6
    Btc,   // 0F BB, 0F BA /7
    Xchg,  // 86, 87, 90-97 (not NOP/PAUSE)
    Cmpxchg,
    Xadd,
    Setcc,     // 0F 90-9F; the condition is opcode & 0xF
    Push,      // 50-57, 68, 6A, FF /6
    Pop,       // 58-5F, 8F /0
    Movd,      // 0F 6E / 0F 7E (NP: MMX, 66: XMM), W=0
    Movq,      // same with W=1; F3 0F 7E; 66 0F D6; NP 0F 6F/7F (MMX)
    Movdqa,    // 66 0F 6F, 66 0F 7F
    Movdqu,    // F3 0F 6F, F3 0F 7F
    Movaps,    // NP 0F 28, 0F 29
    Movapd,    // 66 0F 28, 0F 29
    Movups,    // NP 0F 10, 0F 11
    Movupd,    // 66 0F 10, 0F 11
    Movss,     // F3 0F 10, 0F 11
    MovsdXmm,  // F2 0F 10, 0F 11 (the SSE2 move, not the string instruction)
};

const char* instruction_kind_name(InstructionKind kind);

// What the ModRM.reg operand names, for the kinds the emulator executes (and MOV Sreg,
// MOV CRn, MOV DRn); Other instructions leave it Gpr.
enum class RegisterClass : u8 { Gpr, Mmx, Xmm, Segment, Control, Debug };

// Register numbers: 0..7 = rAX rCX rDX rBX rSP rBP rSI rDI, 8..15 = R8..R15 (REX/VEX
// extensions applied; EVEX.R' adds 16 to ModRM.reg of vector registers). For byte
// operands without any REX prefix, 4..7 name AH CH DH BH (see is_high_byte_register).
inline constexpr u8 kNoRegister = 0xff;

struct LegacyPrefixes {
    bool operand_size = false;  // 66
    bool address_size = false;  // 67
    bool lock = false;          // F0
    bool rep = false;           // F3 (REP/REPE); cleared by a later F2
    bool repne = false;         // F2 (REPNE); cleared by a later F3
    bool has_segment = false;   // 26 2E 36 3E 64 65: the last one wins
    Segment segment = Segment::DS;
    u8 count = 0;  // legacy prefix bytes (including repeats and a REX ignored by a later prefix)
};

struct RexPrefix {
    bool present = false;  // a REX byte (40-4F) immediately before the opcode, 64-bit mode only
    bool w = false;
    bool r = false;
    bool x = false;
    bool b = false;
};

// VEX (C4/C5), EVEX (62) or XOP (8F) prefix, fields already un-inverted (SDM vol. 2
// 2.3.5 and 2.7.1; APM vol. 6 1.1).
struct VectorPrefix {
    VexKind kind = VexKind::None;
    u8 size = 0;  // 2 or 3 (VEX, XOP), 4 (EVEX)
    u8 map = 0;   // mmmmm
    bool w = false;
    u8 vvvv = 0;    // extra register operand (0-15; EVEX.V' adds 16)
    u8 length = 0;  // VEX.L / EVEX.L'L: 0 = 128, 1 = 256, 2 = 512 bits
    u8 pp = 0;      // 0 none, 1 66, 2 F3, 3 F2
    bool r = false, x = false, b = false;
    bool evex_r2 = false;  // EVEX.R'
    bool evex_z = false;
    bool evex_b = false;  // broadcast / rounding control
    u8 evex_aaa = 0;      // opmask register
};

struct ModRm {
    bool present = false;
    u8 raw = 0;
    u8 mod = 0;
    u8 reg = 0;  // with REX.R / VEX.R (and EVEX.R')
    u8 rm = 0;   // with REX.B / VEX.B
};

struct Sib {
    bool present = false;
    u8 raw = 0;
    u8 scale = 0;  // the 2-bit field
    u8 index = 0;  // with REX.X
    u8 base = 0;   // with REX.B
};

// The memory operand: a ModRM memory form, a moffs (A0-A3, as a displacement with no
// base), or the rSI/rDI operand of a string instruction. For MOVS and CMPS it describes
// the source DS:rSI (segment override applies); the second operand is always ES:rDI.
// For STOS and SCAS (and INS) it is ES:rDI, which no override changes. The effective
// address is base + index * scale + displacement (+ the next instruction's rIP when
// rip_relative), truncated to address_size bytes.
struct MemoryOperand {
    bool present = false;
    Segment segment = Segment::DS;  // effective: default DS, SS for rBP/rSP bases, override
    u8 base = kNoRegister;
    u8 index = kNoRegister;  // a vector register for VSIB (VEX/EVEX gathers and scatters)
    u8 scale = 1;            // 1, 2, 4 or 8
    i64 displacement = 0;
    bool rip_relative = false;  // 64-bit mode mod=00 rm=101: relative to the next instruction
};

struct Displacement {
    i64 value = 0;  // sign-extended
    u8 size = 0;    // 0, 1, 2 or 4 bytes
};

struct Immediate {
    u64 value = 0;  // the raw bytes, zero-extended
    u8 size = 0;    // 0, 1, 2, 4 or 8 bytes (a moffs has the address size)

    i64 sign_extended() const {
        switch (size) {
            case 1: return i8(value);
            case 2: return i16(value);
            case 4: return i32(value);
            default: return i64(value);
        }
    }
};

struct DecodedInstruction {
    u8 length = 0;
    CpuMode mode = CpuMode::Long64;
    LegacyPrefixes prefixes;
    RexPrefix rex;
    VectorPrefix vex;
    MandatoryPrefix mandatory_prefix = MandatoryPrefix::None;
    OpcodeMap map = OpcodeMap::OneByte;
    u8 opcode = 0;  // for 3DNow! (0F 0F) the operation is the imm8 suffix in `immediate`
    ModRm modrm;
    Sib sib;
    Displacement displacement;
    Immediate immediate;
    Immediate immediate2;  // ENTER's imm8 level, EXTRQ/INSERTQ's second imm8
    // Effective operand size in bytes: 1 for byte forms, 2/4/8 by 66, REX.W and the
    // 64-bit-mode defaults (SDM vol. 1 3.6, vol. 2 2.2.1.7). For the SSE/MMX moves the
    // emulator executes it is the data size (4, 8 or 16).
    u8 operand_size = 0;
    u8 address_size = 0;  // 2, 4 or 8
    // Bytes the memory operand reads or writes, for the kinds the emulator executes
    // (MOVZX m8 -> 1, MOVDQA -> 16, ...); 0 for Other.
    u8 memory_size = 0;
    MemoryOperand memory;
    u8 opcode_register = kNoRegister;  // register encoded in the opcode (50+r, B8+r, 0F C8+r ...)
    RegisterClass reg_class = RegisterClass::Gpr;
    InstructionKind kind = InstructionKind::Other;
};

// Decodes the instruction at `bytes` (of which `available` bytes may be read) as the
// processor in `mode` would. `out` is fully written on Ok and reset otherwise.
DecodeResult decode_instruction(const u8* bytes, usize available, CpuMode mode, DecodedInstruction& out,
                                CpuVendor vendor = CpuVendor::Amd);

// For an operand the caller knows to be a byte register (an 8-bit instruction's, or the
// source of MOVZX/MOVSX r, r/m8): true when `reg` names AH, CH, DH or BH, which it does
// for 4..7 unless a REX prefix is present (then SPL, BPL, SIL, DIL). SDM vol. 1 3.7.2.1.
inline bool is_high_byte_register(const DecodedInstruction& insn, u8 reg) {
    return !insn.rex.present && reg >= 4 && reg <= 7;
}
