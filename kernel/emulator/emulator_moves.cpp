// MOV and its extending forms, MOVNTI, XCHG, PUSH and POP (SDM vol. 2 instruction pages).
#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

i64 sign_extend(u64 value, u8 size) {
    switch (size) {
        case 1: return i8(value);
        case 2: return i16(value);
        case 4: return i32(value);
        default: return i64(value);
    }
}

// Copies `size` bytes from one location to another: the read happens before the write,
// so a faulting write leaves the registers as they were.
EmulationResult move(Machine& m, const Location& from, const Location& to, u8 size) {
    u64 value = 0;
    EmulationResult result = m.read_value(from, size, value);
    if (failed(result)) return result;
    return m.write_value(to, size, value);
}

// The stack-address size: 8 in 64-bit mode, else SS.B (SDM vol. 1 6.2.3, vol. 3A 3.4.5).
u8 stack_address_size(const Machine& m) { return m.long_mode() ? 8 : m.cpu.stack_32bit ? 4 : 2; }

}  // namespace

EmulationResult execute_mov(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    const u8 op = insn.opcode;
    Location rm;
    if (op >= 0xb0 && op <= 0xbf) {  // MOV r, imm: the immediate has the operand size (imm64 with REX.W)
        m.write_gpr(insn.opcode_register, size, truncate(insn.immediate.value, size));
        return proceed();
    }
    EmulationResult result = m.rm_location(size, rm);
    if (failed(result)) return result;
    switch (op) {
        case 0x88:
        case 0x89: return move(m, m.reg_location(), rm, size);
        case 0x8a:
        case 0x8b: return move(m, rm, m.reg_location(), size);
        // A0-A3: the moffs operand is insn.memory (no ModRM), the register is rAX.
        case 0xa0:
        case 0xa1: return move(m, rm, m.register_location(kRegAx), size);
        case 0xa2:
        case 0xa3: return move(m, m.register_location(kRegAx), rm, size);
        case 0xc6:
        case 0xc7: return m.write_value(rm, size, immediate_as(insn, size));  // imm32 sign-extended for REX.W
        default: return unsupported("MOV form not emulated");
    }
}

// MOVZX/MOVSX r, r/m8 or r/m16 and MOVSXD r, r/m32 (r/m16 with 66, r/m32 into r32 without
// REX.W: plain moves).
EmulationResult execute_move_extend(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    u8 source_size = 0;
    if (insn.kind == InstructionKind::Movsxd)
        source_size = size == 8 ? 4 : size;
    else
        source_size = (insn.opcode & 1) ? 2 : 1;  // 0F B6/BE: byte, 0F B7/BF: word
    Location rm;
    EmulationResult result = m.rm_location(source_size, rm);
    if (failed(result)) return result;
    u64 value = 0;
    result = m.read_value(rm, source_size, value);
    if (failed(result)) return result;
    if (insn.kind != InstructionKind::Movzx) value = u64(sign_extend(value, source_size));
    m.write_gpr(insn.modrm.reg, size, truncate(value, size));
    return proceed();
}

// MOVNTI m32/m64, r: a store whose non-temporal hint means nothing to emulated memory.
EmulationResult execute_movnti(Machine& m) {
    const u8 size = m.insn.operand_size;
    Location rm;
    EmulationResult result = m.rm_location(size, rm);
    if (failed(result)) return result;
    if (!rm.memory) return raise(kVectorUd);  // the decoder already refuses the register form
    return move(m, m.reg_location(), rm, size);
}

// XCHG r/m, r and XCHG rAX, r (90+r). With memory it is locked whether or not LOCK is
// given (SDM vol. 2 XCHG); one read and one write are what a device sees either way.
EmulationResult execute_xchg(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    Location first;
    Location second;
    if (insn.opcode >= 0x90 && insn.opcode <= 0x97) {
        first = m.register_location(insn.opcode_register);
        second = m.register_location(kRegAx);
    } else {
        EmulationResult result = m.rm_location(size, first);
        if (failed(result)) return result;
        second = m.reg_location();
    }
    u64 a = 0;
    u64 b = 0;
    EmulationResult result = m.read_value(first, size, a, true);
    if (failed(result)) return result;
    result = m.read_value(second, size, b);
    if (failed(result)) return result;
    result = m.write_value(first, size, b);  // memory (if any) first: a fault changes nothing
    if (failed(result)) return result;
    return m.write_value(second, size, a);
}

// PUSH r (50+r), imm (68, 6A), r/m (FF /6). The pushed value is read before rSP changes:
// PUSH rSP pushes the old value, and an rSP-based memory source is addressed with the old
// rSP (SDM vol. 2 PUSH).
EmulationResult execute_push(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    u64 value = 0;
    if (insn.opcode >= 0x50 && insn.opcode <= 0x57) {
        value = m.read_gpr(insn.opcode_register, size);
    } else if (insn.opcode == 0x68 || insn.opcode == 0x6a) {
        value = immediate_as(insn, size);
    } else {
        Location rm;
        EmulationResult result = m.rm_location(size, rm);
        if (failed(result)) return result;
        result = m.read_value(rm, size, value);
        if (failed(result)) return result;
    }
    const u8 stack_size = stack_address_size(m);
    const u64 new_sp = truncate(m.cpu.gpr[kRegSp] - size, stack_size);
    u64 linear = 0;
    EmulationResult result = m.linear_address(Segment::SS, new_sp, size, linear);
    if (failed(result)) return result;
    result = m.write(linear, &value, size);
    if (failed(result)) return result;
    m.write_gpr(kRegSp, stack_size, new_sp);  // a 16-bit stack keeps bits 63:16 of rSP
    return proceed();
}

// POP r (58+r), r/m (8F /0). POP rSP leaves the popped value in rSP, and an rSP-based
// memory destination is addressed with the incremented rSP (SDM vol. 2 POP).
EmulationResult execute_pop(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    const u8 size = insn.operand_size;
    const u8 stack_size = stack_address_size(m);
    const u64 old_sp = truncate(m.cpu.gpr[kRegSp], stack_size);
    u64 linear = 0;
    EmulationResult result = m.linear_address(Segment::SS, old_sp, size, linear);
    if (failed(result)) return result;
    u64 value = 0;
    result = m.read(linear, &value, size);
    if (failed(result)) return result;
    m.write_gpr(kRegSp, stack_size, old_sp + size);  // in the working copy: undone on a fault
    Location destination = m.register_location(insn.opcode_register);
    if (insn.opcode == 0x8f) {
        result = m.rm_location(size, destination);
        if (failed(result)) return result;
    }
    return m.write_value(destination, size, value);
}

}  // namespace emulator_detail
