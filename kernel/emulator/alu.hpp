// Arithmetic and logic with the processor's exact flags, for the emulator (and anything
// else that must compute RFLAGS as the CPU does). Pure functions over values already
// truncated to `size` bytes (1, 2, 4 or 8).
//
// Flags the SDM leaves undefined (AF after logic operations, OF/SF/AF/PF after BT*) are
// set the way the host processor sets them (AF cleared, BT* leaves them unchanged); each
// case is named in alu.cpp. The differential tests (tests/emulator/differential_*)
// compare all six status flags, the undefined ones included, with the host CPU's.
#pragma once

#include "kernel/types.hpp"

enum class AluOp : u8 {
    Add,
    Adc,
    Sub,
    Sbb,
    And,
    Or,
    Xor,
    Cmp,   // Sub without writing the result
    Test,  // And without writing the result
    Inc,   // CF unchanged
    Dec,   // CF unchanged
    Neg,
    Not,  // no flags change
    Bt,   // CF = bit (source mod width); result unchanged
    Bts,
    Btr,
    Btc,
};

struct AluResult {
    u64 value = 0;       // the result, truncated to size (the destination for Cmp/Test/Bt)
    u64 rflags = 0;      // the input rflags with the status flags updated
    bool write = false;  // whether the destination is written (false: Cmp, Test, Bt)
};

// dest OP source. `source` is ignored by Inc, Dec, Neg and Not. For the BT family
// `source` is the bit offset, already reduced modulo 8 * size (the memory forms with a
// register offset address other bytes first: the emulator does that part).
AluResult alu_execute(AluOp op, u64 dest, u64 source, u8 size, u64 rflags);

// Jcc/SETcc/CMOVcc condition `cc` (0..15, the low opcode nibble: O NO B AE E NE BE A S NS
// P NP L GE LE G; SDM vol. 2 appendix B.1.4.7) over rflags.
bool condition_holds(u8 cc, u64 rflags);
