// x86 instruction decoder: hand-checked encodings (lengths worked out from the SDM vol. 2
// opcode tables and ModRM/SIB tables 2-1 to 2-3), operands, validity and the length
// limit. Every input sits in a heap buffer of exactly `available` bytes, so an over-read
// is an AddressSanitizer error.
#include "kernel/emulator/decoder.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr CpuMode R16 = CpuMode::Real16;
constexpr CpuMode P16 = CpuMode::Protected16;
constexpr CpuMode P32 = CpuMode::Protected32;
constexpr CpuMode L64 = CpuMode::Long64;

std::vector<u8> hex(const char* text) {
    std::vector<u8> bytes;
    for (const char* p = text; *p != '\0';) {
        if (*p == ' ') {
            ++p;
            continue;
        }
        bytes.push_back(u8(std::stoul(std::string(p, 2), nullptr, 16)));
        p += 2;
    }
    return bytes;
}

struct Decoded {
    DecodeResult result;
    DecodedInstruction insn;
};

Decoded decode(CpuMode mode, const std::vector<u8>& bytes, CpuVendor vendor = CpuVendor::Amd) {
    Decoded d{};
    std::vector<u8> exact(bytes);  // its own allocation: exactly bytes.size() readable bytes
    d.result = decode_instruction(exact.data(), exact.size(), mode, d.insn, vendor);
    return d;
}

Decoded decode(CpuMode mode, const char* text, CpuVendor vendor = CpuVendor::Amd) {
    return decode(mode, hex(text), vendor);
}

const char* mode_name(CpuMode mode) {
    switch (mode) {
        case CpuMode::Real16: return "real16";
        case CpuMode::Protected16: return "prot16";
        case CpuMode::Protected32: return "prot32";
        case CpuMode::Long64: return "long64";
    }
    return "?";
}

struct LengthCase {
    CpuMode mode;
    const char* bytes;
    u8 length;  // 0: Invalid
};

