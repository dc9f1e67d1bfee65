// Why the emulator refused an instruction, as static text naming its opcode (the caller
// keeps the pointer and may print it from any CPU, so nothing is formatted at run time).
#include "kernel/emulator/emulator_machine.hpp"

namespace emulator_detail {
namespace {

constexpr usize kReasonLength = 26;  // "opcode 0F xx not emulated" and its terminator

struct ReasonTable {
    char one_byte[256][kReasonLength];
    char two_byte[256][kReasonLength];
};

constexpr void write_reason(char* out, const char* escape, u8 opcode) {
    constexpr char kHex[] = "0123456789ABCDEF";
    const char* parts[] = {"opcode ", escape, nullptr, " not emulated"};
    usize n = 0;
    for (const char* part : parts) {
        if (part == nullptr) {
            out[n++] = kHex[opcode >> 4];
            out[n++] = kHex[opcode & 15];
            continue;
        }
        for (const char* c = part; *c != '\0'; ++c) out[n++] = *c;
    }
    out[n] = '\0';
}

constexpr ReasonTable make_reasons() {
    ReasonTable table{};
    for (unsigned op = 0; op < 256; ++op) {
        write_reason(table.one_byte[op], "", u8(op));
        write_reason(table.two_byte[op], "0F ", u8(op));
    }
    return table;
}

constexpr ReasonTable kReasons = make_reasons();

}  // namespace

const char* unsupported_reason(const DecodedInstruction& insn) {
    switch (insn.vex.kind) {
        case VexKind::Vex2:
        case VexKind::Vex3: return "VEX-encoded instruction not emulated";
        case VexKind::Evex: return "EVEX-encoded instruction not emulated";
        case VexKind::Xop: return "XOP-encoded instruction not emulated";
        case VexKind::None: break;
    }
    switch (insn.map) {
        case OpcodeMap::OneByte:
            if (insn.opcode == 0x8c || insn.opcode == 0x8e) return "MOV to or from a segment register not emulated";
            return kReasons.one_byte[insn.opcode];
        case OpcodeMap::TwoByte: return kReasons.two_byte[insn.opcode];
        case OpcodeMap::ThreeByte0F38: return "0F 38 opcode not emulated";
        case OpcodeMap::ThreeByte0F3A: return "0F 3A opcode not emulated";
        default: return "opcode not emulated";
    }
}

}  // namespace emulator_detail
