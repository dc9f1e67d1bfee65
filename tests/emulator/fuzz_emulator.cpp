// libFuzzer target for decode + emulate. An input is a CPU-state seed followed by
// instruction bytes:
//   byte 0      mode (bits 1:0: Real16, Protected16, Protected32, Long64), CPL 3 (bit 2),
//               LA57 (bit 3), SS.B (bit 4), DF (bit 5), AMD/Intel decoding (bit 6)
//   byte 1      CR0.EM (bit 0), CR0.TS (bit 1), CR4.OSFXSR (bit 2); bits 7:4 pick the
//               access (0-based, 15 = none) that the environment fails, bit 3 how
//               (Retry or Unhandlable; #PF comes from addresses outside memory anyway)
//   byte 2      the status flags (CF PF AF ZF SF OF from bits 0-5)
//   byte 3      the segment bases: kBases[byte & 7], FS/GS from bits 5:3
//   bytes 4-19  rAX..r15, each kValues[byte >> 4] + (byte & 15) * 4
//   bytes 20-   the instruction
// The environment has a RAM window and a device window; everything else is a #PF.
// Checked: no crash or sanitizer report; accesses of 1..16 bytes, vector registers in
// range with their full width; Done moves RIP past the instruction (a REP string
// instruction may leave it for another chunk); anything else leaves RIP, and except
// for a string instruction's completed iterations every register and flag; exceptions
// are #UD, #NM, #SS, #GP (error code 0) or the environment's #PF; RFLAGS bits other
// than the status flags never change.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernel/emulator/emulator.hpp"

namespace {

constexpr u64 kRam = 0x10000;
constexpr u64 kRamSize = 0x4000;
constexpr u64 kMmio = 0xfeb00000;
constexpr u64 kMmioSize = 0x1000;
constexpr usize kHeader = 20;

constexpr u64 kValues[16] = {
    0,
    kRam,
    kRam + 0x1ff8,
    kRam + kRamSize - 0x40,
    kMmio,
    kMmio + 0xf00,
    0xffff,
    0xffffffff,
    0x00007ffffffffff0,  // canonical boundary
    0x0000800000000000,  // non-canonical (48-bit)
    ~0ull,
    0x80000000,
    0xfffffffffffff000,
    kMaxRepIterations + 1,
    0x100000000 + kRam,
    1,
};

constexpr u64 kBases[8] = {0, kRam, kMmio, kRam - 0x100, 0xffff0000, 0x100000000, kMmio - kRam, 0x10};

[[noreturn]] void fail(const char* what, const uint8_t* data, size_t size) {
    std::fprintf(stderr, "fuzz_emulator: %s; input:", what);
    for (size_t i = 0; i < size; ++i) std::fprintf(stderr, " %02x", data[i]);
    std::fprintf(stderr, "\n");
    std::abort();
}

class BoundedEnvironment final : public EmulatorEnvironment {
public:
    BoundedEnvironment() {
        memset(ram_, 0x5a, sizeof(ram_));
        for (unsigned i = 0; i < 16; ++i) memset(xmm_[i], i, 16);
        for (unsigned i = 0; i < 8; ++i) memset(mmx_[i], 0x80 + i, 8);
    }

    MemoryOutcome read_linear(u64 linear, void* dst, usize size, GuestAccess access) override {
        MemoryOutcome o = check(linear, size, access);
        if (o.status != MemoryStatus::Ok) return o;
        u8* out = static_cast<u8*>(dst);
        if (in(linear, size, kMmio, kMmioSize)) {
            for (usize i = 0; i < size; ++i) out[i] = u8((linear + i) * 37 + 11);  // a device's registers
            return o;
        }
        memcpy(out, ram_ + (linear - kRam), size);
        return o;
    }

