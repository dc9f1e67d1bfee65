// The shape of every opcode of the one-byte and 0F maps: whether a ModRM byte follows,
// which immediate, how the operand size is found, and where the opcode is #UD. From the
// opcode maps of the Intel SDM vol. 2 appendix A (tables) and the AMD APM
// vol. 3 appendix A (tables ). The three-byte maps need no table: every 0F 38
// opcode has a ModRM byte and no immediate, every 0F 3A opcode a ModRM byte and an imm8.
#pragma once

#include "kernel/types.hpp"

namespace x86_decode {

// Immediate operand kinds, in the SDM's operand notation (appendix A.2.2).
enum class Imm : u8 {
    None,
    Ib,       // imm8
    Iw,       // imm16
    Iz,       // imm16 with a 16-bit operand size, else imm32
    Iv,       // imm16/32/64 by operand size (MOV r, imm: B8+r)
    IwIb,     // ENTER: imm16, imm8
    IbIb,     // EXTRQ/INSERTQ (66/F2 0F 78): imm8, imm8
    Id,       // imm32 (XOP map A)
    Ap,       // far pointer: offset (16/32 by operand size) then a 16-bit selector
    Moffs,    // A0-A3: an offset of the address size
    Jb,       // rel8
    Jz,       // rel16 with a 16-bit (branch) operand size, else rel32
    GroupF6,  // F6: imm8 for /0 and /1 (TEST), none otherwise
    GroupF7,  // F7: Iz for /0 and /1 (TEST), none otherwise
};

// How the effective operand size is found (SDM vol. 2 2.2.1.7, APM vol. 3 1.2.5 and
// 1.5.1 "Operand-size override ... in 64-bit mode").
enum class SizeRule : u8 {
    Word,       // 16/32 by mode and 66; 64 with REX.W
    Byte,       // always 1
    Default64,  // 64-bit mode: 64 unless 66 (then 16); PUSH, POP, LEAVE ...
    Branch64,   // 64-bit mode near branches: 64; 66 gives 16 on AMD only
    Fixed64,    // MOV CRn/DRn: 64 in 64-bit mode, 32 elsewhere, prefixes ignored
};

enum class Special : u8 {
    None,
    Prefix,       // legacy prefix bytes (and REX in 64-bit mode): consumed before the opcode
    Escape,       // 0F
    VexOrLoad,    // C4 (LES), C5 (LDS): VEX in 64-bit mode or when ModRM.mod would be 11
    EvexOrBound,  // 62: EVEX in 64-bit mode or when ModRM.mod would be 11
    XopOrPop,     // 8F: XOP when the next byte's mmmmm >= 8, else POP r/m (group 1A)
};

struct OpcodeInfo {
    bool modrm = false;
    bool undefined = false;  // #UD in every mode
    bool invalid64 = false;  // #UD in 64-bit mode
    Imm imm = Imm::None;
    SizeRule size = SizeRule::Word;
    Special special = Special::None;
};

OpcodeInfo one_byte_info(u8 opcode);
OpcodeInfo two_byte_info(u8 opcode);

}  // namespace x86_decode