// Lengths, each worked out by hand: prefixes + opcode + ModRM + SIB + disp + imm.
const LengthCase kLengths[] = {
    // 64-bit mode.
    {L64, "90", 1},
    {L64, "48 89 d8", 3},                        // mov rax, rbx
    {L64, "48 8b 05 10 00 00 00", 7},            // mov rax, [rip+0x10]
    {L64, "8b 04 25 00 10 00 00", 7},            // mov eax, [0x1000]: SIB without base, disp32
    {L64, "8b 44 24 08", 4},                     // mov eax, [rsp+8]
    {L64, "8b 84 24 00 01 00 00", 7},            // mov eax, [rsp+0x100]
    {L64, "41 8b 45 00", 4},                     // mov eax, [r13+0]: r13 needs mod=01
    {L64, "42 8b 04 a5 00 00 00 00", 8},         // mov eax, [r12*4+0]: SIB, no base, disp32
    {L64, "48 b8 88 77 66 55 44 33 22 11", 10},  // mov rax, imm64
    {L64, "b8 44 33 22 11", 5},                  // mov eax, imm32
    {L64, "66 b8 22 11", 4},                     // mov ax, imm16
    {L64, "48 c7 c0 ff ff ff ff", 7},            // mov rax, imm32 sign-extended
    {L64, "a1 88 77 66 55 44 33 22 11", 9},      // mov eax, [moffs64]
    {L64, "67 a1 44 33 22 11", 6},               // mov eax, [moffs32]
    {L64, "48 a3 88 77 66 55 44 33 22 11", 10},  // mov [moffs64], rax
    {L64, "c8 10 00 01", 4},                     // enter 16, 1
    {L64, "e8 00 00 00 00", 5},                  // call rel32
    {L64, "66 e8 00 00", 4},                     // call rel16 (AMD)
    {L64, "66 48 e8 00 00 00 00", 7},            // REX.W wins over 66: rel32
    {L64, "0f 84 00 00 00 00", 6},               // je rel32
    {L64, "eb fe", 2},                           // jmp rel8
    {L64, "68 00 00 00 00", 5},                  // push imm32
    {L64, "66 68 00 00", 4},                     // push imm16
    {L64, "c2 08 00", 3},                        // ret 8
    {L64, "f6 05 00 00 00 00 01", 7},            // test byte [rip], 1
    {L64, "f6 15 00 00 00 00", 6},               // not byte [rip]: no immediate
    {L64, "f7 05 00 00 00 00 01 00 00 00", 10},  // test dword [rip], imm32
    {L64, "48 f7 d8", 3},                        // neg rax
    {L64, "0f ba 20 05", 4},                     // bt dword [rax], 5
    {L64, "0f 0f c1 b4", 4},                     // pfmul mm0, mm1 (3DNow! suffix b4)
    {L64, "0f 0f 40 10 b4", 5},                  // pfmul mm0, [rax+0x10]
    {L64, "d9 c0", 2},                           // fld st0
    {L64, "dd 05 00 00 00 00", 6},               // fld qword [rip]
    {L64, "0f 38 00 c1", 4},                     // pshufb mm0, mm1
    {L64, "66 0f 3a 0f c1 08", 6},               // palignr xmm0, xmm1, 8
    {L64, "c5 f9 6f 05 00 00 00 00", 8},         // vmovdqa xmm0, [rip]
    {L64, "c4 e3 79 0f c1 08", 6},               // vpalignr xmm0, xmm0, xmm1, 8
    {L64, "c5 fc 77", 3},                        // vzeroall: no ModRM
    {L64, "62 f1 7c 48 10 05 00 00 00 00", 10},  // vmovups zmm0, [rip]
    {L64, "62 f1 7c 48 10 40 01", 7},            // vmovups zmm0, [rax+disp8*64]
    {L64, "8f e8 78 a2 c0 00", 6},               // vpcmov (XOP map 8: imm8)
    {L64, "8f ea 78 10 c0 00 00 00 00", 9},      // bextr (XOP map A: imm32)
    {L64, "0f 20 00", 3},                        // mov rax, cr0: mod is ignored, no SIB
    {L64, "0f 22 05", 3},                        // mov cr0, rbp: no disp32 either
    {L64, "f0 0f c7 0e", 4},                     // lock cmpxchg8b [rsi]
    {L64, "0f 05", 2},                           // syscall
    {L64, "c7 f8 00 00 00 00", 6},               // xbegin rel32
    {L64, "c6 f8 05", 3},                        // xabort 5
    {L64, "66 0f 78 c0 01 02", 6},               // extrq xmm0, 1, 2 (AMD SSE4a)
    {L64, "f3 0f b8 c0", 4},                     // popcnt eax, eax
    {L64, "63 c0", 2},                           // movsxd eax, eax
    {L64, "40 40 90", 3},                        // two REX: the first is ignored
    // 64-bit mode: #UD opcodes.
    {L64, "06", 0},
    {L64, "07", 0},
    {L64, "0e", 0},
    {L64, "16", 0},
    {L64, "17", 0},
    {L64, "1e", 0},
    {L64, "1f", 0},
    {L64, "27", 0},
    {L64, "2f", 0},
    {L64, "37", 0},
    {L64, "3f", 0},
    {L64, "60", 0},
    {L64, "61", 0},
    {L64, "82 c0 01", 0},
    {L64, "9a 00 00 00 00 00 00", 0},
    {L64, "ce", 0},
    {L64, "d4 0a", 0},
    {L64, "d5 0a", 0},
    {L64, "d6", 0},
    {L64, "ea 00 00 00 00 00 00", 0},
    // 32-bit mode.
    {P32, "8b 04 24", 3},              // mov eax, [esp]
    {P32, "8b 05 00 10 00 00", 6},     // mov eax, [0x1000]: no RIP-relative
    {P32, "67 8b 07", 3},              // mov eax, [bx]
    {P32, "67 8b 06 00 10", 5},        // mov eax, [0x1000] (disp16)
    {P32, "a1 00 10 00 00", 5},        // mov eax, [moffs32]
    {P32, "67 a1 00 10", 4},           // mov eax, [moffs16]
    {P32, "66 a1 00 10 00 00", 6},     // mov ax, [moffs32]
    {P32, "40", 1},                    // inc eax
    {P32, "4f", 1},                    // dec edi
    {P32, "9a 00 00 00 00 08 00", 7},  // call far ptr16:32
    {P32, "66 9a 00 00 08 00", 6},     // call far ptr16:16
    {P32, "ea 00 00 00 00 08 00", 7},  // jmp far ptr16:32
    {P32, "c4 00", 2},                 // les eax, [eax]
    {P32, "c5 f9 6f c1", 4},           // vmovdqa xmm0, xmm1 (mod=11: VEX)
    {P32, "62 00", 2},                 // bound eax, [eax]
    {P32, "62 f1 7c 48 10 c1", 6},     // vmovups zmm0, zmm1 (mod=11: EVEX)
    {P32, "62 c0 7c 48 10 c1", 0},     // EVEX with map 0: #UD
    {P32, "d5 0a", 2},                 // aad
    {P32, "d6", 1},                    // salc
    {P32, "63 c0", 2},                 // arpl ax, ax
    {P32, "82 c0 01", 3},              // add al, 1 (82 = 80 outside 64-bit mode)
    {P32, "e8 00 00 00 00", 5},        // call rel32
    {P32, "66 e8 00 00", 4},           // call rel16
    {P32, "66 0f 84 00 00", 5},        // je rel16
    {P32, "8f c9 78 01 c8", 5},        // blcfill (XOP map 9: no immediate)
    // 16-bit modes: 8086 ModRM table.
    {P16, "8b 00", 2},                 // mov ax, [bx+si]
    {P16, "8b 06 34 12", 4},           // mov ax, [0x1234]: mod=00 rm=110 is disp16
    {P16, "8b 46 08", 3},              // mov ax, [bp+8]
    {P16, "8b 86 00 01", 4},           // mov ax, [bp+0x100]
    {P16, "8b 04", 2},                 // mov ax, [si]: rm=100 is no SIB here
    {P16, "66 8b 00", 3},              // mov eax, [bx+si]
    {P16, "67 8b 04 24", 4},           // mov ax, [esp]: 32-bit addressing
    {P16, "67 8b 05 00 10 00 00", 7},  // mov ax, [0x1000] (disp32)
    {P16, "b8 34 12", 3},              // mov ax, imm16
    {P16, "66 b8 78 56 34 12", 6},     // mov eax, imm32
    {P16, "e8 00 00", 3},              // call rel16
    {P16, "66 e8 00 00 00 00", 6},     // call rel32
    {P16, "a1 34 12", 3},              // mov ax, [moffs16]
    {P16, "67 a1 78 56 34 12", 6},     // mov ax, [moffs32]
    {P16, "9a 00 00 00 f0", 5},        // call far ptr16:16
    {P16, "68 34 12", 3},              // push imm16
    {P16, "c4 e3 79 0f c1 08", 6},     // VEX in 16-bit protected mode
    {R16, "8b 00", 2},
    {R16, "c4 00", 2},              // les ax, [bx+si]
    {R16, "c4 e3 79 0f c1 08", 0},  // VEX: #UD in real mode
    {R16, "c5 f9 6f c1", 0},
    {R16, "62 f1 7c 48 10 c1", 0},  // BOUND with a register operand / EVEX: #UD
    {R16, "8f e8 78 a2 c0 00", 0},  // XOP: #UD in real mode
    {R16, "63 c0", 0},              // ARPL: #UD in real mode
    {R16, "0f 00 c0", 0},           // SLDT: #UD in real mode
    {R16, "0f 02 c0", 0},           // LAR
    {R16, "0f 01 e0", 3},           // SMSW ax is fine
    // #UD forms in every mode.
    {L64, "0f 0b", 0},     // UD2
    {L64, "0f b9 c0", 0},  // UD1
    {L64, "0f ff c0", 0},  // UD0
    {L64, "0f 04", 0},
    {L64, "0f 0a", 0},
    {L64, "0f 0c", 0},
    {L64, "0f 24 c0", 0},
    {L64, "0f 36", 0},
    {L64, "0f 39", 0},
    {L64, "0f 7a", 0},
    {L64, "0f a6 c0", 0},
    {L64, "0f b8 c0", 0},  // JMPE (IA-64), without F3
    {L64, "8d c0", 0},     // lea with a register operand
    {L64, "8c f0", 0},     // mov eax, <segment 6>
    {L64, "8e c8", 0},     // mov cs, ax
    {L64, "8f e0", 0},     // pop with /4 (mmmmm < 8: not XOP)
    {L64, "c6 08 05", 0},  // group 11 /1
    {L64, "c7 c8 00 00 00 00", 0},
    {L64, "fe 10", 0},                 // group 4 /2
    {L64, "ff 38", 0},                 // group 5 /7
    {L64, "ff d8", 0},                 // call far with a register operand
    {L64, "0f ba 00 05", 0},           // group 8 /0
    {L64, "0f 00 30", 0},              // group 6 /6
    {L64, "0f c7 c8", 0},              // cmpxchg8b with a register operand
    {L64, "0f 20 c8", 0},              // mov rax, cr1
    {L64, "0f 22 f8", 0},              // mov cr7, rax
    {L64, "44 0f 20 c8", 0},           // mov rax, cr9
    {L64, "44 0f 21 c0", 0},           // mov rax, dr8
    {L64, "66 c5 f9 6f c1", 0},        // 66 before VEX
    {L64, "f3 c4 e3 79 0f c1 08", 0},  // F3 before VEX
    {L64, "48 c5 f9 6f c1", 0},        // REX before VEX
    {L64, "f0 62 f1 7c 48 10 c1", 0},  // LOCK before EVEX
    {L64, "62 f9 7c 48 10 c1", 0},     // EVEX P0 bit 3 set
    {L64, "62 f1 78 48 10 c1", 0},     // EVEX P1 bit 2 clear
    {L64, "c4 e4 79 0f c1", 0},        // VEX map 4
    {L64, "c5 f8 05", 0},              // VEX 0F 05: no ModRM opcode, no VEX form
    // LOCK.
    {L64, "f0 01 00", 3},        // lock add [rax], eax
    {L64, "f0 80 30 01", 4},     // lock xor byte [rax], 1
    {L64, "f0 87 00", 3},        // lock xchg [rax], eax
    {L64, "f0 f7 18", 3},        // lock neg dword [rax]
    {L64, "f0 ff 00", 3},        // lock inc dword [rax]
    {L64, "f0 0f ab 00", 4},     // lock bts [rax], eax
    {L64, "f0 0f ba 28 01", 5},  // lock bts dword [rax], 1
    {L64, "f0 0f b1 08", 4},     // lock cmpxchg [rax], ecx
    {L64, "f0 0f c1 08", 4},     // lock xadd [rax], ecx
    {L64, "f0 01 c0", 0},        // register destination
    {L64, "f0 03 00", 0},        // add eax, [rax]: memory is the source
    {L64, "f0 39 00", 0},        // cmp: not a read-modify-write
    {L64, "f0 83 38 01", 0},     // cmp via group 1 /7
    {L64, "f0 0f ba 20 01", 0},  // bt
    {L64, "f0 8b 00", 0},        // mov
    {L64, "f0 90", 0},
    {L64, "f0 0f 20 c0", 4},  // AMD: lock mov rax, cr0 = mov rax, cr8
    {L64, "f0 0f 22 d0", 0},  // lock mov cr2 = cr10: #UD
};

