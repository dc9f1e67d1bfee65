// Second stage of decoding: names what a fully length-decoded instruction is, for the
// kinds the emulator executes (InstructionKind), and the size of its memory access.
#pragma once

#include "kernel/emulator/decoder.hpp"

namespace x86_decode {

// Sets kind, memory_size and reg_class (and, for the SSE/MMX moves, operand_size) of an
// instruction whose encoding fields are already decoded.
void classify(DecodedInstruction& insn);

}  // namespace x86_decode
