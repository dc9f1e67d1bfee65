// The MMX and SSE moves (SDM vol. 2 MOVD/MOVQ, MOVDQA, MOVDQU, MOVAPS, MOVAPD, MOVUPS,
// MOVUPD, MOVSS, MOVSD). Vector data moves as bytes: the emulator is built with
// -mgeneral-regs-only and never touches a vector register itself (the environment does).
#include <string.h>

#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

constexpr u64 kCr0Em = 1ull << 2;
constexpr u64 kCr0Ts = 1ull << 3;
constexpr u64 kCr4Osfxsr = 1ull << 9;

struct VectorShape {
    bool load = false;     // into the ModRM.reg vector register; else a store from it
    u8 size = 0;           // bytes moved
    bool rm_gpr = false;   // a register-form r/m names a general-purpose register (0F 6E/7E)
    bool merge = false;    // a register-form destination keeps its bytes above `size`
    bool aligned = false;  // the memory operand must be 16-byte aligned
};

// Which way each opcode moves and what a destination keeps (SDM vol. 2, each page's
// "Operation"): a load from memory or a GPR zeroes the rest of the destination (MOVD/MOVQ
// into XMM zero-extend to 128 bits, into MMX to 64; MOVSS/MOVSD xmm, m clear bits
// 127:32 / 127:64); legacy-SSE MOVSS/MOVSD between registers leave the destination's
// upper bits unchanged; MOVQ xmm, xmm (F3 0F 7E, 66 0F D6) clears bits 127:64.
VectorShape shape_of(const DecodedInstruction& insn) {
    VectorShape s;
    s.size = insn.operand_size;
    const bool scalar = insn.kind == InstructionKind::Movss || insn.kind == InstructionKind::MovsdXmm;
    switch (insn.opcode) {
        case 0x6e:
            s.load = true;
            s.rm_gpr = true;
            break;
        case 0x7e:
            s.load = insn.mandatory_prefix == MandatoryPrefix::PF3;  // F3: MOVQ xmm, xmm/m64
            s.rm_gpr = !s.load;
            break;
        case 0xd6: break;  // MOVQ xmm/m64, xmm
        case 0x6f:
        case 0x28:
        case 0x10:
            s.load = true;
            s.merge = scalar;
            break;
        default:  // 0x7f, 0x29, 0x11: stores
            s.merge = scalar;
            break;
    }
    s.aligned = insn.kind == InstructionKind::Movdqa || insn.kind == InstructionKind::Movaps ||
                insn.kind == InstructionKind::Movapd;
    return s;
}

// #UD with CR0.EM, #UD for SSE without CR4.OSFXSR, then #NM with CR0.TS (SDM vol. 2 2.5,
// "Exceptions Type 4/5"; vol. 3A 2.5 CR0.EM/TS and 13.1.3).
EmulationResult check_available(const Machine& m, bool xmm) {
    if (m.cpu.cr0 & kCr0Em) return raise(kVectorUd);
    if (xmm && !(m.cpu.cr4 & kCr4Osfxsr)) return raise(kVectorUd);
    if (m.cpu.cr0 & kCr0Ts) return raise(kVectorNm);
    return proceed();
}

}  // namespace

EmulationResult execute_vector_move(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const bool xmm = insn.reg_class == RegisterClass::Xmm;
    const RegisterClass cls = xmm ? RegisterClass::Xmm : RegisterClass::Mmx;
    const u8 width = xmm ? 16 : 8;
    // MMX registers are 8; REX.R and REX.B do not extend them (SDM vol. 2 2.2.1.2).
    const u8 index_mask = xmm ? 15 : 7;
    const u8 reg = insn.modrm.reg & index_mask;
    const u8 rm = insn.modrm.rm & index_mask;
    EmulationResult result = check_available(m, xmm);
    if (failed(result)) return result;
    const VectorShape s = shape_of(insn);
    if (s.size == 0 || s.size > width) return unsupported("vector move of an unexpected size");
    u64 linear = 0;
    if (insn.memory.present) {
        result = m.memory_operand(s.size, linear);
        if (failed(result)) return result;
        // SDM vol. 2 MOVDQA/MOVAPS/MOVAPD, protected-mode exceptions: #GP(0) for a memory
        // operand not aligned on 16 bytes, whatever the segment (so #GP, not #SS, for SS).
        if (s.aligned && (linear & 15) != 0) return raise_with_code(kVectorGp, 0);
    }
    u8 data[16] = {};
    u8 out[16] = {};
    if (s.load) {
        if (insn.memory.present) {
            result = m.read(linear, data, s.size);
            if (failed(result)) return result;
        } else if (s.rm_gpr) {
            const u64 value = m.read_gpr(insn.modrm.rm, s.size);
            memcpy(data, &value, s.size);
        } else {
            m.env.read_vector_register(cls, rm, data, width);
        }
        if (s.merge && !insn.memory.present) m.env.read_vector_register(cls, reg, out, width);
        memcpy(out, data, s.size);
        m.env.write_vector_register(cls, reg, out, width);
        return proceed();
    }
    m.env.read_vector_register(cls, reg, data, width);
    if (insn.memory.present) return m.write(linear, data, s.size);
    if (s.rm_gpr) {
        u64 value = 0;
        memcpy(&value, data, s.size);
        m.write_gpr(insn.modrm.rm, s.size, value);
        return proceed();
    }
    if (s.merge) m.env.read_vector_register(cls, rm, out, width);
    memcpy(out, data, s.size);
    m.env.write_vector_register(cls, rm, out, width);
    return proceed();
}

}  // namespace emulator_detail
