#include "kernel/vm/instruction_length.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace {

using II = InterceptedInstruction;
constexpr GuestCpuMode kAllModes[] = {GuestCpuMode::Real, GuestCpuMode::Protected16, GuestCpuMode::Protected32,
                                      GuestCpuMode::Long64};
constexpr GuestCpuMode kLegacyModes[] = {GuestCpuMode::Real, GuestCpuMode::Protected16, GuestCpuMode::Protected32};

// Intel SDM vol. 2 (and AMD APM vol. 3): the encodings of the intercepted instructions.
struct Encoding {
    II which;
    std::vector<u8> opcode;
};
const Encoding kEncodings[] = {
    {II::Cpuid, {0x0f, 0xa2}},         {II::Rdmsr, {0x0f, 0x32}},
    {II::Wrmsr, {0x0f, 0x30}},         {II::Hlt, {0xf4}},
    {II::Vmmcall, {0x0f, 0x01, 0xd9}}, {II::Vmcall, {0x0f, 0x01, 0xc1}},
    {II::InvdOrWbinvd, {0x0f, 0x08}},  {II::InvdOrWbinvd, {0x0f, 0x09}},
    {II::Rdtsc, {0x0f, 0x31}},         {II::Rdtscp, {0x0f, 0x01, 0xf9}},
};

// Every legacy prefix but LOCK: operand and address size, REPNE, REP, and the six segment overrides.
const u8 kLegacyPrefixes[] = {0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65};

// The length for exactly these bytes, from an exact-size heap copy so ASan reports a
// read past `available`.
u8 length(std::vector<u8> bytes, GuestCpuMode mode, II which) {
    std::vector<u8> exact(bytes);
    return intercepted_instruction_length(exact.empty() ? nullptr : exact.data(), exact.size(), mode, which);
}

