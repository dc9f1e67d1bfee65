// The emulator's entry point: refusals and #UD checks that precede execution, the
// dispatch to the per-family executors (emulator_*.cpp), and the commit of the new state.
#include "kernel/emulator/emulator.hpp"

#include "kernel/emulator/emulator_machine.hpp"

using namespace emulator_detail;

namespace {

// The memory operand is the destination (rather than a source into a register).
bool memory_is_destination(const DecodedInstruction& insn) {
    // 00-3B rows: op&7 = 0/1 is r/m, r; 2/3 is r, r/m. Every other lockable form (80-83,
    // 86/87, F6/F7, FE/FF, 0F AB B3 BB BA B0 B1 C0 C1) writes its r/m operand.
    if (insn.map == OpcodeMap::OneByte && insn.opcode < 0x40) return (insn.opcode & 7) < 2;
    return true;
}

// LOCK is allowed only on ADD ADC SUB SBB AND OR XOR INC DEC NEG NOT BTS BTR BTC XCHG
// CMPXCHG XADD (and CMPXCHG8B/16B) with a memory destination; anything else is #UD (SDM
// vol. 2 LOCK). The decoder already refuses such encodings; this guards a caller that
// built the instruction itself.
bool lock_allowed(const DecodedInstruction& insn) {
    if (!insn.memory.present || !insn.modrm.present) return false;
    switch (insn.kind) {
        case InstructionKind::Add:
        case InstructionKind::Adc:
        case InstructionKind::Sub:
        case InstructionKind::Sbb:
        case InstructionKind::And:
        case InstructionKind::Or:
        case InstructionKind::Xor:
        case InstructionKind::Inc:
        case InstructionKind::Dec:
        case InstructionKind::Neg:
        case InstructionKind::Not:
        case InstructionKind::Bts:
        case InstructionKind::Btr:
        case InstructionKind::Btc:
        case InstructionKind::Xchg:
        case InstructionKind::Cmpxchg:
        case InstructionKind::Xadd: return memory_is_destination(insn);
        default: return false;
    }
}

EmulationResult execute(Machine& m) {
    switch (m.insn.kind) {
        case InstructionKind::Mov: return execute_mov(m);
        case InstructionKind::Movzx:
        case InstructionKind::Movsx:
        case InstructionKind::Movsxd: return execute_move_extend(m);
        case InstructionKind::Movnti: return execute_movnti(m);
        case InstructionKind::Movs:
        case InstructionKind::Stos:
        case InstructionKind::Lods:
        case InstructionKind::Cmps:
        case InstructionKind::Scas: return execute_string(m);
        case InstructionKind::Add:
        case InstructionKind::Adc:
        case InstructionKind::Sub:
        case InstructionKind::Sbb:
        case InstructionKind::And:
        case InstructionKind::Or:
        case InstructionKind::Xor:
        case InstructionKind::Cmp:
        case InstructionKind::Test:
        case InstructionKind::Inc:
        case InstructionKind::Dec:
        case InstructionKind::Neg:
        case InstructionKind::Not: return execute_alu(m);
        case InstructionKind::Bt:
        case InstructionKind::Bts:
        case InstructionKind::Btr:
        case InstructionKind::Btc: return execute_bit_test(m);
        case InstructionKind::Xchg: return execute_xchg(m);
        case InstructionKind::Cmpxchg: return execute_cmpxchg(m);
        case InstructionKind::Xadd: return execute_xadd(m);
        case InstructionKind::Setcc: return execute_setcc(m);
        case InstructionKind::Push: return execute_push(m);
        case InstructionKind::Pop: return execute_pop(m);
        case InstructionKind::Movd:
        case InstructionKind::Movq:
        case InstructionKind::Movdqa:
        case InstructionKind::Movdqu:
        case InstructionKind::Movaps:
        case InstructionKind::Movapd:
        case InstructionKind::Movups:
        case InstructionKind::Movupd:
        case InstructionKind::Movss:
        case InstructionKind::MovsdXmm: return execute_vector_move(m);
        case InstructionKind::Other: break;
    }
    return unsupported(unsupported_reason(m.insn));
}

// The instruction pointer after the instruction: 64 bits in 64-bit mode, else EIP, or IP
// for a 16-bit code segment, wrapping (SDM vol. 1 3.5, vol. 3A 20.1).
u64 next_instruction_pointer(const EmulatorCpuState& cpu, u8 length) {
    const u64 next = cpu.rip + length;
    switch (cpu.mode) {
        case CpuMode::Long64: return next;
        case CpuMode::Protected32: return next & 0xffffffffull;
        default: return next & 0xffffull;
    }
}

}  // namespace

const char* emulation_result_name(EmulationResult::Kind kind) {
    switch (kind) {
        case EmulationResult::Done: return "Done";
        case EmulationResult::Exception: return "Exception";
        case EmulationResult::Retry: return "Retry";
        case EmulationResult::Unsupported: return "Unsupported";
        case EmulationResult::Unhandlable: return "Unhandlable";
    }
    return "?";
}

EmulationResult emulate_instruction(const DecodedInstruction& insn, EmulatorCpuState& cpu, EmulatorEnvironment& env) {
    if (insn.kind == InstructionKind::Other) return unsupported(unsupported_reason(insn));
    if (insn.mode != cpu.mode) return unsupported("instruction decoded for another processor mode");
    if (insn.prefixes.lock && !lock_allowed(insn)) return raise(kVectorUd);
    // Executors work on a copy, so an instruction that fails changes no register.
    EmulatorCpuState work = cpu;
    Machine m(insn, work, env);
    EmulationResult result = execute(m);
    if (result.kind == EmulationResult::Done) {
        if (m.advance_rip) work.rip = next_instruction_pointer(cpu, insn.length);
        cpu = work;
        return result;
    }
    if (m.made_progress) {
        // A REP string instruction keeps the iterations it completed (their memory
        // accesses happened); RIP stays on it. A Retry then becomes a Done that did not
        // advance RIP, so that the caller writes the registers back.
        for (unsigned i = 0; i < 16; ++i) cpu.gpr[i] = work.gpr[i];
        cpu.rflags = work.rflags;
        if (result.kind == EmulationResult::Retry) return EmulationResult{};
    }
    return result;
}
