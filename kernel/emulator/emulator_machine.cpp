// Registers, effective and linear addresses, and memory access for the emulator.
#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

// Canonical: bits 63:N-1 all equal, N = 48, or 57 with 5-level paging (SDM vol. 1 3.3.7.1,
// vol. 3A 4.5).
bool is_canonical(u64 address, bool la57) {
    const unsigned shift = la57 ? 64 - 57 : 64 - 48;
    return u64(i64(address << shift) >> shift) == address;
}

EmulationResult from_memory(const MemoryOutcome& outcome) {
    EmulationResult result;
    switch (outcome.status) {
        case MemoryStatus::Ok: break;
        case MemoryStatus::Exception:
            result.kind = EmulationResult::Exception;
            result.exception = outcome.exception;
            break;
        case MemoryStatus::Retry: result.kind = EmulationResult::Retry; break;
        case MemoryStatus::Unhandlable:
            result.kind = EmulationResult::Unhandlable;
            result.reason = outcome.reason ? outcome.reason : "memory access not handled";
            break;
    }
    return result;
}

}  // namespace

EmulationResult raise_with_code(u8 vector, u32 error_code) {
    EmulationResult result;
    result.kind = EmulationResult::Exception;
    result.exception.vector = vector;
    result.exception.has_error_code = true;
    result.exception.error_code = error_code;
    return result;
}

EmulationResult raise(u8 vector) {
    EmulationResult result;
    result.kind = EmulationResult::Exception;
    result.exception.vector = vector;
    return result;
}

EmulationResult unsupported(const char* reason) {
    EmulationResult result;
    result.kind = EmulationResult::Unsupported;
    result.reason = reason;
    return result;
}

u64 Machine::read_gpr(u8 reg, u8 size) const {
    if (size == 1 && is_high_byte_register(insn, reg)) return (cpu.gpr[reg - 4] >> 8) & 0xff;
    return truncate(cpu.gpr[reg & 15], size);
}

void Machine::write_gpr(u8 reg, u8 size, u64 value) {
    if (size == 1 && is_high_byte_register(insn, reg)) {
        u64& full = cpu.gpr[reg - 4];
        full = (full & ~0xff00ull) | ((value & 0xff) << 8);
        return;
    }
    u64& full = cpu.gpr[reg & 15];
    switch (size) {
        case 1: full = (full & ~0xffull) | (value & 0xff); break;
        case 2: full = (full & ~0xffffull) | (value & 0xffff); break;
        // Zero-extended in 64-bit mode (SDM vol. 1 3.4.1.1); outside it bits 63:32 are
        // invisible to the guest and undefined after a mode switch, so zeroing is as good.
        case 4: full = value & 0xffffffffull; break;
        default: full = value; break;
    }
}

EmulationResult Machine::linear_address(Segment segment, u64 offset, u8 size, u64& linear) const {
    const unsigned index = unsigned(segment) < 6 ? unsigned(segment) : unsigned(Segment::DS);
    if (!long_mode()) {
        // Protected and real mode: base + offset within the 32-bit linear space (limits
        // and rights are not checked: see emulator.hpp).
        linear = (cpu.segment_base[index] + offset) & 0xffffffffull;
        return proceed();
    }
    // 64-bit mode: only the FS and GS bases apply (SDM vol. 1 3.4.2.1).
    linear = offset;
    if (segment == Segment::FS || segment == Segment::GS) linear += cpu.segment_base[index];
    const u64 last = linear + (size ? size - 1 : 0);
    if (!is_canonical(linear, cpu.la57) || !is_canonical(last, cpu.la57))
        return raise_with_code(segment == Segment::SS ? kVectorSs : kVectorGp, 0);
    return proceed();
}

u64 Machine::effective_address(i64 extra) const {
    const MemoryOperand& mem = insn.memory;
    u64 address = u64(mem.displacement) + u64(extra);
    if (mem.base != kNoRegister) address += cpu.gpr[mem.base & 15];
    if (mem.index != kNoRegister) address += cpu.gpr[mem.index & 15] * mem.scale;
    if (mem.rip_relative) address += next_rip();
    // Every term wraps modulo the address size, so truncating the 64-bit sum is exact.
    return truncate(address, insn.address_size);
}

EmulationResult Machine::memory_operand(u8 size, u64& linear, i64 extra) const {
    return linear_address(insn.memory.segment, effective_address(extra), size, linear);
}

EmulationResult Machine::rm_location(u8 size, Location& out) const {
    out = Location{};
    if (!insn.memory.present) {
        out.reg = insn.modrm.rm;
        return proceed();
    }
    out.memory = true;
    return memory_operand(size, out.linear);
}

GuestAccess Machine::access(bool write) const {
    GuestAccess a;
    a.write = write;
    a.user = cpu.cpl == 3;
    return a;
}

EmulationResult Machine::read(u64 linear, void* dst, u8 size, bool write_intent) {
    return from_memory(env.read_linear(linear, dst, size, access(write_intent)));
}

EmulationResult Machine::write(u64 linear, const void* src, u8 size) {
    return from_memory(env.write_linear(linear, src, size, access(true)));
}

// Values travel little-endian (SDM vol. 1 1.3.1), as the host stores a u64.
EmulationResult Machine::read_value(const Location& at, u8 size, u64& value, bool write_intent) {
    if (!at.memory) {
        value = read_gpr(at.reg, size);
        return proceed();
    }
    u64 raw = 0;
    const EmulationResult result = read(at.linear, &raw, size, write_intent);
    if (failed(result)) return result;
    value = truncate(raw, size);
    return proceed();
}

EmulationResult Machine::write_value(const Location& at, u8 size, u64 value) {
    if (!at.memory) {
        write_gpr(at.reg, size, value);
        return proceed();
    }
    return write(at.linear, &value, size);
}

}  // namespace emulator_detail
