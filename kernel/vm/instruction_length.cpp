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
        case InterceptedInstruction::Wrmsr: return {OpcodeMap::TwoByte, 0x30, -1};
        case InterceptedInstruction::Hlt: return {OpcodeMap::OneByte, 0xf4, -1};
        case InterceptedInstruction::Vmmcall: return {OpcodeMap::TwoByte, 0x01, 0xd9};
        case InterceptedInstruction::Vmcall: return {OpcodeMap::TwoByte, 0x01, 0xc1};
        case InterceptedInstruction::Xsetbv: return {OpcodeMap::TwoByte, 0x01, 0xd1};
        case InterceptedInstruction::MovToCr: return {OpcodeMap::TwoByte, 0x22, -1};
        case InterceptedInstruction::MovFromCr: return {OpcodeMap::TwoByte, 0x20, -1};
    }
    return {OpcodeMap::OneByte, 0, -1};
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
    DecodedInstruction insn;
    // VMCALL is Intel's; everything else decodes alike on both vendors.
    const CpuVendor vendor = which == InterceptedInstruction::Vmcall ? CpuVendor::Intel : CpuVendor::Amd;
    if (decode_instruction(bytes, available, decoder_mode(mode), insn, vendor) != DecodeResult::Ok) return 0;
    const Encoding expected = encoding_of(which);
    if (insn.vex.kind != VexKind::None || insn.map != expected.map || insn.opcode != expected.opcode) return 0;
    if (expected.modrm >= 0 && (!insn.modrm.present || insn.modrm.raw != u8(expected.modrm))) return 0;
    return insn.length;
}
