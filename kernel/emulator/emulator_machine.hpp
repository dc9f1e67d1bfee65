// The emulator's internals: one instruction's view of the vCPU (registers, operand
// addresses, memory through the environment) shared by the per-family executors in
// emulator_*.cpp. Not part of the emulator's interface (emulator.hpp).
#pragma once

#include "kernel/emulator/emulator.hpp"
#include "kernel/types.hpp"

namespace emulator_detail {

inline u64 truncate(u64 value, u8 size) { return size >= 8 ? value : value & ((1ull << (8 * size)) - 1); }

// The immediate sign-extended to `size` bytes (imm8 of 83, imm32 of REX.W 81/C7/68 ...;
// SDM vol. 2 2.2.1.5: immediates are at most 32 bits and sign-extended to 64).
inline u64 immediate_as(const DecodedInstruction& insn, u8 size) {
    return truncate(u64(insn.immediate.sign_extended()), size);
}

inline bool failed(const EmulationResult& result) { return result.kind != EmulationResult::Done; }

inline EmulationResult proceed() { return EmulationResult{}; }

// A fault with an error code (#GP, #SS: always 0 for what the emulator raises).
EmulationResult raise_with_code(u8 vector, u32 error_code);
// A fault without one (#UD, #NM).
EmulationResult raise(u8 vector);
EmulationResult unsupported(const char* reason);

constexpr u8 kRegAx = 0;
constexpr u8 kRegCx = 1;
constexpr u8 kRegSp = 4;
constexpr u8 kRegSi = 6;
constexpr u8 kRegDi = 7;

// Where an operand lives: a general-purpose register (decoder numbering, so 4..7 of a
// byte operand may be AH..BH) or guest memory at a checked linear address.
struct Location {
    bool memory = false;
    u8 reg = 0;
    u64 linear = 0;
};

class Machine {
public:
    Machine(const DecodedInstruction& insn, EmulatorCpuState& cpu, EmulatorEnvironment& env)
        : insn(insn), cpu(cpu), env(env) {}

    const DecodedInstruction& insn;
    EmulatorCpuState& cpu;  // a working copy: emulate_instruction commits it on success
    EmulatorEnvironment& env;
    // Cleared by a REP string instruction that stops before rCX is exhausted: RIP then
    // stays on the instruction.
    bool advance_rip = true;
    // Set once a REP string instruction has completed an iteration: its register changes
    // survive a later fault, as on the processor (SDM vol. 2 REP: an exception suspends
    // the repeated operation with the registers preserved so that it resumes afterwards).
    bool made_progress = false;

    bool long_mode() const { return cpu.mode == CpuMode::Long64; }
    u64 next_rip() const { return cpu.rip + insn.length; }

    // General-purpose registers with the operand-size rules of SDM vol. 1 3.4.1.1: 8- and
    // 16-bit writes merge, 32-bit writes zero bits 63:32; a byte operand numbered 4..7
    // without REX is AH CH DH BH (SDM vol. 1 3.7.2.1).
    u64 read_gpr(u8 reg, u8 size) const;
    void write_gpr(u8 reg, u8 size, u64 value);

    // Segmentation and the canonical check for an access of `size` bytes at `offset`
    // (an effective address already truncated to the address size): #GP(0), or #SS(0)
    // for the stack segment (SDM vol. 3A 6.15, "Interrupt 12" and "Interrupt 13").
    EmulationResult linear_address(Segment segment, u64 offset, u8 size, u64& linear) const;
    // The effective address of insn.memory plus `extra` (BT's bit base), truncated to
    // the address size (SDM vol. 1 3.7.5; vol. 2 2.2.1.6 for RIP-relative).
    u64 effective_address(i64 extra = 0) const;
    // insn.memory as a checked linear address for an access of `size` bytes.
    EmulationResult memory_operand(u8 size, u64& linear, i64 extra = 0) const;

    // The ModRM r/m operand (register or memory) and the ModRM reg operand.
    EmulationResult rm_location(u8 size, Location& out) const;
    Location reg_location() const { return Location{false, insn.modrm.reg, 0}; }
    Location register_location(u8 reg) const { return Location{false, reg, 0}; }

    // Guest memory through the environment: MemoryStatus::Exception, Retry and
    // Unhandlable become the EmulationResult of the same name. `write_intent` marks the
    // read of a read-modify-write, so the environment may check write access before any
    // device sees the read (the processor reports such a fault as a write: SDM vol. 3A
    // 4.7, W/R set: the access causing the fault was a write).
    EmulationResult read(u64 linear, void* dst, u8 size, bool write_intent = false);
    EmulationResult write(u64 linear, const void* src, u8 size);

    EmulationResult read_value(const Location& at, u8 size, u64& value, bool write_intent = false);
    EmulationResult write_value(const Location& at, u8 size, u64 value);

    GuestAccess access(bool write) const;
};

// The executors, one per family; each returns Done to let emulate_instruction commit.
EmulationResult execute_mov(Machine& m);
EmulationResult execute_move_extend(Machine& m);  // MOVZX MOVSX MOVSXD
EmulationResult execute_movnti(Machine& m);
EmulationResult execute_xchg(Machine& m);
EmulationResult execute_push(Machine& m);
EmulationResult execute_pop(Machine& m);
EmulationResult execute_alu(Machine& m);  // ADD .. NOT
EmulationResult execute_bit_test(Machine& m);
EmulationResult execute_cmpxchg(Machine& m);
EmulationResult execute_xadd(Machine& m);
EmulationResult execute_setcc(Machine& m);
EmulationResult execute_string(Machine& m);
EmulationResult execute_vector_move(Machine& m);

// Why an instruction the emulator does not execute was refused, naming its opcode.
const char* unsupported_reason(const DecodedInstruction& insn);

}  // namespace emulator_detail
