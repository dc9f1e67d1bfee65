#include "kernel/vm/instruction_length.hpp"

namespace {

struct Encoding {
    OpcodeMap map;
    u8 opcode;
    i16 modrm;  // the whole ModRM byte for the 0F 01 group, or -1 when there is none
};

// Intel SDM vol. 2 and AMD APM vol. 3, per instruction.
Encoding encoding_of(InterceptedInstruction which) {
    switch (which) {
        case InterceptedInstruction::Cpuid: return {OpcodeMap::TwoByte, 0xa2, -1};
        case InterceptedInstruction::Rdmsr: return {OpcodeMap::TwoByte, 0x32, -1};
        case InterceptedInstruction::Rdtsc: return {OpcodeMap::TwoByte, 0x31, -1};
        case InterceptedInstruction::Rdtscp: return {OpcodeMap::TwoByte, 0x01, 0xf9};
        case InterceptedInstruction::Wrmsr: return {OpcodeMap::TwoByte, 0x30, -1};
        case InterceptedInstruction::Hlt: return {OpcodeMap::OneByte, 0xf4, -1};
        case InterceptedInstruction::Vmmcall: return {OpcodeMap::TwoByte, 0x01, 0xd9};
        case InterceptedInstruction::Vmcall: return {OpcodeMap::TwoByte, 0x01, 0xc1};
        case InterceptedInstruction::Xsetbv: return {OpcodeMap::TwoByte, 0x01, 0xd1};
        case InterceptedInstruction::MovToCr: return {OpcodeMap::TwoByte, 0x22, -1};
        case InterceptedInstruction::MovFromCr: return {OpcodeMap::TwoByte, 0x20, -1};
        case InterceptedInstruction::InvdOrWbinvd: return {OpcodeMap::TwoByte, 0x08, -1};  // or 0x09
        case InterceptedInstruction::Count: break;
    }
    return {OpcodeMap::OneByte, 0, -1};
}

// The length of `which` when the bytes are its plain encoding, with no prefix (as
// compilers and guests emit it); 0 otherwise. None of these has an operand or
// displacement, so that length holds in every mode, and the decoder would find the
// same: a shortcut past it for the usual case, not another rule.
u8 plain_length(const u8* bytes, usize available, InterceptedInstruction which) {
    if (which == InterceptedInstruction::MovToCr || which == InterceptedInstruction::MovFromCr) return 0;  // any ModRM
    const Encoding e = encoding_of(which);
    if (e.map == OpcodeMap::OneByte) return available >= 1 && bytes[0] == e.opcode ? 1 : 0;
    if (e.map != OpcodeMap::TwoByte || available < 2 || bytes[0] != 0x0f) return 0;
    const bool opcode_ok =
        bytes[1] == e.opcode || (which == InterceptedInstruction::InvdOrWbinvd && bytes[1] == e.opcode + 1);
    if (!opcode_ok) return 0;
    if (e.modrm < 0) return 2;
    return available >= 3 && bytes[2] == u8(e.modrm) ? 3 : 0;
}

}  // namespace

CpuMode decoder_mode(GuestCpuMode mode) {
    switch (mode) {
        case GuestCpuMode::Real: return CpuMode::Real16;
        case GuestCpuMode::Protected16: return CpuMode::Protected16;
        case GuestCpuMode::Protected32: return CpuMode::Protected32;
        case GuestCpuMode::Long64: break;
    }
    return CpuMode::Long64;
}

u8 intercepted_instruction_length(const u8* bytes, usize available, GuestCpuMode mode, InterceptedInstruction which) {
    if (bytes == nullptr || available == 0) return 0;
    if (const u8 length = plain_length(bytes, available, which)) return length;
    DecodedInstruction insn;
    // VMCALL is Intel's; everything else decodes alike on both vendors.
    const CpuVendor vendor = which == InterceptedInstruction::Vmcall ? CpuVendor::Intel : CpuVendor::Amd;
    if (decode_instruction(bytes, available, decoder_mode(mode), insn, vendor) != DecodeResult::Ok) return 0;
    const Encoding expected = encoding_of(which);
    const bool opcode_ok = insn.opcode == expected.opcode ||
                           (which == InterceptedInstruction::InvdOrWbinvd && insn.opcode == expected.opcode + 1);
    if (insn.vex.kind != VexKind::None || insn.map != expected.map || !opcode_ok) return 0;
    if (expected.modrm >= 0 && (!insn.modrm.present || insn.modrm.raw != u8(expected.modrm))) return 0;
    return insn.length;
}

bool intercepted_instruction_is_locked(const u8* bytes, usize available, GuestCpuMode mode,
                                       InterceptedInstruction which) {
    // Skip the legacy prefixes (SDM vol. 2A 2.1.1); one of them must be F0.
    usize i = 0;
    bool lock = false;
    while (i < available && i < 14) {
        const u8 b = bytes[i];
        if (b == 0xf0) {
            lock = true;
        } else if (!(b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
                     b == 0x65 || b == 0x66 || b == 0x67)) {
            break;
        }
        ++i;
    }
    if (!lock) return false;
    // The same bytes without their LOCK prefixes decode to the exited instruction.
    u8 unlocked[15];
    usize n = 0;
    for (usize j = 0; j < available && n < sizeof(unlocked); ++j)
        if (j >= i || bytes[j] != 0xf0) unlocked[n++] = bytes[j];
    return intercepted_instruction_length(unlocked, n, mode, which) != 0;
}

bool decode_control_register_access(const u8* bytes, usize available, GuestCpuMode mode, DecodedCrAccess& out) {
    out = DecodedCrAccess{};
    if (bytes == nullptr || available == 0) return false;
    DecodedInstruction& insn = out.insn;
    if (decode_instruction(bytes, available, decoder_mode(mode), insn, CpuVendor::Amd) != DecodeResult::Ok)
        return false;
    if (insn.vex.kind != VexKind::None || insn.map != OpcodeMap::TwoByte) return false;
    out.length = insn.length;
    switch (insn.opcode) {
        case 0x20:  // MOV r32/r64, CRn and MOV CRn, r32/r64 (SDM vol. 2B): ModRM.reg names
        case 0x22:  // the CR, rm the GPR
            out.form = insn.opcode == 0x22 ? CrAccessForm::MovToCr : CrAccessForm::MovFromCr;
            out.cr = insn.modrm.reg;
            out.gpr = insn.modrm.rm;
            return true;
        case 0x06: out.form = CrAccessForm::Clts; return true;
        case 0x01:
            if (((insn.modrm.raw >> 3) & 7) != 6) return false;
            out.form = CrAccessForm::Lmsw;
            out.lmsw_memory = insn.modrm.mod != 3;
            out.gpr = insn.modrm.rm;
            return true;
        default: return false;
    }
}
