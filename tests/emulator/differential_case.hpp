// One differential case: the same instruction bytes and starting state run natively
// (NativeRunner) and through decode_instruction + emulate_instruction (FakeEnvironment),
// then registers, RIP, flags, scratch memory and the vector registers compared.
#pragma once

#include <string>
#include <vector>

#include "tests/emulator/differential_native.hpp"

namespace differential {

// A deliberate mistake injected into the emulated result, to show that the comparison
// catches it (the harness's own tests).
enum class Tamper : u8 { None, FlipFlag, FlipRegister, FlipMemory, FlipXmm };

struct CaseOptions {
    u64 flag_mask = kFlagsLoaded;  // the RFLAGS bits compared
    Tamper tamper = Tamper::None;
    u64 tamper_flag = kRflagsAf;
    // Emulate again while RIP stays on the instruction (a REP string instruction runs at
    // most kMaxRepIterations per call), up to this many calls in all.
    int max_calls = 1;
};

// Runs one case over the runner's scratch area as it is now (the caller fills it);
// returns an empty string on agreement, else a report naming the bytes, the input state
// and every difference.
std::string run_case(NativeRunner& runner, const std::vector<u8>& bytes, const MachineState& in,
                     const CaseOptions& options = {});

// For an instruction that faults: the host must fault (run_expecting_fault) and the
// emulator raise the same vector (error code 0 for #GP/#SS), leaving registers, RIP,
// flags and memory as they were. An encoding the decoder rejects counts as #UD.
std::string run_fault_case(NativeRunner& runner, const std::vector<u8>& bytes, const MachineState& in);

// Instruction generation over a scratch area: a ModRM instruction with a memory or
// register r/m operand, random registers and addressing forms, and the base/index
// registers set so that the operand lands inside the scratch area.
struct Spec {
    std::string name;
    std::vector<u8> prefixes;  // legacy prefixes, in order (66 F0 F2 F3 ...)
    bool rex_w = false;
    bool random_rex = false;  // sometimes an empty REX (40): byte registers 4..7 become SPL..DIL
    std::vector<u8> opcode;
    int reg_digit = -1;  // ModRM.reg: a fixed /digit, or -1 for a random register
    u8 reg_count = 16;   // registers ModRM.reg may name (8: MMX, no REX.R)
    bool memory = true;  // r/m a memory operand (else a register)
    u8 rm_count = 16;
    u8 imm_size = 0;
    u8 access_size = 8;     // bytes the memory operand covers (for placement)
    u8 align = 1;           // the memory operand's address is a multiple of this
    u16 pinned = 0;         // GPRs (bit n = register n) the caller sets: never base or index
    bool address32 = true;  // sometimes a 67 prefix (32-bit effective address) on memory forms
};

struct Generated {
    std::vector<u8> bytes;
    u64 target = 0;          // the memory operand's address (memory forms)
    u8 reg = 0;              // ModRM.reg as encoded (with REX.R)
    u8 rm = 0;               // the r/m register (register forms)
    bool rex = false;        // a REX prefix is present
    bool address32 = false;  // a 67 prefix was added
};

// Encodes `spec` with random choices, and sets the address registers in `state` (the
// other GPRs keep what the caller put there). The memory operand lands within
// `spread` bytes around scratch + center.
Generated generate(const Spec& spec, Rng& rng, MachineState& state, const NativeRunner& runner, u64 center, u64 spread);

// Random GPRs (Rng::operand), status flags and XMM/MMX contents; RSP inside the scratch
// area (no instruction here uses it unless the test pins it, but a signal would).
MachineState random_state(Rng& rng, const NativeRunner& runner);

// Fills the scratch area with random bytes.
void fill_scratch(Rng& rng, NativeRunner& runner);

}  // namespace differential