TEST(Decoder, LengthsOfHandCheckedEncodings) {
    for (const LengthCase& c : kLengths) {
        const Decoded d = decode(c.mode, c.bytes);
        SCOPED_TRACE(std::string(mode_name(c.mode)) + ": " + c.bytes);
        if (c.length == 0) {
            EXPECT_EQ(d.result, DecodeResult::Invalid) << decode_result_name(d.result);
            continue;
        }
        ASSERT_EQ(d.result, DecodeResult::Ok) << decode_result_name(d.result);
        EXPECT_EQ(d.insn.length, c.length);
    }
}

TEST(Decoder, EveryShorterPrefixNeedsMoreBytes) {
    for (const LengthCase& c : kLengths) {
        if (c.length == 0) continue;
        const std::vector<u8> bytes = hex(c.bytes);
        SCOPED_TRACE(std::string(mode_name(c.mode)) + ": " + c.bytes);
        for (usize k = 0; k < c.length; ++k) {
            const Decoded d = decode(c.mode, std::vector<u8>(bytes.begin(), bytes.begin() + long(k)));
            EXPECT_EQ(d.result, DecodeResult::NeedMoreBytes) << k << " bytes: " << decode_result_name(d.result);
        }
    }
}

TEST(Decoder, ExtraBytesDoNotChangeTheResult) {
    for (const LengthCase& c : kLengths) {
        std::vector<u8> bytes = hex(c.bytes);
        const Decoded exact = decode(c.mode, bytes);
        bytes.insert(bytes.end(), 16, 0x90);
        const Decoded padded = decode(c.mode, bytes);
        SCOPED_TRACE(std::string(mode_name(c.mode)) + ": " + c.bytes);
        EXPECT_EQ(padded.result, exact.result);
        EXPECT_EQ(padded.insn.length, exact.insn.length);
    }
}

