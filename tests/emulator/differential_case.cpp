#include "tests/emulator/differential_case.hpp"

#include <cstdio>
#include <cstring>

#include "kernel/emulator/decoder.hpp"

namespace differential {
namespace {

// Control state of a 64-bit user-mode process on Linux, as far as the emulator looks at
// it: CR0 PE MP ET NE WP AM PG, CR4 PAE OSFXSR OSXMMEXCPT, EFER SCE LME LMA NXE.
constexpr u64 kCr0 = 0x80050033;
constexpr u64 kCr4 = 0x620;
constexpr u64 kEfer = 0xd01;

std::string hex64(u64 v) {
    char b[24];
    snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

const char* kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                             "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

}  // namespace

std::string run_case(NativeRunner& runner, const std::vector<u8>& bytes, const MachineState& in,
                     const CaseOptions& options) {
    const u64 base = runner.scratch_address();
    FakeEnvironment env(base, runner.scratch(), runner.scratch_size());
    memcpy(env.xmm, in.xmm, sizeof env.xmm);
    memcpy(env.mmx, in.mmx, sizeof env.mmx);

    std::string report;
    const auto header = [&] {
        return "instruction " + hex_bytes(bytes.data(), bytes.size()) + "\ninput:\n" + describe_state(in);
    };

    DecodedInstruction insn;
    const DecodeResult decoded =
        decode_instruction(bytes.data(), bytes.size(), CpuMode::Long64, insn, CpuVendor::Intel);
    if (decoded != DecodeResult::Ok) return header() + "decode: " + decode_result_name(decoded) + "\n";
    if (insn.length != bytes.size()) return header() + "decode: length " + std::to_string(insn.length) + "\n";

    EmulatorCpuState cpu;
    for (int i = 0; i < 16; ++i) cpu.gpr[i] = in.gpr[i];
    cpu.rip = runner.instruction_address();
    cpu.rflags = (in.rflags & kFlagsLoaded) | 0x202;
    cpu.mode = CpuMode::Long64;
    cpu.cpl = 3;
    cpu.cr0 = kCr0;
    cpu.cr4 = kCr4;
    cpu.efer = kEfer;
    EmulationResult result = emulate_instruction(insn, cpu, env);
    for (int calls = 1;
         result.kind == EmulationResult::Done && cpu.rip == runner.instruction_address() && calls < options.max_calls;
         ++calls) {
        result = emulate_instruction(insn, cpu, env);
    }
    if (result.kind != EmulationResult::Done) {
        report = header() + "emulator: " + emulation_result_name(result.kind);
        if (result.reason) report += std::string(" (") + result.reason + ")";
        if (result.kind == EmulationResult::Exception) report += " vector " + std::to_string(result.exception.vector);
        return report + "\n" + env.errors;
    }

    switch (options.tamper) {
        case Tamper::None: break;
        case Tamper::FlipFlag: cpu.rflags ^= options.tamper_flag; break;
        case Tamper::FlipRegister: cpu.gpr[0] ^= 1ull << 40; break;
        case Tamper::FlipMemory: {
            // The last byte of the area, which no generated instruction touches.
            std::vector<u8>& memory = const_cast<std::vector<u8>&>(env.memory());
            memory.back() ^= 1;
            break;
        }
        case Tamper::FlipXmm: env.xmm[15][15] ^= 0x80; break;
    }

    MachineState native = in;
    runner.run(bytes.data(), bytes.size(), native);

    std::string diffs;
    if (!env.errors.empty()) diffs += "environment: " + env.errors + "\n";
    for (int i = 0; i < 16; ++i) {
        if (native.gpr[i] != cpu.gpr[i]) {
            diffs += std::string(kGprNames[i]) + ": native " + hex64(native.gpr[i]) + " emulated " + hex64(cpu.gpr[i]) +
                     "\n";
        }
    }
    const u64 next_rip = runner.instruction_address() + bytes.size();
    if (cpu.rip != next_rip) diffs += "rip: expected " + hex64(next_rip) + " emulated " + hex64(cpu.rip) + "\n";
    const u64 mask = options.flag_mask;
    if ((native.rflags & mask) != (cpu.rflags & mask)) {
        diffs += "flags: native " + describe_flags(native.rflags & mask) + " emulated " +
                 describe_flags(cpu.rflags & mask) + "\n";
    }
    if ((cpu.rflags & ~kFlagsLoaded) != 0x202)
        diffs += "rflags outside the status flags changed: " + hex64(cpu.rflags) + "\n";
    const u8* native_memory = runner.scratch();
    const std::vector<u8>& emulated_memory = env.memory();
    const bool memory_differs = memcmp(native_memory, emulated_memory.data(), emulated_memory.size()) != 0;
    for (usize i = 0; memory_differs && i < emulated_memory.size(); ++i) {
        if (native_memory[i] != emulated_memory[i]) {
            usize end = i;
            while (end < emulated_memory.size() && end < i + 16) ++end;
            diffs += "memory at scratch+" + std::to_string(i) + " (" + hex64(runner.scratch_address() + i) +
                     "): native " + hex_bytes(native_memory + i, end - i) + " emulated " +
                     hex_bytes(emulated_memory.data() + i, end - i) + "\n";
            break;
        }
    }
    for (int i = 0; i < 16; ++i) {
        if (memcmp(native.xmm[i], env.xmm[i], 16) != 0) {
            diffs += "xmm" + std::to_string(i) + ": native " + hex_bytes(native.xmm[i], 16) + " emulated " +
                     hex_bytes(env.xmm[i], 16) + "\n";
        }
    }
    for (int i = 0; i < 8; ++i) {
        if (native.mmx[i] != env.mmx[i]) {
            diffs +=
                "mm" + std::to_string(i) + ": native " + hex64(native.mmx[i]) + " emulated " + hex64(env.mmx[i]) + "\n";
        }
    }
    if (diffs.empty()) return {};
    return header() + diffs;
}

std::string run_fault_case(NativeRunner& runner, const std::vector<u8>& bytes, const MachineState& in) {
    const u64 base = runner.scratch_address();
    FakeEnvironment env(base, runner.scratch(), runner.scratch_size());
    memcpy(env.xmm, in.xmm, sizeof env.xmm);
    memcpy(env.mmx, in.mmx, sizeof env.mmx);
    const std::string header =
        "instruction " + hex_bytes(bytes.data(), bytes.size()) + "\ninput:\n" + describe_state(in);

    MachineState native = in;
    const int native_vector = runner.run_expecting_fault(bytes.data(), bytes.size(), native);
    if (native_vector < 0) return header + "the host did not fault\n";

    DecodedInstruction insn;
    const DecodeResult decoded =
        decode_instruction(bytes.data(), bytes.size(), CpuMode::Long64, insn, CpuVendor::Intel);
    if (decoded == DecodeResult::Invalid) {
        if (native_vector == kVectorUd) return {};
        return header + "decoder: Invalid (#UD), host vector " + std::to_string(native_vector) + "\n";
    }
    if (decoded != DecodeResult::Ok) return header + "decode: " + decode_result_name(decoded) + "\n";

    EmulatorCpuState cpu;
    for (int i = 0; i < 16; ++i) cpu.gpr[i] = in.gpr[i];
    cpu.rip = runner.instruction_address();
    cpu.rflags = (in.rflags & kFlagsLoaded) | 0x202;
    cpu.cpl = 3;
    cpu.cr0 = kCr0;
    cpu.cr4 = kCr4;
    cpu.efer = kEfer;
    const EmulatorCpuState before = cpu;
    const EmulationResult result = emulate_instruction(insn, cpu, env);
    std::string diffs;
    if (result.kind != EmulationResult::Exception) {
        diffs += std::string("emulator: ") + emulation_result_name(result.kind) +
                 (result.reason ? std::string(" (") + result.reason + ")" : "") + ", host vector " +
                 std::to_string(native_vector) + "\n";
    } else {
        const EmulatorException& e = result.exception;
        if (e.vector != native_vector) {
            diffs += "vector: host " + std::to_string(native_vector) + " emulated " + std::to_string(e.vector) + "\n";
        }
        const bool wants_code = e.vector == kVectorGp || e.vector == kVectorSs;
        if (e.has_error_code != wants_code || (wants_code && e.error_code != 0)) {
            diffs +=
                "error code: " + std::string(e.has_error_code ? "" : "none ") + std::to_string(e.error_code) + "\n";
        }
    }
    for (int i = 0; i < 16; ++i) {
        if (cpu.gpr[i] != before.gpr[i]) diffs += std::string(kGprNames[i]) + " changed by a faulting instruction\n";
    }
    if (cpu.rip != before.rip || cpu.rflags != before.rflags)
        diffs += "rip or rflags changed by a faulting instruction\n";
    if (memcmp(env.memory().data(), runner.scratch(), runner.scratch_size()) != 0) {
        diffs += "memory changed by a faulting instruction\n";
    }
    if (!env.errors.empty()) diffs += "environment: " + env.errors + "\n";
    return diffs.empty() ? std::string() : header + diffs;
}

Generated generate(const Spec& spec, Rng& rng, MachineState& state, const NativeRunner& runner, u64 center,
                   u64 spread) {
    Generated g;
    g.reg = spec.reg_digit >= 0 ? u8(spec.reg_digit) : u8(rng.below(spec.reg_count));
    u8 base = kNoRegister, index = kNoRegister, scale_bits = 0;
    enum { kBaseDisp, kSib, kRipRelative, kBaseOnly } form = kBaseDisp;
    const u16 reg_is_gpr = spec.reg_digit < 0 && spec.reg_count == 16 ? u16(1u << g.reg) : 0;
    // Registers the address may use: not pinned ones, and not the ModRM.reg GPR (a BT bit
    // offset or a data value that is also the address would leave the scratch area).
    const u16 forbidden = u16(spec.pinned | reg_is_gpr);
    const auto pick = [&](bool allow_rsp) {
        for (;;) {
            const u8 r = u8(rng.below(16));
            if (forbidden & (1u << r)) continue;
            if (r == 4 && !allow_rsp) continue;
            return r;
        }
    };
    if (spec.memory) {
        switch (rng.below(8)) {
            case 0: form = kRipRelative; break;
            case 1:
            case 2:
            case 3: form = kSib; break;
            case 4: form = kBaseOnly; break;
            default: form = kBaseDisp; break;
        }
        if (form == kBaseDisp || form == kBaseOnly) {
            do base = pick(false);
            while ((base & 7) == 4 || (form == kBaseOnly && (base & 7) == 5));
        } else if (form == kSib) {
            base = pick(true);
            if (rng.below(4) != 0) {
                do index = pick(false);
                while (index == base);
            }
            scale_bits = u8(rng.below(4));
        }
    } else {
        g.rm = u8(rng.below(spec.rm_count));
    }

    const bool need_rex =
        spec.rex_w || (g.reg >= 8) ||
        (spec.memory ? (base != kNoRegister && base >= 8) || (index != kNoRegister && index >= 8) : g.rm >= 8);
    g.rex = need_rex || (spec.random_rex && rng.coin());

    std::vector<u8>& b = g.bytes;
    b = spec.prefixes;
    g.address32 = spec.memory && spec.address32 && rng.below(4) == 0;
    if (g.address32) b.insert(b.begin() + rng.below(b.size() + 1), 0x67);
    if (g.rex) {
        u8 rex = 0x40;
        if (spec.rex_w) rex |= 8;
        if (g.reg >= 8) rex |= 4;
        if (spec.memory ? index != kNoRegister && index >= 8 : false) rex |= 2;
        if (spec.memory ? base != kNoRegister && base >= 8 : g.rm >= 8) rex |= 1;
        b.push_back(rex);
    }
    b.insert(b.end(), spec.opcode.begin(), spec.opcode.end());

    // The operand's address: center +- spread, aligned.
    u64 target = runner.scratch_address() + center + rng.below(2 * spread + 1) - spread;
    // Locked accesses (LOCK, and XCHG with memory) are naturally aligned: one that splits
    // a cache line is a split lock, which Linux traps and slows down by milliseconds per
    // instruction (split_lock_detect), and which has nothing to do with the emulator.
    u64 align = spec.align;
    bool locked = spec.opcode.size() == 1 && (spec.opcode[0] == 0x86 || spec.opcode[0] == 0x87);
    for (u8 p : spec.prefixes) locked |= p == 0xf0;
    if (locked && spec.access_size > align) align = spec.access_size;
    target &= ~(align - 1);
    g.target = target;
    i32 disp = 0;
    usize disp_at = 0;
    u8 disp_size = 0;
    const u8 reg_bits = u8((g.reg & 7) << 3);
    if (!spec.memory) {
        b.push_back(u8(0xc0 | reg_bits | (g.rm & 7)));
    } else if (form == kRipRelative) {
        b.push_back(u8(0x00 | reg_bits | 5));
        disp_at = b.size();
        disp_size = 4;
    } else {
        const bool disp8 = rng.coin();
        const u8 mod = form == kBaseOnly ? 0 : disp8 ? 1 : 2;
        disp_size = form == kBaseOnly ? 0 : disp8 ? 1 : 4;
        disp = disp_size == 1 ? i32(i8(rng.next())) : disp_size == 4 ? i32(rng.below(4096)) - 2048 : 0;
        if (form == kSib) {
            b.push_back(u8((mod << 6) | reg_bits | 4));
            b.push_back(u8((scale_bits << 6) | ((index == kNoRegister ? 4 : index) & 7) << 3 | (base & 7)));
        } else {
            b.push_back(u8((mod << 6) | reg_bits | (base & 7)));
        }
        disp_at = b.size();
        const i64 index_value = index == kNoRegister ? 0 : i64(rng.below(64)) - 32;
        if (index != kNoRegister) state.gpr[index] = u64(index_value);
        state.gpr[base] = target - u64(i64(disp)) - u64(index_value * (i64(1) << scale_bits));
        if (g.address32) {
            // Only the low 32 bits take part in a 32-bit effective address (SDM vol. 1
            // 3.3.7): random upper halves show that the emulator ignores them.
            for (u8 r : {base, index}) {
                if (r != kNoRegister) state.gpr[r] = (state.gpr[r] & 0xffffffffull) | (rng.next() << 32);
            }
        }
    }
    for (u8 i = 0; i < disp_size; ++i) b.push_back(u8(u32(disp) >> (8 * i)));
    for (u8 i = 0; i < spec.imm_size; ++i) b.push_back(u8(rng.operand() >> (8 * (i % 8))));
    if (spec.memory && form == kRipRelative) {
        const u64 next = runner.instruction_address() + b.size();
        disp = i32(i64(target - next));  // with 67: EIP-relative, the same below 4 GiB
        memcpy(b.data() + disp_at, &disp, 4);
    }
    return g;
}

MachineState random_state(Rng& rng, const NativeRunner& runner) {
    MachineState s;
    for (u64& r : s.gpr) r = rng.operand();
    s.gpr[4] = runner.scratch_address() + 64;
    s.rflags = (rng.next() & kRflagsStatus) | 2;
    for (auto& x : s.xmm) {
        for (int i = 0; i < 16; i += 8) {
            const u64 v = rng.next();
            memcpy(x + i, &v, 8);
        }
    }
    for (u64& m : s.mmx) m = rng.next();
    return s;
}

void fill_scratch(Rng& rng, NativeRunner& runner) {
    for (usize i = 0; i + 8 <= runner.scratch_size(); i += 8) {
        const u64 v = rng.next();
        memcpy(runner.scratch() + i, &v, 8);
    }
}

}  // namespace differential
