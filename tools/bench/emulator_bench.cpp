// Cost of the MMIO instruction emulator on the host: decoding alone, and decode + emulate
// of the accesses a guest driver makes (a register store and load, a RMW, a REP STOSD),
// against an environment whose "device" does nothing, so the figures are the emulator's
// own overhead per exit (page walk and device model excluded).
#include <benchmark/benchmark.h>

#include <cstring>

#include "kernel/emulator/decoder.hpp"
#include "kernel/emulator/emulator.hpp"

namespace {

constexpr u64 kMmio = 0xfeb00000;
constexpr u64 kRam = 0x100000;

// Reads return a constant, writes are counted: the cheapest device possible.
class SinkEnvironment final : public EmulatorEnvironment {
public:
    MemoryOutcome read_linear(u64, void* dst, usize size, GuestAccess) override {
        memset(dst, 0x5a, size);
        return {};
    }
    MemoryOutcome write_linear(u64, const void* src, usize size, GuestAccess) override {
        const u8* bytes = static_cast<const u8*>(src);
        last_ = bytes[size - 1];
        ++writes_;
        return {};
    }
    void read_vector_register(RegisterClass, u8, u8* dst, u8 size) override { memset(dst, 0, size); }
    void write_vector_register(RegisterClass, u8, const u8*, u8) override {}

    u64 writes_ = 0;
    u8 last_ = 0;
};

EmulatorCpuState long_mode_cpu() {
    EmulatorCpuState cpu;
    cpu.mode = CpuMode::Long64;
    cpu.rip = 0x400000;
    cpu.gpr[0] = 0x12345678;  // rax
    cpu.gpr[3] = kMmio;       // rbx
    cpu.cr0 = 0x80000011;
    cpu.cr4 = 0x220;
    return cpu;
}

void decode_only(benchmark::State& state, const u8* bytes, usize size) {
    DecodedInstruction insn;
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom
        benchmark::DoNotOptimize(decode_instruction(bytes, size, CpuMode::Long64, insn));
        benchmark::DoNotOptimize(insn);
    }
}

// Decode + emulate, as the exit handler does for each MMIO exit. `setup` resets the
// registers the instruction consumes.
template <typename Setup>
void decode_and_emulate(benchmark::State& state, const u8* bytes, usize size, Setup setup) {
    SinkEnvironment env;
    EmulatorCpuState cpu = long_mode_cpu();
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom
        setup(cpu);
        DecodedInstruction insn;
        if (decode_instruction(bytes, size, CpuMode::Long64, insn) != DecodeResult::Ok) {
            state.SkipWithError("decode failed");
            break;
        }
        const EmulationResult result = emulate_instruction(insn, cpu, env);
        if (result.kind != EmulationResult::Done) {
            state.SkipWithError("emulation failed");
            break;
        }
        benchmark::DoNotOptimize(cpu);
    }
    benchmark::DoNotOptimize(env.writes_);
}

const u8 kMovStore[] = {0x89, 0x03};            // mov [rbx], eax
const u8 kMovLoad[] = {0x8b, 0x03};             // mov eax, [rbx]
const u8 kRepStosd[] = {0xf3, 0xab};            // rep stosd
const u8 kLockAdd[] = {0xf0, 0x01, 0x03};       // lock add [rbx], eax
const u8 kMovdqa[] = {0x66, 0x0f, 0x6f, 0x0b};  // movdqa xmm1, [rbx]

void BM_DecodeMovStore(benchmark::State& state) { decode_only(state, kMovStore, sizeof(kMovStore)); }

void BM_EmulateMovStoreMmio(benchmark::State& state) {
    decode_and_emulate(state, kMovStore, sizeof(kMovStore), [](EmulatorCpuState& cpu) { cpu.rip = 0x400000; });
}

void BM_EmulateMovLoadMmio(benchmark::State& state) {
    decode_and_emulate(state, kMovLoad, sizeof(kMovLoad), [](EmulatorCpuState& cpu) { cpu.rip = 0x400000; });
}

// Emulation alone, the instruction decoded once.
void BM_EmulateOnlyMovStoreMmio(benchmark::State& state) {
    SinkEnvironment env;
    EmulatorCpuState cpu = long_mode_cpu();
    DecodedInstruction insn;
    decode_instruction(kMovStore, sizeof(kMovStore), CpuMode::Long64, insn);
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom
        cpu.rip = 0x400000;
        benchmark::DoNotOptimize(emulate_instruction(insn, cpu, env));
    }
}

void BM_EmulateRepStosd64(benchmark::State& state) {
    decode_and_emulate(state, kRepStosd, sizeof(kRepStosd), [](EmulatorCpuState& cpu) {
        cpu.rip = 0x400000;
        cpu.gpr[1] = 64;    // rcx
        cpu.gpr[7] = kRam;  // rdi
    });
    state.SetItemsProcessed(state.iterations() * 64);
}

void BM_EmulateLockAddMmio(benchmark::State& state) {
    decode_and_emulate(state, kLockAdd, sizeof(kLockAdd), [](EmulatorCpuState& cpu) { cpu.rip = 0x400000; });
}

void BM_EmulateMovdqaMmio(benchmark::State& state) {
    decode_and_emulate(state, kMovdqa, sizeof(kMovdqa), [](EmulatorCpuState& cpu) { cpu.rip = 0x400000; });
}

BENCHMARK(BM_DecodeMovStore);
BENCHMARK(BM_EmulateMovStoreMmio);
BENCHMARK(BM_EmulateMovLoadMmio);
BENCHMARK(BM_EmulateOnlyMovStoreMmio);
BENCHMARK(BM_EmulateRepStosd64);
BENCHMARK(BM_EmulateLockAddMmio);
BENCHMARK(BM_EmulateMovdqaMmio);

}  // namespace

BENCHMARK_MAIN();