TEST(Decoder, FifteenByteLimit) {
    // lock add dword [rsp+disp32], imm32 is 12 bytes: three more prefixes fit, four do not.
    const char* body = "f0 81 84 24 00 01 00 00 01 00 00 00";
    Decoded d = decode(L64, (std::string("2e 2e 2e ") + body).c_str());
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.length, 15);
    EXPECT_EQ(d.insn.prefixes.count, 4);
    EXPECT_EQ(decode(L64, (std::string("2e 2e 2e 2e ") + body).c_str()).result, DecodeResult::TooLong);
    // The length is known from the ModRM/SIB bytes: #GP even before the rest is fetched.
    EXPECT_EQ(decode(L64, "2e 2e 2e 2e f0 81 84 24").result, DecodeResult::TooLong);
    // 14 prefixes and a NOP are 15 bytes; 15 prefixes are too many whatever follows.
    EXPECT_EQ(decode(P32, "26 26 26 26 26 26 26 26 26 26 26 26 26 26 90").insn.length, 15);
    EXPECT_EQ(decode(P32, "26 26 26 26 26 26 26 26 26 26 26 26 26 26 26 90").result, DecodeResult::TooLong);
    EXPECT_EQ(decode(P32, "26 26 26 26 26 26 26 26 26 26 26 26 26 26 26").result, DecodeResult::TooLong);
    EXPECT_EQ(decode(P32, "26 26 26 26 26 26 26 26 26 26 26 26 26 26").result, DecodeResult::NeedMoreBytes);
    // 66 x 11 + 05 imm16 = 14 bytes; one more 66 makes 15, two 16.
    EXPECT_EQ(decode(P32, "66 66 66 66 66 66 66 66 66 66 66 05 34 12").insn.length, 14);
    EXPECT_EQ(decode(P32, "66 66 66 66 66 66 66 66 66 66 66 66 66 05 34 12").result, DecodeResult::TooLong);
    EXPECT_EQ(decode(L64, std::vector<u8>{}).result, DecodeResult::NeedMoreBytes);
}

TEST(Decoder, VendorDifferences) {
    // 66 on a near branch in 64-bit mode: rel16 on AMD, ignored (rel32) on Intel.
    EXPECT_EQ(decode(L64, "66 e8 00 00 00 00", CpuVendor::Intel).insn.length, 6);
    EXPECT_EQ(decode(L64, "66 0f 85 00 00 00 00", CpuVendor::Intel).insn.length, 7);
    Decoded jmp = decode(L64, "66 ff 20", CpuVendor::Amd);
    EXPECT_EQ(jmp.insn.operand_size, 2);
    EXPECT_EQ(decode(L64, "66 ff 20", CpuVendor::Intel).insn.operand_size, 8);
    // LOCK MOV CR0 is MOV CR8 on AMD only.
    Decoded cr8 = decode(L64, "f0 0f 20 c0", CpuVendor::Amd);
    ASSERT_EQ(cr8.result, DecodeResult::Ok);
    EXPECT_EQ(cr8.insn.modrm.reg, 8);
    EXPECT_EQ(cr8.insn.reg_class, RegisterClass::Control);
    EXPECT_EQ(decode(L64, "f0 0f 20 c0", CpuVendor::Intel).result, DecodeResult::Invalid);
    // 66 0F 78: EXTRQ with two imm8 on AMD, VMREAD (no immediate) on Intel.
    Decoded extrq = decode(L64, "66 0f 78 c0 01 02", CpuVendor::Amd);
    EXPECT_EQ(extrq.insn.immediate.value, 1u);
    EXPECT_EQ(extrq.insn.immediate2.value, 2u);
    EXPECT_EQ(decode(L64, "66 0f 78 c0 01 02", CpuVendor::Intel).insn.length, 4);
    EXPECT_EQ(decode(L64, "66 0f 78 00 01 02", CpuVendor::Amd).result, DecodeResult::Invalid);  // memory form
}

}  // namespace

namespace {

TEST(Decoder, PrefixesAndRex) {
    Decoded d = decode(L64, "f3 48 a5");  // rep movsq
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_TRUE(d.insn.prefixes.rep);
    EXPECT_FALSE(d.insn.prefixes.repne);
    EXPECT_TRUE(d.insn.rex.present && d.insn.rex.w);
    EXPECT_EQ(d.insn.operand_size, 8);
    EXPECT_EQ(d.insn.kind, InstructionKind::Movs);

    // A REX followed by a legacy prefix is ignored: 66 gives a 16-bit immediate.
    d = decode(L64, "48 66 b8 34 12");
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.length, 5);
    EXPECT_FALSE(d.insn.rex.present);
    EXPECT_EQ(d.insn.prefixes.count, 2);
    EXPECT_EQ(d.insn.operand_size, 2);
    EXPECT_EQ(d.insn.immediate.value, 0x1234u);
    // In the other order REX.W wins over 66.
    d = decode(L64, "66 48 b8 88 77 66 55 44 33 22 11");
    EXPECT_EQ(d.insn.length, 11);
    EXPECT_EQ(d.insn.operand_size, 8);
    EXPECT_EQ(d.insn.immediate.value, 0x1122334455667788u);

    // F2 then F3: the last one counts (and is the mandatory prefix).
    d = decode(L64, "f2 f3 0f 6f 00");
    EXPECT_TRUE(d.insn.prefixes.rep);
    EXPECT_FALSE(d.insn.prefixes.repne);
    EXPECT_EQ(d.insn.mandatory_prefix, MandatoryPrefix::PF3);
    EXPECT_EQ(d.insn.kind, InstructionKind::Movdqu);

