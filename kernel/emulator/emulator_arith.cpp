// The ALU instructions, BT*, CMPXCHG, XADD and SETcc: operand fetch and write-back here,
// results and flags from alu_execute (kernel/emulator/alu.hpp).
#include "kernel/emulator/alu.hpp"
#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

AluOp alu_op_of(InstructionKind kind) {
    switch (kind) {
        case InstructionKind::Add: return AluOp::Add;
        case InstructionKind::Adc: return AluOp::Adc;
        case InstructionKind::Sub: return AluOp::Sub;
        case InstructionKind::Sbb: return AluOp::Sbb;
        case InstructionKind::And: return AluOp::And;
        case InstructionKind::Or: return AluOp::Or;
        case InstructionKind::Xor: return AluOp::Xor;
        case InstructionKind::Cmp: return AluOp::Cmp;
        case InstructionKind::Test: return AluOp::Test;
        case InstructionKind::Inc: return AluOp::Inc;
        case InstructionKind::Dec: return AluOp::Dec;
        case InstructionKind::Neg: return AluOp::Neg;
        case InstructionKind::Not: return AluOp::Not;
        case InstructionKind::Bt: return AluOp::Bt;
        case InstructionKind::Bts: return AluOp::Bts;
        case InstructionKind::Btr: return AluOp::Btr;
        default: return AluOp::Btc;
    }
}

bool writes_destination(AluOp op) { return op != AluOp::Cmp && op != AluOp::Test && op != AluOp::Bt; }

// Reads the destination, applies `op` and writes the result back (read, compute, write:
// if the write faults the flags and registers stay as they were).
EmulationResult apply(Machine& m, AluOp op, const Location& destination, u64 source, u8 size) {
    const bool writes = writes_destination(op);
    u64 value = 0;
    EmulationResult result = m.read_value(destination, size, value, writes);
    if (failed(result)) return result;
    const AluResult alu = alu_execute(op, value, source, size, m.cpu.rflags);
    if (writes && alu.write) {
        result = m.write_value(destination, size, alu.value);
        if (failed(result)) return result;
    }
    m.cpu.rflags = alu.rflags;
    return proceed();
}

}  // namespace

// The operand shapes of the one-byte ALU opcodes (SDM vol. 2 appendix A, table A-2):
//   00-3D rows  op&7 = 0/1 r/m, r   2/3 r, r/m   4/5 AL/rAX, imm
//   40-4F       INC/DEC r (outside 64-bit mode)
//   80-83       group 1 r/m, imm (83: imm8 sign-extended)
//   84/85       TEST r/m, r          A8/A9 TEST AL/rAX, imm
//   F6/F7       group 3 TEST r/m, imm; NOT; NEG      FE/FF group 4/5 INC, DEC
EmulationResult execute_alu(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    const u8 op = insn.opcode;
    const AluOp alu = alu_op_of(insn.kind);
    if (op >= 0x40 && op <= 0x4f) return apply(m, alu, m.register_location(insn.opcode_register), 0, size);
    const bool accumulator_form = (op < 0x40 && (op & 7) >= 4) || op == 0xa8 || op == 0xa9;
    if (accumulator_form) return apply(m, alu, m.register_location(kRegAx), immediate_as(insn, size), size);
    Location rm;
    EmulationResult result = m.rm_location(size, rm);
    if (failed(result)) return result;
    if (op < 0x40 && (op & 7) >= 2) {  // r, r/m: the r/m operand is the source
        u64 source = 0;
        result = m.read_value(rm, size, source);
        if (failed(result)) return result;
        return apply(m, alu, m.reg_location(), source, size);
    }
    // r/m, r; or r/m, imm (80-83, F6/F7 /0 /1), which INC DEC NEG NOT ignore.
    const bool register_source = op < 0x40 || op == 0x84 || op == 0x85;
    const u64 source = register_source ? m.read_gpr(insn.modrm.reg, size) : immediate_as(insn, size);
    return apply(m, alu, rm, source, size);
}

