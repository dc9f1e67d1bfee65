// The MMIO instruction emulator: executes one decoded instruction (kernel/emulator/
// decoder.hpp) against a vCPU's architectural state, reaching guest memory and device
// models only through EmulatorEnvironment. The same source runs in the hypervisor (the
// environment walks the guest's page tables and sends non-RAM guest-physical ranges to
// device callbacks), in host tests (a flat fake memory, and native execution to compare
// with) and in a libFuzzer target.
//
// Scope: what operating systems use on MMIO (InstructionKind other than Other): MOV in
// all forms, MOVZX/MOVSX/MOVSXD/MOVNTI, the string instructions with REP and DF, the ALU
// operations, BT*, XCHG, CMPXCHG, XADD, SETcc, PUSH/POP, and the SSE/MMX moves. Others
// return Unsupported (the caller ends the domain with the reason: hardware never asks
// Vireo to run them, so a guest that makes it do so is broken).
//
// Faults are the processor's (SDM vol. 3A 6.15; APM vol. 2 8.2): #UD for LOCK where it
// is not allowed and for SSE with CR0.EM / without CR4.OSFXSR, #NM with CR0.TS, #GP(0) for
// a non-canonical address or a misaligned MOVDQA/MOVAPS/MOVAPD, #SS(0) for a
// non-canonical stack address, #PF from the page walk with its error code and CR2, #AC
// never (alignment checking is not modelled). Segment limits and descriptor rights are
// not checked (flat segments in protected mode are assumed; limits are a TODO noted in
// docs/ARCHITECTURE.md).
#pragma once

#include "kernel/emulator/decoder.hpp"
#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

// RFLAGS bits the emulator reads or writes (SDM vol. 1 3.4.3).
inline constexpr u64 kRflagsCf = 1ull << 0;
inline constexpr u64 kRflagsPf = 1ull << 2;
inline constexpr u64 kRflagsAf = 1ull << 4;
inline constexpr u64 kRflagsZf = 1ull << 6;
inline constexpr u64 kRflagsSf = 1ull << 7;
inline constexpr u64 kRflagsTf = 1ull << 8;
inline constexpr u64 kRflagsIf = 1ull << 9;
inline constexpr u64 kRflagsDf = 1ull << 10;
inline constexpr u64 kRflagsOf = 1ull << 11;
inline constexpr u64 kRflagsAc = 1ull << 18;
inline constexpr u64 kRflagsStatus = kRflagsCf | kRflagsPf | kRflagsAf | kRflagsZf | kRflagsSf | kRflagsOf;

// Exception vectors the emulator raises (SDM vol. 3A table 6-1).
inline constexpr u8 kVectorUd = 6;
inline constexpr u8 kVectorNm = 7;
inline constexpr u8 kVectorSs = 12;
inline constexpr u8 kVectorGp = 13;
inline constexpr u8 kVectorPf = 14;

// The vCPU state the emulator reads and changes. The caller fills it from the backend
// and writes back gpr, rip and rflags after Done (and after Exception: a REP string
// instruction that faults part-way keeps the progress of the iterations it completed,
// as on the processor).
struct EmulatorCpuState {
    u64 gpr[16] = {};  // rAX rCX rDX rBX rSP rBP rSI rDI r8..r15 (decoder register numbers)
    u64 rip = 0;       // of the instruction being emulated
    u64 rflags = 2;
    CpuMode mode = CpuMode::Long64;
    u8 cpl = 0;
    // Indexed by Segment. In 64-bit mode only the FS and GS bases are applied (SDM vol. 1
    // 3.4.2.1); elsewhere every base is.
    u64 segment_base[6] = {};
    // SS.B (the stack-address size outside 64-bit mode: 4 when set, else 2).
    bool stack_32bit = true;
    u64 cr0 = 0;
    u64 cr4 = 0;
    u64 efer = 0;
    // 5-level paging: linear addresses are canonical over 57 bits instead of 48.
    bool la57 = false;
};

// An exception for the guest, as the emulator found it.
struct EmulatorException {
    u8 vector = 0;
    bool has_error_code = false;
    u32 error_code = 0;
    u64 cr2 = 0;  // #PF only: the faulting linear address
};

enum class MemoryStatus : u8 {
    Ok,
    Exception,    // `exception` says what the guest gets (#PF from the walk, #GP ...)
    Retry,        // re-enter the guest without completing the instruction (see WalkResult::Contended)
    Unhandlable,  // not the guest's to handle (its page tables point outside its memory,
                  // or no device claims the address): `reason` says why
};

struct MemoryOutcome {
    MemoryStatus status = MemoryStatus::Ok;
    EmulatorException exception;
    const char* reason = nullptr;
};

// What the emulator needs from the machine. Memory accesses take linear addresses (after
// segmentation and the canonical check, both done by the emulator) of 1 to 16 bytes; they
// may cross a page boundary, in which case the environment translates every page before
// it reads or writes any (an access faults as a whole, as on the processor). `access`
// carries write/user/implicit_supervisor (CPL is known to the environment already).
class EmulatorEnvironment {
public:
    virtual MemoryOutcome read_linear(u64 linear, void* dst, usize size, GuestAccess access) = 0;
    virtual MemoryOutcome write_linear(u64 linear, const void* src, usize size, GuestAccess access) = 0;
    // MMX (8 bytes) and XMM (16 bytes) registers, wherever they live (the physical
    // registers when the guest's FPU state is loaded, else its XSAVE area).
    virtual void read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) = 0;
    virtual void write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) = 0;

protected:
    ~EmulatorEnvironment() = default;
};

struct EmulationResult {
    enum Kind : u8 {
        Done,         // the instruction completed (or a REP chunk did: see kMaxRepIterations)
        Exception,    // `exception` is to be injected; RIP still names the instruction
        Retry,        // re-enter the guest at the same instruction, nothing changed
                      // (a REP instruction that had completed iterations returns Done
                      // with RIP unchanged instead, so that its progress is written back)
        Unsupported,  // not an instruction the emulator executes: `reason`
        Unhandlable,  // a memory access the guest cannot be given a fault for: `reason`
    };
    Kind kind = Done;
    EmulatorException exception;
    const char* reason = nullptr;
};

const char* emulation_result_name(EmulationResult::Kind kind);

// A REP string instruction runs at most this many iterations per call; if RCX is not yet
// exhausted RIP stays on the instruction, so the guest re-executes it after pending
// interrupts, as the processor allows (SDM vol. 2, REP: "interrupted ... resumed").
inline constexpr u64 kMaxRepIterations = 1024;

// Executes `insn` (decoded for cpu.mode; another mode is Unsupported). On Done RIP has
// moved past it (except for an unfinished REP chunk) and registers, flags and memory are
// updated. Otherwise `cpu` is unchanged, except for the iterations a REP string
// instruction completed before a fault. Memory is accessed in the processor's order
// (read, compute, write), each operand as one access of its size, so a device sees a
// 4-byte MOV as one 4-byte access. The read of a read-modify-write (ALU ops, BTS/BTR/
// BTC, XCHG, CMPXCHG, XADD) passes GuestAccess::write = true: an environment may check
// write access there, so that a write-protection #PF comes before a device sees the read.
EmulationResult emulate_instruction(const DecodedInstruction& insn, EmulatorCpuState& cpu, EmulatorEnvironment& env);