    // The last segment override wins; 64-bit mode ignores ES/CS/SS/DS overrides.
    d = decode(P32, "64 26 8b 00");
    EXPECT_TRUE(d.insn.prefixes.has_segment);
    EXPECT_EQ(d.insn.prefixes.segment, Segment::ES);
    EXPECT_EQ(d.insn.memory.segment, Segment::ES);
    d = decode(L64, "2e 8b 00");
    EXPECT_EQ(d.insn.prefixes.segment, Segment::CS);
    EXPECT_EQ(d.insn.memory.segment, Segment::DS);
    d = decode(L64, "65 8b 04 25 28 00 00 00");  // mov eax, gs:[0x28]
    EXPECT_EQ(d.insn.memory.segment, Segment::GS);
    EXPECT_EQ(d.insn.memory.base, kNoRegister);
    EXPECT_EQ(d.insn.memory.index, kNoRegister);
    EXPECT_EQ(d.insn.memory.displacement, 0x28);

    // 40-4F are INC/DEC outside 64-bit mode and REX in it.
    d = decode(P32, "41");
    EXPECT_EQ(d.insn.kind, InstructionKind::Inc);
    EXPECT_EQ(d.insn.opcode_register, 1);
    d = decode(L64, "41 50");  // push r8
    EXPECT_EQ(d.insn.kind, InstructionKind::Push);
    EXPECT_EQ(d.insn.opcode_register, 8);
    EXPECT_EQ(d.insn.operand_size, 8);
}

struct MemoryCase {
    CpuMode mode;
    const char* bytes;
    u8 base;
    u8 index;
    u8 scale;
    i64 displacement;
    Segment segment;
    bool rip_relative;
};

constexpr u8 NO = kNoRegister;
constexpr Segment DS = Segment::DS;
constexpr Segment SS = Segment::SS;

const MemoryCase kMemory[] = {
    // 16-bit forms (SDM vol. 2 table 2-1), mod=01 with disp8 -1.
    {P16, "8b 40 ff", 3, 6, 1, -1, DS, false},            // [bx+si-1]
    {P16, "8b 41 ff", 3, 7, 1, -1, DS, false},            // [bx+di-1]
    {P16, "8b 42 ff", 5, 6, 1, -1, SS, false},            // [bp+si-1]
    {P16, "8b 43 ff", 5, 7, 1, -1, SS, false},            // [bp+di-1]
    {P16, "8b 44 ff", 6, NO, 1, -1, DS, false},           // [si-1]
    {P16, "8b 45 ff", 7, NO, 1, -1, DS, false},           // [di-1]
    {P16, "8b 46 ff", 5, NO, 1, -1, SS, false},           // [bp-1]
    {P16, "8b 47 ff", 3, NO, 1, -1, DS, false},           // [bx-1]
    {P16, "8b 06 00 80", NO, NO, 1, -0x8000, DS, false},  // [0x8000]: disp16 (sign-extended)
    {R16, "8b 86 34 12", 5, NO, 1, 0x1234, SS, false},    // [bp+0x1234]
    {P16, "26 8b 46 00", 5, NO, 1, 0, Segment::ES, false},
    // 32-bit forms (tables 2-2 and 2-3).
    {P32, "8b 00", 0, NO, 1, 0, DS, false},
    {P32, "8b 05 78 56 34 12", NO, NO, 1, 0x12345678, DS, false},
    {P32, "8b 04 8d 00 10 00 00", NO, 1, 4, 0x1000, DS, false},  // [ecx*4+0x1000]
    {P32, "8b 44 24 08", 4, NO, 1, 8, SS, false},                // [esp+8]
    {P32, "8b 45 fc", 5, NO, 1, -4, SS, false},                  // [ebp-4]
    {P32, "8b 44 c5 10", 5, 0, 8, 16, SS, false},                // [ebp+eax*8+16]
    {P32, "8b 84 1e 00 00 00 80", 6, 3, 1, -0x80000000LL, DS, false},
    // 64-bit forms with REX.
    {L64, "8b 05 f0 ff ff ff", NO, NO, 1, -16, DS, true},       // [rip-16]
    {L64, "41 8b 05 00 00 00 00", NO, NO, 1, 0, DS, true},      // REX.B does not make r13 here
    {L64, "67 8b 05 00 00 00 00", NO, NO, 1, 0, DS, true},      // [eip+0]
    {L64, "41 8b 44 24 08", 12, NO, 1, 8, DS, false},           // [r12+8]: DS, not SS
    {L64, "41 8b 45 00", 13, NO, 1, 0, DS, false},              // [r13]
    {L64, "42 8b 04 20", 0, 12, 1, 0, DS, false},               // [rax+r12]: REX.X makes index 100 real
    {L64, "43 8b 04 25 00 00 00 00", NO, 12, 1, 0, DS, false},  // base 101, mod=00: none even with REX.B
    {L64, "4b 8b 44 fd 10", 13, 15, 8, 16, DS, false},          // [r13+r15*8+16]
    {L64, "8b 04 24", 4, NO, 1, 0, SS, false},                  // [rsp]
};

TEST(Decoder, MemoryOperands) {
    for (const MemoryCase& c : kMemory) {
        const Decoded d = decode(c.mode, c.bytes);
        SCOPED_TRACE(std::string(mode_name(c.mode)) + ": " + c.bytes);
        ASSERT_EQ(d.result, DecodeResult::Ok);
        const MemoryOperand& m = d.insn.memory;
        EXPECT_TRUE(m.present);
        EXPECT_EQ(m.base, c.base);
        EXPECT_EQ(m.index, c.index);
        EXPECT_EQ(m.scale, c.scale);
        EXPECT_EQ(m.displacement, c.displacement);
        EXPECT_EQ(m.segment, c.segment);
        EXPECT_EQ(m.rip_relative, c.rip_relative);
        EXPECT_EQ(d.insn.kind, InstructionKind::Mov);
    }
}