    MemoryOutcome write_linear(u64 linear, const void* src, usize size, GuestAccess access) override {
        if (!access.write) bad = "write without GuestAccess::write";
        MemoryOutcome o = check(linear, size, access);
        if (o.status != MemoryStatus::Ok) return o;
        if (in(linear, size, kRam, kRamSize)) memcpy(ram_ + (linear - kRam), src, size);
        return o;
    }

    void read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) override {
        if (!vector_ok(cls, index, size)) return;
        memcpy(dst, cls == RegisterClass::Xmm ? xmm_[index] : mmx_[index], size);
    }
    void write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) override {
        if (!vector_ok(cls, index, size)) return;
        memcpy(cls == RegisterClass::Xmm ? xmm_[index] : mmx_[index], src, size);
    }

    int fail_at = -1;
    MemoryStatus fail_status = MemoryStatus::Retry;
    const char* bad = nullptr;  // the first contract violation seen
    int accesses = 0;

private:
    static bool in(u64 linear, usize size, u64 base, u64 length) {
        return linear >= base && linear - base <= length && size <= length - (linear - base);
    }

    MemoryOutcome check(u64 linear, usize size, GuestAccess access) {
        MemoryOutcome o;
        if (size < 1 || size > 16) bad = "access size outside 1..16";
        if (accesses++ == fail_at) {
            o.status = fail_status;
            o.reason = "injected";
            return o;
        }
        if (in(linear, size, kRam, kRamSize) || in(linear, size, kMmio, kMmioSize)) return o;
        o.status = MemoryStatus::Exception;
        o.exception.vector = kVectorPf;
        o.exception.has_error_code = true;
        o.exception.error_code = (access.write ? kPfWrite : 0) | (access.user ? kPfUser : 0);
        o.exception.cr2 = linear;
        return o;
    }

    bool vector_ok(RegisterClass cls, u8 index, u8 size) {
        if (cls == RegisterClass::Xmm && index < 16 && size == 16) return true;
        if (cls == RegisterClass::Mmx && index < 8 && size == 8) return true;
        bad = "vector register access out of range";
        return false;
    }

    u8 ram_[kRamSize];
    u8 xmm_[16][16];
    u8 mmx_[8][8];
};

bool is_string(InstructionKind kind) {
    return kind == InstructionKind::Movs || kind == InstructionKind::Stos || kind == InstructionKind::Lods ||
           kind == InstructionKind::Cmps || kind == InstructionKind::Scas;
}

u64 wrap_ip(CpuMode mode, u64 ip) {
    switch (mode) {
        case CpuMode::Long64: return ip;
        case CpuMode::Protected32: return ip & 0xffffffffull;
        default: return ip & 0xffff;
    }
}

