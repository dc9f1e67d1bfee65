// Native execution for the differential tests: runs one instruction on the host CPU with
// every GPR, RFLAGS, XMM0-15 and MM0-7 loaded from a MachineState and saved back into it,
// next to a scratch buffer the instruction's memory operands (and RSP, for PUSH/POP)
// point into. The same bytes are then emulated (FakeEnvironment) from the same state and
// a copy of the same scratch memory, and everything is compared.
#pragma once

#include <stddef.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernel/emulator/emulator.hpp"
#include "kernel/types.hpp"

namespace differential {

// The register file both sides start from and end with. Field offsets are baked into
// the generated stub (see differential_native.cpp).
struct MachineState {
    u64 gpr[16] = {};  // decoder register numbers: rAX rCX rDX rBX rSP rBP rSI rDI r8..r15
    u64 rflags = 2;
    u64 host_rsp = 0;  // the stub's own: RSP is a guest register while the instruction runs
    alignas(16) u8 xmm[16][16] = {};
    u64 mmx[8] = {};
};

// Status flags and DF: the RFLAGS bits the tests load and compare.
inline constexpr u64 kFlagsLoaded = kRflagsStatus | kRflagsDf;

// One code page (rewritten RW, then made RX, for each instruction; never both) followed
// by a scratch area, in one mapping below 2 GiB so that RIP-relative operands and 32-bit
// addresses reach the scratch area.
class NativeRunner {
public:
    explicit NativeRunner(usize scratch_size);
    ~NativeRunner();
    NativeRunner(const NativeRunner&) = delete;
    NativeRunner& operator=(const NativeRunner&) = delete;

    u8* scratch() const { return scratch_; }
    usize scratch_size() const { return scratch_size_; }
    u64 scratch_address() const { return reinterpret_cast<u64>(scratch_); }
    // Where the instruction under test sits (its RIP), whatever its bytes.
    u64 instruction_address() const;

    // Runs `insn` with `state` (only kFlagsLoaded of rflags are loaded; IF stays as the
    // host has it) and writes the state after it back. The instruction must not fault or
    // branch.
    void run(const u8* insn, usize length, MachineState& state);

    // Like run, for an instruction expected to fault: SIGSEGV, SIGBUS and SIGILL are caught
    // (on an alternate stack: RSP is the guest's) for the duration of the call. Returns the
    // exception vector the signal stands for (Linux, arch/x86/kernel/traps.c: #UD SIGILL,
    // #SS SIGBUS, #GP SIGSEGV with SI_KERNEL, #PF SIGSEGV with SEGV_MAPERR/ACCERR), or -1
    // if the instruction completed (then `state` holds the result). After a fault `state`
    // is unspecified.
    int run_expecting_fault(const u8* insn, usize length, MachineState& state);

private:
    u8* region_ = nullptr;
    usize region_size_ = 0;
    u8* scratch_ = nullptr;
    usize scratch_size_ = 0;
};

// A flat linear memory at the host address of a copy of the scratch area, and a vector
// register file, for emulate_instruction.
class FakeEnvironment final : public EmulatorEnvironment {
public:
    FakeEnvironment(u64 base, const u8* initial, usize size) : base_(base), memory_(initial, initial + size) {}

    MemoryOutcome read_linear(u64 linear, void* dst, usize size, GuestAccess access) override;
    MemoryOutcome write_linear(u64 linear, const void* src, usize size, GuestAccess access) override;
    void read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) override;
    void write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) override;

    const std::vector<u8>& memory() const { return memory_; }
    u8 xmm[16][16] = {};
    u64 mmx[8] = {};
    // Problems the environment saw (accesses outside the scratch area, bad sizes ...).
    std::string errors;
    unsigned reads = 0, writes = 0;

private:
    bool in_range(u64 linear, usize size) const;
    u64 base_;
    std::vector<u8> memory_;
};

// splitmix64: small, seedable, good enough to pick operands.
class Rng {
public:
    explicit Rng(u64 seed) : state_(seed) {}
    u64 next() {
        u64 z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    u64 below(u64 n) { return next() % n; }
    bool coin() { return next() & 1; }
    // Operand values biased towards the edges where flags change: 0, 1, all ones, the
    // sign bits of every size and their neighbours, small values; else uniform.
    u64 operand();

private:
    u64 state_;
};

// The seed for this run: VIREO_DIFF_SEED from the environment (decimal or 0x hex) or a
// fixed default, so that failures reproduce; printed by the tests.
u64 base_seed();

std::string hex_bytes(const u8* bytes, usize length);
std::string describe_state(const MachineState& s);
std::string describe_flags(u64 rflags);

}  // namespace differential