TEST(Decoder, ModRmSibAndImmediateFields) {
    Decoded d = decode(L64, "4f 8b 44 fd 10");  // mov r8, [r13+r15*8+16]
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_TRUE(d.insn.modrm.present);
    EXPECT_EQ(d.insn.modrm.mod, 1);
    EXPECT_EQ(d.insn.modrm.reg, 8);
    EXPECT_EQ(d.insn.modrm.rm, 12);  // rm=100 + REX.B: "SIB follows", not r12
    EXPECT_TRUE(d.insn.sib.present);
    EXPECT_EQ(d.insn.sib.scale, 3);
    EXPECT_EQ(d.insn.sib.index, 15);
    EXPECT_EQ(d.insn.sib.base, 13);
    EXPECT_EQ(d.insn.displacement.size, 1);
    EXPECT_EQ(d.insn.displacement.value, 16);

    d = decode(L64, "83 c0 ff");  // add eax, -1
    EXPECT_EQ(d.insn.kind, InstructionKind::Add);
    EXPECT_EQ(d.insn.immediate.size, 1);
    EXPECT_EQ(d.insn.immediate.value, 0xffu);
    EXPECT_EQ(d.insn.immediate.sign_extended(), -1);
    EXPECT_FALSE(d.insn.memory.present);
    EXPECT_EQ(d.insn.memory_size, 0);
    EXPECT_EQ(d.insn.modrm.rm, 0);

    d = decode(L64, "c8 34 12 05");  // enter 0x1234, 5
    EXPECT_EQ(d.insn.immediate.value, 0x1234u);
    EXPECT_EQ(d.insn.immediate.size, 2);
    EXPECT_EQ(d.insn.immediate2.value, 5u);
    EXPECT_EQ(d.insn.immediate2.size, 1);

    d = decode(L64, "a1 88 77 66 55 44 33 22 11");  // mov eax, [moffs64]
    EXPECT_EQ(d.insn.kind, InstructionKind::Mov);
    EXPECT_EQ(d.insn.immediate.size, 8);
    EXPECT_TRUE(d.insn.memory.present);
    EXPECT_EQ(d.insn.memory.base, kNoRegister);
    EXPECT_EQ(u64(d.insn.memory.displacement), 0x1122334455667788u);
    EXPECT_EQ(d.insn.memory_size, 4);
    d = decode(P32, "64 a2 00 00 00 f0");  // mov fs:[0xf0000000], al
    EXPECT_EQ(d.insn.memory.displacement, 0xf0000000);
    EXPECT_EQ(d.insn.memory.segment, Segment::FS);
    EXPECT_EQ(d.insn.memory_size, 1);

    d = decode(L64, "88 e0");  // mov al, ah
    EXPECT_EQ(d.insn.modrm.reg, 4);
    EXPECT_TRUE(is_high_byte_register(d.insn, d.insn.modrm.reg));
    d = decode(L64, "40 88 e0");  // mov al, spl
    EXPECT_FALSE(is_high_byte_register(d.insn, d.insn.modrm.reg));
    d = decode(P32, "0f b6 c7");  // movzx eax, bh
    EXPECT_TRUE(is_high_byte_register(d.insn, d.insn.modrm.rm));
    d = decode(L64, "40 0f b6 c7");  // movzx eax, dil
    EXPECT_FALSE(is_high_byte_register(d.insn, d.insn.modrm.rm));

    d = decode(L64, "0f c9");  // bswap ecx
    EXPECT_EQ(d.insn.opcode_register, 1);
    EXPECT_FALSE(d.insn.modrm.present);
    d = decode(L64, "49 bf 00 00 00 00 00 00 00 00");  // mov r15, imm64
    EXPECT_EQ(d.insn.opcode_register, 15);

    d = decode(L64, "8c d8");  // mov eax, ds
    EXPECT_EQ(d.insn.reg_class, RegisterClass::Segment);
    EXPECT_EQ(d.insn.modrm.reg, 3);
    d = decode(L64, "44 8e d8");  // mov ds, eax: REX.R does not apply to segment registers
    EXPECT_EQ(d.insn.modrm.reg, 3);
    d = decode(L64, "44 0f 20 c0");  // mov rax, cr8
    EXPECT_EQ(d.insn.modrm.reg, 8);
    EXPECT_EQ(d.insn.operand_size, 8);
    EXPECT_FALSE(d.insn.memory.present);
}

TEST(Decoder, VectorPrefixes) {
    Decoded d = decode(L64, "c5 f9 6f 05 00 00 00 00");  // vmovdqa xmm0, [rip]
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.vex.kind, VexKind::Vex2);
    EXPECT_EQ(d.insn.vex.size, 2);
    EXPECT_EQ(d.insn.map, OpcodeMap::TwoByte);
    EXPECT_EQ(d.insn.mandatory_prefix, MandatoryPrefix::P66);
    EXPECT_EQ(d.insn.opcode, 0x6f);
    EXPECT_EQ(d.insn.vex.vvvv, 0);
    EXPECT_TRUE(d.insn.memory.rip_relative);
    EXPECT_EQ(d.insn.kind, InstructionKind::Other);  // the emulator executes legacy SSE only

    d = decode(L64, "c4 41 35 6f c1");  // vmovdqa ymm8, ymm9 (vvvv unused = 1001b inverted)
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.vex.kind, VexKind::Vex3);
    EXPECT_TRUE(d.insn.vex.r);
    EXPECT_TRUE(d.insn.vex.b);
    EXPECT_EQ(d.insn.vex.length, 1);
    EXPECT_EQ(d.insn.vex.vvvv, 9);
    EXPECT_EQ(d.insn.modrm.reg, 8);
    EXPECT_EQ(d.insn.modrm.rm, 9);

    d = decode(L64, "62 f1 fd 48 6f 05 00 00 00 00");  // vmovdqa64 zmm0, [rip]
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.vex.kind, VexKind::Evex);
    EXPECT_EQ(d.insn.vex.size, 4);
    EXPECT_TRUE(d.insn.vex.w);
    EXPECT_EQ(d.insn.vex.length, 2);
    EXPECT_EQ(d.insn.length, 10);

    d = decode(P32, "c5 e8 58 c1");  // vaddps xmm0, xmm2, xmm1 in 32-bit mode
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.vex.vvvv, 2);

    d = decode(P32, "c5 00");  // lds eax, [eax]: mod != 11
    ASSERT_EQ(d.result, DecodeResult::Ok);
    EXPECT_EQ(d.insn.vex.kind, VexKind::None);
    EXPECT_EQ(d.insn.length, 2);

    d = decode(L64, "8f c0");  // pop rax: mmmmm 0 is not XOP
    EXPECT_EQ(d.insn.kind, InstructionKind::Pop);
    EXPECT_EQ(d.insn.operand_size, 8);
    d = decode(L64, "8f ea 78 10 c0 78 56 34 12");  // bextr eax, eax, imm32 (XOP map A)
    EXPECT_EQ(d.insn.vex.kind, VexKind::Xop);
    EXPECT_EQ(d.insn.map, OpcodeMap::XopA);
    EXPECT_EQ(d.insn.immediate.value, 0x12345678u);
}

