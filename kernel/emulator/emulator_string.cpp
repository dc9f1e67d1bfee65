// MOVS, STOS, LODS, CMPS and SCAS, with REP/REPE/REPNE (SDM vol. 2 "REP/REPE/REPZ/REPNE/
// REPNZ" and the instruction pages; SDM vol. 1 3.7.5 for the string operands).
//
// The source operand is seg:rSI (DS unless overridden; the decoder resolved it into
// insn.memory.segment), the destination always ES:rDI. rSI, rDI and rCX are used and
// updated at the address size: a 16-bit address size wraps SI/DI/CX within 16 bits and
// keeps the upper bits, 32 bits zero-extends like any 32-bit register write.
#include "kernel/emulator/alu.hpp"
#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

struct StringStep {
    u8 size;          // element size
    u8 address_size;  // of rSI, rDI, rCX
    u64 delta;        // +size, or -size with DF set (SDM vol. 1 3.4.3.2)
};

EmulationResult source_address(Machine& m, const StringStep& s, u64& linear) {
    return m.linear_address(m.insn.memory.segment, truncate(m.cpu.gpr[kRegSi], s.address_size), s.size, linear);
}

EmulationResult destination_address(Machine& m, const StringStep& s, u64& linear) {
    return m.linear_address(Segment::ES, truncate(m.cpu.gpr[kRegDi], s.address_size), s.size, linear);
}

void advance(Machine& m, const StringStep& s, u8 reg) { m.write_gpr(reg, s.address_size, m.cpu.gpr[reg] + s.delta); }

// One element. Registers and flags change only after every access of the element
// succeeded, so a fault leaves the state of the iterations before it.
EmulationResult iterate(Machine& m, const StringStep& s) {
    const InstructionKind kind = m.insn.kind;
    u64 source = 0;
    u64 destination = 0;
    u64 a = 0;
    u64 b = 0;
    EmulationResult result;
    const bool reads_source =
        kind == InstructionKind::Movs || kind == InstructionKind::Lods || kind == InstructionKind::Cmps;
    const bool uses_destination = kind != InstructionKind::Lods;
    if (reads_source) {
        result = source_address(m, s, source);
        if (failed(result)) return result;
    }
    if (uses_destination) {
        result = destination_address(m, s, destination);
        if (failed(result)) return result;
    }
    switch (kind) {
        case InstructionKind::Movs:
            result = m.read(source, &a, s.size);
            if (!failed(result)) result = m.write(destination, &a, s.size);
            break;
        case InstructionKind::Stos:
            a = m.read_gpr(kRegAx, s.size);
            result = m.write(destination, &a, s.size);
            break;
        case InstructionKind::Lods:
            result = m.read(source, &a, s.size);
            if (!failed(result)) m.write_gpr(kRegAx, s.size, a);
            break;
        case InstructionKind::Cmps:  // flags of CMP [rSI], [rDI]
            result = m.read(source, &a, s.size);
            if (!failed(result)) result = m.read(destination, &b, s.size);
            if (!failed(result)) m.cpu.rflags = alu_execute(AluOp::Cmp, a, b, s.size, m.cpu.rflags).rflags;
            break;
        default:  // SCAS: flags of CMP rAX, [rDI]
            result = m.read(destination, &b, s.size);
            if (!failed(result)) {
                a = m.read_gpr(kRegAx, s.size);
                m.cpu.rflags = alu_execute(AluOp::Cmp, a, b, s.size, m.cpu.rflags).rflags;
            }
            break;
    }
    if (failed(result)) return result;
    if (reads_source) advance(m, s, kRegSi);
    if (uses_destination) advance(m, s, kRegDi);
    return proceed();
}

}  // namespace

EmulationResult execute_string(Machine& m) {
    const DecodedInstruction& insn = m.insn;
    StringStep s;
    s.size = insn.operand_size;
    s.address_size = insn.address_size;
    s.delta = (m.cpu.rflags & kRflagsDf) ? u64(0) - s.size : u64(s.size);
    // F2 before MOVS/STOS/LODS repeats like F3 on AMD and Intel processors; only CMPS and
    // SCAS tell REPE from REPNE.
    const bool repeat = insn.prefixes.rep || insn.prefixes.repne;
    if (!repeat) return iterate(m, s);
    const bool compares = insn.kind == InstructionKind::Cmps || insn.kind == InstructionKind::Scas;
    u64 count = truncate(m.cpu.gpr[kRegCx], s.address_size);
    // With rCX = 0 nothing is accessed and the instruction completes.
    for (u64 done = 0; count != 0; ++done) {
        if (done == kMaxRepIterations) {
            // Leave RIP on the instruction: the guest resumes it (after any pending
            // interrupt) exactly as after an interrupted REP on the processor.
            m.advance_rip = false;
            return proceed();
        }
        EmulationResult result = iterate(m, s);
        if (failed(result)) return result;
        --count;
        m.write_gpr(kRegCx, s.address_size, count);
        m.made_progress = true;
        if (compares) {
            const bool zf = (m.cpu.rflags & kRflagsZf) != 0;
            if (insn.prefixes.rep ? !zf : zf) break;  // REPE stops on ZF = 0, REPNE on ZF = 1
        }
    }
    return proceed();
}

}  // namespace emulator_detail
