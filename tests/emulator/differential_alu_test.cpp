// alu_execute against the host CPU: every AluOp at every size, on the register form of
// the instruction (op rax, rcx), with random operands biased to the edges and random
// incoming flags. All six status flags are compared, the undefined ones included (alu.cpp
// claims the host's behaviour for those).
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "kernel/emulator/alu.hpp"
#include "tests/emulator/differential_native.hpp"

namespace {

using differential::MachineState;
using differential::NativeRunner;
using differential::Rng;

constexpr int kCasesPerOpAndSize = 2000;

struct OpEncoding {
    AluOp op;
    const char* name;
    // op rAX, rCX: opcode bytes for the byte form and the full-size form; ModRM follows.
    std::vector<u8> byte_opcode, full_opcode;
    u8 modrm;
};

const std::vector<OpEncoding>& encodings() {
    static const std::vector<OpEncoding> kEncodings = {
        {AluOp::Add, "add", {0x00}, {0x01}, 0xc8},   {AluOp::Or, "or", {0x08}, {0x09}, 0xc8},
        {AluOp::Adc, "adc", {0x10}, {0x11}, 0xc8},   {AluOp::Sbb, "sbb", {0x18}, {0x19}, 0xc8},
        {AluOp::And, "and", {0x20}, {0x21}, 0xc8},   {AluOp::Sub, "sub", {0x28}, {0x29}, 0xc8},
        {AluOp::Xor, "xor", {0x30}, {0x31}, 0xc8},   {AluOp::Cmp, "cmp", {0x38}, {0x39}, 0xc8},
        {AluOp::Test, "test", {0x84}, {0x85}, 0xc8}, {AluOp::Inc, "inc", {0xfe}, {0xff}, 0xc0},
        {AluOp::Dec, "dec", {0xfe}, {0xff}, 0xc8},   {AluOp::Not, "not", {0xf6}, {0xf7}, 0xd0},
        {AluOp::Neg, "neg", {0xf6}, {0xf7}, 0xd8},   {AluOp::Bt, "bt", {}, {0x0f, 0xa3}, 0xc8},
        {AluOp::Bts, "bts", {}, {0x0f, 0xab}, 0xc8}, {AluOp::Btr, "btr", {}, {0x0f, 0xb3}, 0xc8},
        {AluOp::Btc, "btc", {}, {0x0f, 0xbb}, 0xc8},
    };
    return kEncodings;
}

u64 mask_of(u8 size) { return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; }

TEST(DifferentialAlu, EveryOpAndSizeAgainstTheHost) {
    const u64 seed = differential::base_seed();
    printf("DifferentialAlu seed %#llx (set VIREO_DIFF_SEED to repeat)\n", static_cast<unsigned long long>(seed));
    NativeRunner runner(4096);
    Rng rng(seed);
    int failures = 0, cases = 0;
    for (const OpEncoding& e : encodings()) {
        for (u8 size : {1, 2, 4, 8}) {
            if (size == 1 && e.byte_opcode.empty()) continue;
            std::vector<u8> bytes;
            if (size == 2) bytes.push_back(0x66);
            if (size == 8) bytes.push_back(0x48);
            const std::vector<u8>& opcode = size == 1 ? e.byte_opcode : e.full_opcode;
            bytes.insert(bytes.end(), opcode.begin(), opcode.end());
            bytes.push_back(e.modrm);
            for (int i = 0; i < kCasesPerOpAndSize && failures < 10; ++i, ++cases) {
                MachineState s;
                s.gpr[0] = rng.operand();
                s.gpr[1] = rng.operand();
                s.gpr[4] = runner.scratch_address() + 64;
                s.rflags = (rng.next() & kRflagsStatus) | 2;
                const MachineState in = s;
                runner.run(bytes.data(), bytes.size(), s);

                const u64 mask = mask_of(size);
                const u64 dest = in.gpr[0] & mask;
                const u64 source = (in.gpr[1] & mask) % (8 * size == 64 ? 64 : 8 * size);
                const bool bit_op = e.op == AluOp::Bt || e.op == AluOp::Bts || e.op == AluOp::Btr || e.op == AluOp::Btc;
                const AluResult r = alu_execute(e.op, dest, bit_op ? source : in.gpr[1] & mask, size, in.rflags);
                const u64 native_value = s.gpr[0] & mask;
                const u64 expected_value = r.write ? r.value : dest;
                const u64 native_flags = s.rflags & kRflagsStatus;
                const u64 alu_flags = r.rflags & kRflagsStatus;
                if (native_value != expected_value || native_flags != alu_flags) {
                    ++failures;
                    ADD_FAILURE() << e.name << " size " << int(size) << " ("
                                  << differential::hex_bytes(bytes.data(), bytes.size()) << ") dest " << std::hex
                                  << dest << " source " << (in.gpr[1] & mask) << " flags in "
                                  << differential::describe_flags(in.rflags) << ": native " << native_value << " "
                                  << differential::describe_flags(native_flags) << ", alu " << expected_value << " "
                                  << differential::describe_flags(alu_flags) << std::dec << " (case " << cases
                                  << ", seed " << seed << ")";
                }
            }
        }
    }
    printf("DifferentialAlu: %d cases\n", cases);
}

// The condition codes against SETcc on the host, over every combination of the five
// flags they read.
TEST(DifferentialAlu, ConditionsAgainstSetcc) {
    NativeRunner runner(4096);
    for (u8 cc = 0; cc < 16; ++cc) {
        const std::vector<u8> setcc = {0x0f, u8(0x90 | cc), 0xc0};  // setcc al
        for (u64 bits = 0; bits < 64; ++bits) {
            MachineState s;
            s.gpr[0] = 0x5555;
            s.gpr[4] = runner.scratch_address() + 64;
            s.rflags = 2 | ((bits & 1) ? kRflagsCf : 0) | ((bits & 2) ? kRflagsPf : 0) | ((bits & 4) ? kRflagsAf : 0) |
                       ((bits & 8) ? kRflagsZf : 0) | ((bits & 16) ? kRflagsSf : 0) | ((bits & 32) ? kRflagsOf : 0);
            const u64 flags = s.rflags;
            runner.run(setcc.data(), setcc.size(), s);
            EXPECT_EQ((s.gpr[0] & 0xff) == 1, condition_holds(cc, flags))
                << "cc " << int(cc) << " flags " << differential::describe_flags(flags);
        }
    }
}

}  // namespace