struct KindCase {
    CpuMode mode;
    const char* bytes;
    InstructionKind kind;
    u8 operand_size;
    u8 memory_size;
};

using K = InstructionKind;

const KindCase kKinds[] = {
    {L64, "88 00", K::Mov, 1, 1},
    {L64, "89 00", K::Mov, 4, 4},
    {L64, "48 8b 00", K::Mov, 8, 8},
    {L64, "66 8b 00", K::Mov, 2, 2},
    {L64, "c6 00 05", K::Mov, 1, 1},
    {L64, "48 c7 00 05 00 00 00", K::Mov, 8, 8},
    {L64, "b0 05", K::Mov, 1, 0},
    {L64, "a3 00 00 00 00 00 00 00 00", K::Mov, 4, 4},
    {L64, "0f b6 00", K::Movzx, 4, 1},
    {L64, "48 0f b7 00", K::Movzx, 8, 2},
    {L64, "0f be 00", K::Movsx, 4, 1},
    {L64, "66 0f bf 00", K::Movsx, 2, 2},
    {L64, "48 63 00", K::Movsxd, 8, 4},
    {L64, "63 00", K::Movsxd, 4, 4},
    {P32, "63 00", K::Other, 2, 0},
    {L64, "0f c3 00", K::Movnti, 4, 4},
    {L64, "48 0f c3 00", K::Movnti, 8, 8},
    {L64, "a4", K::Movs, 1, 1},
    {L64, "66 a5", K::Movs, 2, 2},
    {L64, "aa", K::Stos, 1, 1},
    {L64, "48 ad", K::Lods, 8, 8},
    {L64, "a7", K::Cmps, 4, 4},
    {L64, "ae", K::Scas, 1, 1},
    {L64, "00 00", K::Add, 1, 1},
    {L64, "11 00", K::Adc, 4, 4},
    {L64, "2a 00", K::Sub, 1, 1},
    {L64, "1b 00", K::Sbb, 4, 4},
    {L64, "24 05", K::And, 1, 0},
    {L64, "0d 05 00 00 00", K::Or, 4, 0},
    {L64, "31 00", K::Xor, 4, 4},
    {L64, "3b 00", K::Cmp, 4, 4},
    {L64, "80 38 05", K::Cmp, 1, 1},
    {L64, "81 08 05 00 00 00", K::Or, 4, 4},
    {L64, "83 20 05", K::And, 4, 4},
    {L64, "85 00", K::Test, 4, 4},
    {L64, "f6 00 05", K::Test, 1, 1},
    {L64, "f6 08 05", K::Test, 1, 1},
    {L64, "f7 10", K::Not, 4, 4},
    {L64, "f7 18", K::Neg, 4, 4},
    {L64, "f7 20", K::Other, 4, 0},
    {L64, "fe 00", K::Inc, 1, 1},
    {L64, "ff 08", K::Dec, 4, 4},
    {L64, "0f a3 00", K::Bt, 4, 4},
    {L64, "0f ab 00", K::Bts, 4, 4},
    {L64, "0f b3 00", K::Btr, 4, 4},
    {L64, "0f bb 00", K::Btc, 4, 4},
    {L64, "0f ba 20 01", K::Bt, 4, 4},
    {L64, "0f ba 28 01", K::Bts, 4, 4},
    {L64, "0f ba 30 01", K::Btr, 4, 4},
    {L64, "0f ba 38 01", K::Btc, 4, 4},
    {L64, "86 00", K::Xchg, 1, 1},
    {L64, "87 00", K::Xchg, 4, 4},
    {L64, "91", K::Xchg, 4, 0},
    {L64, "90", K::Other, 4, 0},
    {L64, "41 90", K::Xchg, 4, 0},
    {L64, "f3 90", K::Other, 4, 0},
    {L64, "0f b0 00", K::Cmpxchg, 1, 1},
    {L64, "0f b1 00", K::Cmpxchg, 4, 4},
    {L64, "0f c0 00", K::Xadd, 1, 1},
    {L64, "48 0f c1 00", K::Xadd, 8, 8},
    {L64, "0f 94 00", K::Setcc, 1, 1},
    {L64, "0f 9f c0", K::Setcc, 1, 0},
    {L64, "50", K::Push, 8, 0},
    {L64, "66 50", K::Push, 2, 0},
    {L64, "ff 30", K::Push, 8, 8},
    {L64, "66 ff 30", K::Push, 2, 2},
    {P32, "ff 30", K::Push, 4, 4},
    {L64, "6a 05", K::Push, 8, 0},
    {L64, "8f 00", K::Pop, 8, 8},
    {L64, "58", K::Pop, 8, 0},
    {P16, "8f 06 00 10", K::Pop, 2, 2},
    {L64, "0f 6e 00", K::Movd, 4, 4},
    {L64, "66 0f 6e 00", K::Movd, 4, 4},
    {L64, "66 48 0f 6e 00", K::Movq, 8, 8},
    {L64, "66 0f 7e 00", K::Movd, 4, 4},
    {L64, "f3 0f 7e 00", K::Movq, 8, 8},
    {L64, "66 0f d6 00", K::Movq, 8, 8},
    {L64, "0f 6f 00", K::Movq, 8, 8},
    {L64, "0f 7f 00", K::Movq, 8, 8},
    {L64, "66 0f 6f 00", K::Movdqa, 16, 16},
    {L64, "66 0f 7f 00", K::Movdqa, 16, 16},
    {L64, "f3 0f 6f 00", K::Movdqu, 16, 16},
    {L64, "f3 0f 7f 00", K::Movdqu, 16, 16},
    {L64, "0f 28 00", K::Movaps, 16, 16},
    {L64, "0f 29 00", K::Movaps, 16, 16},
    {L64, "66 0f 28 00", K::Movapd, 16, 16},
    {L64, "0f 10 00", K::Movups, 16, 16},
    {L64, "0f 11 00", K::Movups, 16, 16},
    {L64, "66 0f 11 00", K::Movupd, 16, 16},
    {L64, "f3 0f 10 00", K::Movss, 4, 4},
    {L64, "f2 0f 11 00", K::MovsdXmm, 8, 8},
    {L64, "f2 0f d6 c1", K::Other, 4, 0},
    {L64, "66 0f 6f c1", K::Movdqa, 16, 0},
    {L64, "69 00 05 00 00 00", K::Other, 4, 0},
    {L64, "8d 00", K::Other, 4, 0},
    {L64, "0f 01 10", K::Other, 4, 0},
};