std::vector<u8> concat(std::initializer_list<std::vector<u8>> parts) {
    std::vector<u8> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(InstructionLength, PlainEncodingsInEveryMode) {
    for (GuestCpuMode mode : kAllModes)
        for (const Encoding& e : kEncodings)
            EXPECT_EQ(length(e.opcode, mode, e.which), e.opcode.size())
                << "mode " << int(mode) << ", instruction " << int(e.which);
}

TEST(InstructionLength, TrailingBytesAreNotPartOfTheInstruction) {
    for (const Encoding& e : kEncodings) {
        // The next instructions (NOP, INT3, MOV EAX, imm32) follow in the fetched bytes.
        const std::vector<u8> bytes = concat({e.opcode, {0x90, 0xcc, 0xb8, 1, 2, 3, 4}});
        EXPECT_EQ(length(bytes, GuestCpuMode::Protected32, e.which), e.opcode.size());
        EXPECT_EQ(length(bytes, GuestCpuMode::Long64, e.which), e.opcode.size());
    }
}

TEST(InstructionLength, LegacyPrefixesCount) {
    for (GuestCpuMode mode : kAllModes) {
        for (const Encoding& e : kEncodings) {
            for (u8 prefix : kLegacyPrefixes)
                EXPECT_EQ(length(concat({{prefix}, e.opcode}), mode, e.which), e.opcode.size() + 1)
                    << std::hex << int(prefix) << " mode " << int(mode);
            EXPECT_EQ(length(concat({{0x66, 0x67, 0xf3, 0x2e}, e.opcode}), mode, e.which), e.opcode.size() + 4);
        }
    }
    // Typical forms: REP HLT, an operand-size CPUID, a segment-overridden RDMSR.
    EXPECT_EQ(length({0xf3, 0xf4}, GuestCpuMode::Protected32, II::Hlt), 2u);
    EXPECT_EQ(length({0x66, 0x0f, 0xa2}, GuestCpuMode::Real, II::Cpuid), 3u);
    EXPECT_EQ(length({0x64, 0x0f, 0x32}, GuestCpuMode::Protected16, II::Rdmsr), 3u);
}

TEST(InstructionLength, RexPrefixOnlyInLongMode) {
    for (const Encoding& e : kEncodings) {
        for (u8 rex = 0x40; rex <= 0x4f; ++rex) {
            const std::vector<u8> bytes = concat({{rex}, e.opcode});
            EXPECT_EQ(length(bytes, GuestCpuMode::Long64, e.which), e.opcode.size() + 1) << std::hex << int(rex);
            // Outside 64-bit mode 40h-4Fh are INC/DEC reg32, a whole instruction of their own.
            for (GuestCpuMode mode : kLegacyModes)
                EXPECT_EQ(length(bytes, mode, e.which), 0u) << std::hex << int(rex) << " mode " << int(mode);
        }
        // Legacy prefixes, then REX, then the opcode.
        EXPECT_EQ(length(concat({{0x66, 0xf3, 0x48}, e.opcode}), GuestCpuMode::Long64, e.which), e.opcode.size() + 3);
        EXPECT_EQ(length(concat({{0x66, 0x48}, e.opcode}), GuestCpuMode::Protected32, e.which), 0u);
    }
    // REX.W RDMSR / WRMSR, as some 64-bit kernels write them.
    EXPECT_EQ(length({0x48, 0x0f, 0x32}, GuestCpuMode::Long64, II::Rdmsr), 3u);
    EXPECT_EQ(length({0x48, 0x0f, 0x30}, GuestCpuMode::Long64, II::Wrmsr), 3u);
}

TEST(InstructionLength, MismatchingBytesReturnZero) {
    for (GuestCpuMode mode : kAllModes) {
        for (const Encoding& e : kEncodings)
            for (const Encoding& other : kEncodings)
                if (e.which != other.which)
                    EXPECT_EQ(length(other.opcode, mode, e.which), 0u)
                        << int(e.which) << " vs bytes of " << int(other.which);
    }
    const GuestCpuMode m = GuestCpuMode::Protected32;
    EXPECT_EQ(length({0x90}, m, II::Hlt), 0u);
    EXPECT_EQ(length({0x0f, 0xa3}, m, II::Cpuid), 0u);
    EXPECT_EQ(length({0x0f, 0xa2}, m, II::Hlt), 0u);
    EXPECT_EQ(length({0x0e, 0xa2}, m, II::Cpuid), 0u);
    EXPECT_EQ(length({0x0f, 0x01, 0xd8}, m, II::Vmmcall), 0u);  // VMRUN
    EXPECT_EQ(length({0x0f, 0x01, 0xc2}, m, II::Vmcall), 0u);   // VMLAUNCH
    EXPECT_EQ(length({0x0f, 0x00, 0xd9}, m, II::Vmmcall), 0u);
    EXPECT_EQ(length({0x0f, 0x31}, m, II::Rdmsr), 0u);  // RDTSC
    // QEMU's TCG reports RDTSCP with RDTSC's exit code: the two are told apart.
    EXPECT_EQ(length({0x0f, 0x01, 0xf9}, m, II::Rdtsc), 0u);
    EXPECT_EQ(length({0x0f, 0x31}, m, II::Rdtscp), 0u);
    // A prefix then a different instruction.
    EXPECT_EQ(length({0x66, 0x90}, m, II::Hlt), 0u);
    EXPECT_EQ(length({0xf3, 0x90}, m, II::Hlt), 0u);  // PAUSE
    EXPECT_EQ(length({0x48, 0x90}, GuestCpuMode::Long64, II::Hlt), 0u);
    // Prefix bytes that are not legacy prefixes (VEX, EVEX, REX in the wrong place).
    EXPECT_EQ(length({0xc5, 0x0f, 0xa2}, m, II::Cpuid), 0u);
    EXPECT_EQ(length({0x62, 0xf4}, m, II::Hlt), 0u);
    EXPECT_EQ(length({0x0f, 0x48, 0xa2}, GuestCpuMode::Long64, II::Cpuid), 0u);
}

TEST(InstructionLength, TruncatedInputReturnsZero) {
    for (GuestCpuMode mode : kAllModes) {
        for (const Encoding& e : kEncodings) {
            // Every proper prefix of the encoding (and of a prefixed encoding) is too short.
            for (usize n = 0; n < e.opcode.size(); ++n)
                EXPECT_EQ(length(std::vector<u8>(e.opcode.begin(), e.opcode.begin() + n), mode, e.which), 0u);
            const std::vector<u8> prefixed = concat({{0x66, 0xf3}, e.opcode});
            for (usize n = 0; n < prefixed.size(); ++n)
                EXPECT_EQ(length(std::vector<u8>(prefixed.begin(), prefixed.begin() + n), mode, e.which), 0u);
        }
    }
    EXPECT_EQ(length({0x48}, GuestCpuMode::Long64, II::Hlt), 0u);
    EXPECT_EQ(length({0x48, 0x0f}, GuestCpuMode::Long64, II::Cpuid), 0u);
    EXPECT_EQ(intercepted_instruction_length(nullptr, 0, GuestCpuMode::Long64, II::Hlt), 0u);

    // `available` is the limit even when the right bytes lie beyond it.
    const u8 cpuid[] = {0x66, 0x0f, 0xa2};
    EXPECT_EQ(intercepted_instruction_length(cpuid, 2, GuestCpuMode::Protected32, II::Cpuid), 0u);
    EXPECT_EQ(intercepted_instruction_length(cpuid, 3, GuestCpuMode::Protected32, II::Cpuid), 3u);
}

TEST(InstructionLength, FifteenByteLimit) {
    for (GuestCpuMode mode : kAllModes) {
        for (const Encoding& e : kEncodings) {
            // Exactly 15 bytes: allowed.
            const usize fill = 15 - e.opcode.size();
            std::vector<u8> longest = concat({std::vector<u8>(fill, 0x66), e.opcode});
            EXPECT_EQ(length(longest, mode, e.which), 15u) << int(e.which) << " mode " << int(mode);
            // 16 bytes: #GP on the real CPU, so never a valid intercepted instruction.
            std::vector<u8> too_long = concat({std::vector<u8>(fill + 1, 0x66), e.opcode});
            EXPECT_EQ(length(too_long, mode, e.which), 0u) << int(e.which) << " mode " << int(mode);
            EXPECT_EQ(length(concat({std::vector<u8>(20, 0x2e), e.opcode}), mode, e.which), 0u);
        }
    }
    // With a REX in 64-bit mode.
    for (const Encoding& e : kEncodings) {
        const usize fill = 14 - e.opcode.size();
        EXPECT_EQ(length(concat({std::vector<u8>(fill, 0xf3), {0x41}, e.opcode}), GuestCpuMode::Long64, e.which), 15u);
        EXPECT_EQ(length(concat({std::vector<u8>(fill + 1, 0xf3), {0x41}, e.opcode}), GuestCpuMode::Long64, e.which),
                  0u);
    }
}

TEST(InstructionLength, MovToAndFromCr8) {
    // MOV CR8, RAX is REX.R 0F 22 /r (ModRM 0xC0: reg = 0 + REX.R = 8, rm = RAX); the read
    // is 0F 20. In legacy modes AMD's LOCK MOV CR0 form reaches CR8 (APM vol. 3, MOV CRn).
    EXPECT_EQ(length({0x44, 0x0f, 0x22, 0xc0}, GuestCpuMode::Long64, II::MovToCr), 4u);
    EXPECT_EQ(length({0x4c, 0x0f, 0x20, 0xc3}, GuestCpuMode::Long64, II::MovFromCr), 4u);
    EXPECT_EQ(length({0x44, 0x0f, 0x22, 0xc0}, GuestCpuMode::Long64, II::MovFromCr), 0u);
    EXPECT_EQ(length({0x0f, 0x20, 0xc0}, GuestCpuMode::Protected32, II::MovToCr), 0u);
}

TEST(InstructionLength, LockPrefixIsUndefinedOnTheseInstructions) {
    // LOCK is #UD on anything but a read-modify-write of memory (SDM vol. 2, LOCK): the
    // CPU raises #UD before any intercept, so such bytes never belong to an exit.
    for (const Encoding& e : kEncodings)
        EXPECT_EQ(length(concat({{0xf0}, e.opcode}), GuestCpuMode::Protected32, e.which), 0u) << int(e.which);
}

// LOCK on an instruction that takes none is #UD: the exit handlers raise it when the
// bytes are the exited instruction with LOCK, and only then.
TEST(InterceptedInstruction, LockPrefixedHypercallsAreRecognised) {
    const std::vector<u8> locked_vmmcall = {0xf0, 0x0f, 0x01, 0xd9};
    const std::vector<u8> locked_vmcall = {0x66, 0xf0, 0x0f, 0x01, 0xc1};
    for (const GuestCpuMode mode : kAllModes) {
        EXPECT_EQ(length(locked_vmmcall, mode, II::Vmmcall), 0u) << "not a valid instruction";
        EXPECT_TRUE(intercepted_instruction_is_locked(locked_vmmcall.data(), locked_vmmcall.size(), mode, II::Vmmcall));
        EXPECT_TRUE(intercepted_instruction_is_locked(locked_vmcall.data(), locked_vmcall.size(), mode, II::Vmcall));
        const std::vector<u8> plain = {0x0f, 0x01, 0xd9};
        EXPECT_FALSE(intercepted_instruction_is_locked(plain.data(), plain.size(), mode, II::Vmmcall));
        const std::vector<u8> locked_other = {0xf0, 0x0f, 0xa2};  // LOCK CPUID is not a locked VMMCALL
        EXPECT_FALSE(intercepted_instruction_is_locked(locked_other.data(), locked_other.size(), mode, II::Vmmcall));
    }
}

}  // namespace