// BT/BTS/BTR/BTC r/m, r and r/m, imm8 (SDM vol. 2 BT, "bit base" and "bit offset"). The
// immediate offset is taken modulo the operand width; a register offset is too for a
// register operand, but for a memory operand it is a signed operand-size integer that
// first moves the address by (offset SAR log2(width)) operand-size units, then selects
// bit (offset mod width) there.
EmulationResult execute_bit_test(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    const u64 width_mask = 8u * size - 1;
    const AluOp alu = alu_op_of(insn.kind);
    Location destination;
    u64 offset = 0;
    EmulationResult result;
    if (insn.opcode == 0xba) {
        offset = insn.immediate.value & width_mask;
        result = m.rm_location(size, destination);
    } else {
        const u64 raw = m.read_gpr(insn.modrm.reg, size);
        offset = raw & width_mask;
        if (insn.memory.present) {
            const unsigned shift = size == 2 ? 4 : size == 4 ? 5 : 6;
            const i64 signed_offset = i64(raw << (64 - 8 * size)) >> (64 - 8 * size);
            const i64 extra = (signed_offset >> shift) * i64(size);
            destination.memory = true;
            result = m.memory_operand(size, destination.linear, extra);
        } else {
            destination = m.register_location(insn.modrm.rm);
        }
    }
    if (failed(result)) return result;
    return apply(m, alu, destination, offset, size);
}

// CMPXCHG r/m, r (SDM vol. 2 CMPXCHG): compares the accumulator with the destination
// (flags as CMP acc, dest); equal: dest = source; else acc = dest. A memory destination is
// written back with its own value on failure ("the processor never produces a locked read
// without also producing a locked write"), so the device sees the write. A register
// destination is not written on failure, although the SDM's pseudocode writes it: a
// 32-bit one keeps bits 63:32, as the host CPU shows in the differential tests
// (tests/emulator) and as QEMU models it.
EmulationResult execute_cmpxchg(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    Location destination;
    EmulationResult result = m.rm_location(size, destination);
    if (failed(result)) return result;
    u64 value = 0;
    result = m.read_value(destination, size, value, true);
    if (failed(result)) return result;
    const u64 accumulator = m.read_gpr(kRegAx, size);
    const u64 source = m.read_gpr(insn.modrm.reg, size);
    const AluResult compare = alu_execute(AluOp::Cmp, accumulator, value, size, m.cpu.rflags);
    const bool equal = (compare.rflags & kRflagsZf) != 0;
    if (equal || destination.memory) {
        result = m.write_value(destination, size, equal ? source : value);
        if (failed(result)) return result;
    }
    if (!equal) m.write_gpr(kRegAx, size, value);
    m.cpu.rflags = compare.rflags;
    return proceed();
}

// XADD r/m, r (SDM vol. 2 XADD): TEMP = dest + src; src = dest; dest = TEMP, flags as ADD.
// With the same register as both operands the destination's write is the last one.
EmulationResult execute_xadd(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    Location destination;
    EmulationResult result = m.rm_location(size, destination);
    if (failed(result)) return result;
    u64 value = 0;
    result = m.read_value(destination, size, value, true);
    if (failed(result)) return result;
    const u64 source = m.read_gpr(insn.modrm.reg, size);
    const AluResult sum = alu_execute(AluOp::Add, value, source, size, m.cpu.rflags);
    if (destination.memory) {
        result = m.write_value(destination, size, sum.value);
        if (failed(result)) return result;
        m.write_gpr(insn.modrm.reg, size, value);
    } else {
        m.write_gpr(insn.modrm.reg, size, value);
        m.write_gpr(destination.reg, size, sum.value);
    }
    m.cpu.rflags = sum.rflags;
    return proceed();
}

// SETcc r/m8: 1 if the condition (the opcode's low nibble) holds, else 0; a store only.
EmulationResult execute_setcc(Machine& m) {
    Location destination;
    EmulationResult result = m.rm_location(1, destination);
    if (failed(result)) return result;
    return m.write_value(destination, 1, condition_holds(m.insn.opcode & 0xf, m.cpu.rflags) ? 1 : 0);
}

}  // namespace emulator_detail