TEST(Decoder, KindsAndSizes) {
    for (const KindCase& c : kKinds) {
        const Decoded d = decode(c.mode, c.bytes);
        SCOPED_TRACE(std::string(mode_name(c.mode)) + ": " + c.bytes);
        ASSERT_EQ(d.result, DecodeResult::Ok);
        EXPECT_STREQ(instruction_kind_name(d.insn.kind), instruction_kind_name(c.kind));
        EXPECT_EQ(d.insn.operand_size, c.operand_size);
        EXPECT_EQ(d.insn.memory_size, c.memory_size);
    }
}

TEST(Decoder, StringOperands) {
    Decoded d = decode(P32, "26 a5");  // movsd es:[esi] -> es:[edi]: override on the source
    EXPECT_EQ(d.insn.memory.base, 6);
    EXPECT_EQ(d.insn.memory.segment, Segment::ES);
    d = decode(P32, "a5");
    EXPECT_EQ(d.insn.memory.segment, Segment::DS);
    d = decode(P32, "64 aa");  // stosb: ES:[edi], no override possible
    EXPECT_EQ(d.insn.memory.base, 7);
    EXPECT_EQ(d.insn.memory.segment, Segment::ES);
    d = decode(P16, "67 f3 a4");  // rep movsb with 32-bit addressing
    EXPECT_EQ(d.insn.address_size, 4);
    EXPECT_TRUE(d.insn.prefixes.rep);
    d = decode(L64, "f2 ae");  // repne scasb
    EXPECT_TRUE(d.insn.prefixes.repne);
    EXPECT_EQ(d.insn.kind, InstructionKind::Scas);
}

TEST(Decoder, ModesSizes) {
    EXPECT_EQ(decode(R16, "8b 00").insn.operand_size, 2);
    EXPECT_EQ(decode(R16, "8b 00").insn.address_size, 2);
    EXPECT_EQ(decode(P16, "66 67 8b 00").insn.operand_size, 4);
    EXPECT_EQ(decode(P16, "66 67 8b 00").insn.address_size, 4);
    EXPECT_EQ(decode(P32, "8b 00").insn.operand_size, 4);
    EXPECT_EQ(decode(P32, "67 8b 00").insn.address_size, 2);
    EXPECT_EQ(decode(L64, "8b 00").insn.address_size, 8);
    EXPECT_EQ(decode(L64, "67 8b 00").insn.address_size, 4);
    EXPECT_EQ(decode(L64, "e8 00 00 00 00").insn.operand_size, 8);
    EXPECT_EQ(decode(L64, "0f 20 c0").insn.operand_size, 8);
    EXPECT_EQ(decode(P32, "66 0f 20 c0").insn.operand_size, 4);
}

TEST(Decoder, Names) {
    EXPECT_STREQ(decode_result_name(DecodeResult::Ok), "Ok");
    EXPECT_STREQ(decode_result_name(DecodeResult::NeedMoreBytes), "NeedMoreBytes");
    EXPECT_STREQ(decode_result_name(DecodeResult::TooLong), "TooLong");
    EXPECT_STREQ(decode_result_name(DecodeResult::Invalid), "Invalid");
    EXPECT_STREQ(instruction_kind_name(InstructionKind::Other), "Other");
    EXPECT_STREQ(instruction_kind_name(InstructionKind::Cmpxchg), "Cmpxchg");
    EXPECT_STREQ(instruction_kind_name(InstructionKind::MovsdXmm), "MovsdXmm");
}

TEST(Decoder, FailureResetsTheOutput) {
    DecodedInstruction insn;
    const u8 mov[] = {0x8b, 0x00};
    ASSERT_EQ(decode_instruction(mov, sizeof mov, CpuMode::Long64, insn), DecodeResult::Ok);
    const u8 ud2[] = {0x0f, 0x0b};
    EXPECT_EQ(decode_instruction(ud2, sizeof ud2, CpuMode::Long64, insn), DecodeResult::Invalid);
    EXPECT_EQ(insn.length, 0);
    EXPECT_EQ(insn.kind, InstructionKind::Other);
    EXPECT_FALSE(insn.modrm.present);
}

}  // namespace
