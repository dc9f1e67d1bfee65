// Third stage of decoding: the #UD checks that need the whole encoding (prefixes, opcode
// and ModRM) but not the displacement or immediate bytes.
#pragma once

#include "kernel/emulator/decoder.hpp"

namespace x86_decode {

// False when the encoding raises #UD. For MOV CRn/DRn it also sets ModRM.reg to the
// register number (REX.R, and on AMD LOCK for CR8, applied).
bool encoding_valid(DecodedInstruction& insn, CpuVendor vendor);

}  // namespace x86_decode