EmulatorCpuState cpu_from(const uint8_t* data) {
    EmulatorCpuState cpu;
    constexpr CpuMode kModes[4] = {CpuMode::Real16, CpuMode::Protected16, CpuMode::Protected32, CpuMode::Long64};
    cpu.mode = kModes[data[0] & 3];
    cpu.cpl = (data[0] & 4) ? 3 : 0;
    cpu.la57 = (data[0] & 8) != 0;
    cpu.stack_32bit = (data[0] & 16) != 0;
    cpu.rflags = 2 | ((data[0] & 32) ? kRflagsDf : 0);
    constexpr u64 kStatus[6] = {kRflagsCf, kRflagsPf, kRflagsAf, kRflagsZf, kRflagsSf, kRflagsOf};
    for (unsigned i = 0; i < 6; ++i)
        if (data[2] & (1u << i)) cpu.rflags |= kStatus[i];
    cpu.cr0 = 1 | ((data[1] & 1) ? 4 : 0) | ((data[1] & 2) ? 8 : 0);
    cpu.cr4 = (data[1] & 4) ? 1u << 9 : 0;
    for (unsigned s = 0; s < 6; ++s) cpu.segment_base[s] = kBases[data[3] & 7];
    cpu.segment_base[unsigned(Segment::FS)] = kBases[(data[3] >> 3) & 7];
    cpu.segment_base[unsigned(Segment::GS)] = kBases[(data[3] >> 3) & 7];
    for (unsigned r = 0; r < 16; ++r) cpu.gpr[r] = kValues[data[4 + r] >> 4] + (data[4 + r] & 15) * 4;
    cpu.rip = cpu.mode == CpuMode::Long64 ? 0x7ffffffffff0 : 0xfff8;  // close to the wrap points
    return cpu;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size <= kHeader) return 0;
    const EmulatorCpuState initial = cpu_from(data);
    const CpuVendor vendor = (data[0] & 64) ? CpuVendor::Intel : CpuVendor::Amd;
    DecodedInstruction insn;
    if (decode_instruction(data + kHeader, size - kHeader, initial.mode, insn, vendor) != DecodeResult::Ok) return 0;

    BoundedEnvironment env;
    const unsigned fail_index = data[1] >> 4;
    if (fail_index != 15) env.fail_at = int(fail_index);
    env.fail_status = (data[1] & 8) ? MemoryStatus::Unhandlable : MemoryStatus::Retry;

    EmulatorCpuState cpu = initial;
    const EmulationResult result = emulate_instruction(insn, cpu, env);
    if (env.bad) fail(env.bad, data, size);
    if ((cpu.rflags ^ initial.rflags) & ~kRflagsStatus)
        fail("RFLAGS bits other than the status flags changed", data, size);
    if (cpu.mode != initial.mode || cpu.cr0 != initial.cr0 || cpu.cr4 != initial.cr4)
        fail("the emulator changed state it must only read", data, size);

    const bool string = is_string(insn.kind);
    const bool repeated = string && (insn.prefixes.rep || insn.prefixes.repne);
    const bool unchanged = memcmp(cpu.gpr, initial.gpr, sizeof(cpu.gpr)) == 0 && cpu.rflags == initial.rflags;
    switch (result.kind) {
        case EmulationResult::Done:
            if (insn.kind == InstructionKind::Other) fail("Done for an instruction of kind Other", data, size);
            if (cpu.rip == wrap_ip(initial.mode, initial.rip + insn.length)) break;
            if (repeated && cpu.rip == initial.rip) break;  // a REP chunk, or progress before a Retry
            fail("Done without moving RIP past the instruction", data, size);
        case EmulationResult::Exception: {
            const EmulatorException& e = result.exception;
            if (cpu.rip != initial.rip) fail("an exception moved RIP", data, size);
            if (!string && !unchanged) fail("a faulting instruction changed registers", data, size);
            if (e.vector == kVectorUd || e.vector == kVectorNm) {
                if (e.has_error_code) fail("#UD/#NM with an error code", data, size);
            } else if (e.vector == kVectorGp || e.vector == kVectorSs) {
                if (!e.has_error_code || e.error_code != 0) fail("#GP/#SS without error code 0", data, size);
            } else if (e.vector != kVectorPf) {
                fail("an unexpected exception vector", data, size);
            }
            break;
        }
        case EmulationResult::Retry:
        case EmulationResult::Unhandlable:
            if (cpu.rip != initial.rip) fail("Retry/Unhandlable moved RIP", data, size);
            if (!string && !unchanged) fail("Retry/Unhandlable changed registers", data, size);
            if (result.kind == EmulationResult::Retry && string && !unchanged)
                fail("Retry after REP progress instead of Done", data, size);
            if (result.kind == EmulationResult::Unhandlable && !result.reason)
                fail("Unhandlable without a reason", data, size);
            break;
        case EmulationResult::Unsupported:
            if (!result.reason) fail("Unsupported without a reason", data, size);
            if (cpu.rip != initial.rip || !unchanged) fail("Unsupported changed the state", data, size);
            if (insn.kind != InstructionKind::Other) fail("Unsupported for an emulated kind", data, size);
            break;
    }
    return 0;
}
