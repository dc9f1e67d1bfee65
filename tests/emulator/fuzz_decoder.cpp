// libFuzzer target for decode_instruction. Every input is decoded in all four modes, for
// both vendors, and with every prefix 0..n of its bytes available, each prefix in a heap
// buffer of exactly that size (so AddressSanitizer catches any read past `available`).
// Checked properties:
//  - while the instruction is incomplete the result is NeedMoreBytes; from some length
//    on it is one final result that more bytes never change (same DecodedInstruction);
//  - NeedMoreBytes is never the answer once 15 bytes are available;
//  - Ok: 1 <= length <= 15, Ok first appears with exactly `length` bytes, and the length
//    is the sum of the parts (prefixes, REX, VEX, escapes, opcode, ModRM, SIB,
//    displacement, immediates); field values are in range.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/emulator/decoder.hpp"

namespace {

[[noreturn]] void fail(const char* what, const uint8_t* data, size_t size, CpuMode mode, size_t available) {
    std::fprintf(stderr, "fuzz_decoder: %s (mode %d, %zu of %zu bytes available):", what, int(mode), available, size);
    for (size_t i = 0; i < size; ++i) std::fprintf(stderr, " %02x", data[i]);
    std::fprintf(stderr, "\n");
    std::abort();
}

bool same_immediate(const Immediate& a, const Immediate& b) { return a.value == b.value && a.size == b.size; }

// Field-by-field equality (padding bytes are not part of the result).
bool same(const DecodedInstruction& a, const DecodedInstruction& b) {
    const LegacyPrefixes& p = a.prefixes;
    const LegacyPrefixes& q = b.prefixes;
    const VectorPrefix& v = a.vex;
    const VectorPrefix& u = b.vex;
    const MemoryOperand& m = a.memory;
    const MemoryOperand& n = b.memory;
    return a.length == b.length && a.mode == b.mode && p.operand_size == q.operand_size &&
           p.address_size == q.address_size && p.lock == q.lock && p.rep == q.rep && p.repne == q.repne &&
           p.has_segment == q.has_segment && p.segment == q.segment && p.count == q.count &&
           a.rex.present == b.rex.present && a.rex.w == b.rex.w && a.rex.r == b.rex.r && a.rex.x == b.rex.x &&
           a.rex.b == b.rex.b && v.kind == u.kind && v.size == u.size && v.map == u.map && v.w == u.w &&
           v.vvvv == u.vvvv && v.length == u.length && v.pp == u.pp && v.r == u.r && v.x == u.x && v.b == u.b &&
           v.evex_r2 == u.evex_r2 && v.evex_z == u.evex_z && v.evex_b == u.evex_b && v.evex_aaa == u.evex_aaa &&
           a.mandatory_prefix == b.mandatory_prefix && a.map == b.map && a.opcode == b.opcode &&
           a.modrm.present == b.modrm.present && a.modrm.raw == b.modrm.raw && a.modrm.mod == b.modrm.mod &&
           a.modrm.reg == b.modrm.reg && a.modrm.rm == b.modrm.rm && a.sib.present == b.sib.present &&
           a.sib.raw == b.sib.raw && a.sib.scale == b.sib.scale && a.sib.index == b.sib.index &&
           a.sib.base == b.sib.base && a.displacement.value == b.displacement.value &&
           a.displacement.size == b.displacement.size && same_immediate(a.immediate, b.immediate) &&
           same_immediate(a.immediate2, b.immediate2) && a.operand_size == b.operand_size &&
           a.address_size == b.address_size && a.memory_size == b.memory_size && m.present == n.present &&
           m.segment == n.segment && m.base == n.base && m.index == n.index && m.scale == n.scale &&
           m.displacement == n.displacement && m.rip_relative == n.rip_relative &&
           a.opcode_register == b.opcode_register && a.reg_class == b.reg_class && a.kind == b.kind;
}

bool is_register(u8 r) { return r == kNoRegister || r < 32; }

// Why a decoded instruction is inconsistent, or null.
const char* check_ok(const DecodedInstruction& d) {
    if (d.length < 1 || d.length > 15) return "length outside 1..15";
    usize parts = d.prefixes.count + (d.rex.present ? 1 : 0) + d.vex.size + 1;
    if (d.vex.kind == VexKind::None && d.map != OpcodeMap::OneByte) parts += d.map == OpcodeMap::TwoByte ? 1 : 2;
    parts += (d.modrm.present ? 1 : 0) + (d.sib.present ? 1 : 0) + d.displacement.size + d.immediate.size +
             d.immediate2.size;
    if (parts != d.length) return "length is not the sum of its parts";
    if (d.rex.present && d.vex.kind != VexKind::None) return "REX and VEX together";
    if (d.rex.present && d.mode != CpuMode::Long64) return "REX outside 64-bit mode";
    const u8 os = d.operand_size;
    if (os != 1 && os != 2 && os != 4 && os != 8 && os != 16) return "bad operand size";
    const u8 as = d.address_size;
    if (as != 2 && as != 4 && as != 8) return "bad address size";
    if (as == 8 && d.mode != CpuMode::Long64) return "64-bit addressing outside 64-bit mode";
    if (d.sib.present && (!d.modrm.present || d.modrm.mod == 3 || as == 2)) return "SIB without a ModRM memory form";
    const u8 ds = d.displacement.size;
    if (ds != 0 && ds != 1 && ds != 2 && ds != 4) return "bad displacement size";
    const MemoryOperand& m = d.memory;
    if (!is_register(m.base) || !is_register(m.index)) return "bad memory register";
    if (m.scale != 1 && m.scale != 2 && m.scale != 4 && m.scale != 8) return "bad scale";
    if (m.rip_relative && (d.mode != CpuMode::Long64 || m.base != kNoRegister)) return "bad RIP-relative operand";
    if (m.present && d.modrm.present && d.modrm.mod == 3) return "memory operand in a register form";
    if (!m.present && d.memory_size != 0) return "memory size without a memory operand";
    if (d.kind != InstructionKind::Other && d.vex.kind != VexKind::None) return "VEX instruction classified";
    if (d.prefixes.lock && (d.vex.kind != VexKind::None)) return "LOCK with VEX";
    return nullptr;
}

void check(const uint8_t* data, size_t size, CpuMode mode, CpuVendor vendor) {
    DecodedInstruction final_insn;
    DecodeResult final_result = DecodeResult::NeedMoreBytes;
    const size_t limit = size < 20 ? size : 20;
    for (size_t available = 0; available <= limit; ++available) {
        std::vector<u8> buffer(data, data + available);  // exactly `available` bytes on the heap
        DecodedInstruction insn;
        const DecodeResult result = decode_instruction(buffer.data(), available, mode, insn, vendor);
        if (final_result == DecodeResult::NeedMoreBytes) {
            if (result == DecodeResult::NeedMoreBytes) {
                if (available >= 15) fail("NeedMoreBytes with 15 bytes", data, size, mode, available);
                continue;
            }
            final_result = result;
            final_insn = insn;
            if (result == DecodeResult::Ok) {
                if (const char* why = check_ok(insn)) fail(why, data, size, mode, available);
                if (insn.length != available) fail("Ok before all bytes were needed", data, size, mode, available);
            }
            continue;
        }
        if (result != final_result || (result == DecodeResult::Ok && !same(insn, final_insn)))
            fail("more bytes changed the result", data, size, mode, available);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (CpuMode mode : {CpuMode::Real16, CpuMode::Protected16, CpuMode::Protected32, CpuMode::Long64}) {
        check(data, size, mode, CpuVendor::Amd);
        check(data, size, mode, CpuVendor::Intel);
    }
    return 0;
}
