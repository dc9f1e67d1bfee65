#include "kernel/emulator/alu.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace {

constexpr u64 CF = 1ull << 0;
constexpr u64 PF = 1ull << 2;
constexpr u64 AF = 1ull << 4;
constexpr u64 ZF = 1ull << 6;
constexpr u64 SF = 1ull << 7;
constexpr u64 OF = 1ull << 11;
constexpr u64 kStatus = CF | PF | AF | ZF | SF | OF;
// Non-status bits that must pass through untouched: the reserved 1, IF, DF.
constexpr u64 kOther = 2 | (1ull << 9) | (1ull << 10);

struct AluCase {
    const char* what;
    AluOp op;
    u8 size;
    u64 dest;
    u64 source;
    u64 flags_in;  // status flags in (kOther is added)
    u64 value;     // expected result (dest for Cmp/Test/Bt)
    u64 flags;     // expected status flags
    bool write;
};

// Each expected value worked out by hand: CF carry/borrow out of the top bit, PF even
// parity of the low byte, AF carry/borrow out of bit 3, ZF, SF top bit, OF signed
// overflow.
constexpr AluCase kCases[] = {
    // ADD: sign overflow, unsigned wrap, AF alone, every size.
    {"add8 7f+1", AluOp::Add, 1, 0x7f, 1, 0, 0x80, AF | SF | OF, true},
    {"add8 ff+1", AluOp::Add, 1, 0xff, 1, 0, 0x00, CF | PF | AF | ZF, true},
    {"add8 08+08 AF only", AluOp::Add, 1, 0x08, 0x08, 0, 0x10, AF, true},
    {"add8 80+80", AluOp::Add, 1, 0x80, 0x80, 0, 0x00, CF | PF | ZF | OF, true},
    {"add8 flags in ignored", AluOp::Add, 1, 0x01, 0x02, kStatus, 0x03, PF, true},
    {"add16 7fff+1", AluOp::Add, 2, 0x7fff, 1, 0, 0x8000, PF | AF | SF | OF, true},
    {"add16 ffff+ffff", AluOp::Add, 2, 0xffff, 0xffff, 0, 0xfffe, CF | AF | SF, true},
    {"add32 ffffffff+1", AluOp::Add, 4, 0xffffffff, 1, 0, 0, CF | PF | AF | ZF, true},
    {"add32 7fffffff+1", AluOp::Add, 4, 0x7fffffff, 1, 0, 0x80000000, PF | AF | SF | OF, true},
    {"add64 7fff..+1", AluOp::Add, 8, 0x7fffffffffffffff, 1, 0, 0x8000000000000000, PF | AF | SF | OF, true},
    {"add64 8000..+8000..", AluOp::Add, 8, 0x8000000000000000, 0x8000000000000000, 0, 0, CF | PF | ZF | OF, true},
    {"add64 ffff..+1", AluOp::Add, 8, ~0ull, 1, 0, 0, CF | PF | AF | ZF, true},
    // ADC: the carry in counts in CF, AF and OF.
    {"adc8 ff+0+1", AluOp::Adc, 1, 0xff, 0, CF, 0x00, CF | PF | AF | ZF, true},
    {"adc8 7f+0+1", AluOp::Adc, 1, 0x7f, 0, CF, 0x80, AF | SF | OF, true},
    {"adc8 07+08+1 AF", AluOp::Adc, 1, 0x07, 0x08, CF, 0x10, AF, true},
    {"adc8 no carry in", AluOp::Adc, 1, 0x7f, 0, 0, 0x7f, 0, true},
    {"adc16 1234+1111", AluOp::Adc, 2, 0x1234, 0x1111, 0, 0x2345, 0, true},
    {"adc32 ffffffff+ffffffff+1", AluOp::Adc, 4, 0xffffffff, 0xffffffff, CF, 0xffffffff, CF | PF | AF | SF, true},
    {"adc64 ff..+ff..+1", AluOp::Adc, 8, ~0ull, ~0ull, CF, ~0ull, CF | PF | AF | SF, true},
    {"adc64 0+ff..+1", AluOp::Adc, 8, 0, ~0ull, CF, 0, CF | PF | AF | ZF, true},
    // SUB: borrows through AF, signed overflow both ways.
    {"sub8 80-1", AluOp::Sub, 1, 0x80, 1, 0, 0x7f, AF | OF, true},
    {"sub8 0-1", AluOp::Sub, 1, 0x00, 1, 0, 0xff, CF | PF | AF | SF, true},
    {"sub8 7f-ff", AluOp::Sub, 1, 0x7f, 0xff, 0, 0x80, CF | SF | OF, true},
    {"sub8 10-1 AF", AluOp::Sub, 1, 0x10, 1, 0, 0x0f, PF | AF, true},
    {"sub8 x-x", AluOp::Sub, 1, 0x5a, 0x5a, kStatus, 0, PF | ZF, true},
    {"sub16 8000-1", AluOp::Sub, 2, 0x8000, 1, 0, 0x7fff, PF | AF | OF, true},
    {"sub32 0-1", AluOp::Sub, 4, 0, 1, 0, 0xffffffff, CF | PF | AF | SF, true},
    {"sub32 80000000-1", AluOp::Sub, 4, 0x80000000, 1, 0, 0x7fffffff, PF | AF | OF, true},
    {"sub64 0-1", AluOp::Sub, 8, 0, 1, 0, ~0ull, CF | PF | AF | SF, true},
    {"sub64 8000..-1", AluOp::Sub, 8, 0x8000000000000000, 1, 0, 0x7fffffffffffffff, PF | AF | OF, true},
    {"sub64 1-8000..", AluOp::Sub, 8, 1, 0x8000000000000000, 0, 0x8000000000000001, CF | SF | OF, true},
    // SBB: the borrow in counts.
    {"sbb8 0-0-1", AluOp::Sbb, 1, 0, 0, CF, 0xff, CF | PF | AF | SF, true},
    {"sbb8 80-7f-1", AluOp::Sbb, 1, 0x80, 0x7f, CF, 0x00, PF | AF | ZF | OF, true},
    {"sbb8 no borrow in", AluOp::Sbb, 1, 0x80, 0x7f, 0, 0x01, AF | OF, true},
    {"sbb16 0-ffff-1", AluOp::Sbb, 2, 0, 0xffff, CF, 0, CF | PF | AF | ZF, true},
    {"sbb32 10-0-1", AluOp::Sbb, 4, 0x10, 0, CF, 0x0f, PF | AF, true},
    {"sbb64 0-ff..-1", AluOp::Sbb, 8, 0, ~0ull, CF, 0, CF | PF | AF | ZF, true},
    // CMP: SUB's flags, no write.
    {"cmp8 5-7", AluOp::Cmp, 1, 5, 7, 0, 5, CF | AF | SF, false},
    {"cmp8 equal", AluOp::Cmp, 1, 0x42, 0x42, CF, 0x42, PF | ZF, false},
    {"cmp32 80000000-1", AluOp::Cmp, 4, 0x80000000, 1, 0, 0x80000000, PF | AF | OF, false},
    {"cmp64 1-2", AluOp::Cmp, 8, 1, 2, 0, 1, CF | PF | AF | SF, false},
    // Logic: CF and OF cleared, AF cleared (undefined; the host's choice).
    {"and8 f0&0f", AluOp::And, 1, 0xf0, 0x0f, kStatus, 0, PF | ZF, true},
    {"and16 ffff&8001", AluOp::And, 2, 0xffff, 0x8001, kStatus, 0x8001, SF, true},
    {"or16 8000|0001", AluOp::Or, 2, 0x8000, 0x0001, 0, 0x8001, SF, true},
    {"or32 0|0", AluOp::Or, 4, 0, 0, CF | OF | AF, 0, PF | ZF, true},
    {"xor64 x^x", AluOp::Xor, 8, 0x123456789abcdef0, 0x123456789abcdef0, kStatus, 0, PF | ZF, true},
    {"xor32 80000000^0", AluOp::Xor, 4, 0x80000000, 0, 0, 0x80000000, PF | SF, true},
    {"xor8 parity odd", AluOp::Xor, 1, 0x01, 0x03, 0, 0x02, 0, true},
    {"test8 80&ff", AluOp::Test, 1, 0x80, 0xff, CF | OF, 0x80, SF, false},
    {"test64 disjoint", AluOp::Test, 8, 0xff00, 0x00ff, 0, 0xff00, PF | ZF, false},
    // INC/DEC: CF passes through whatever it was.
    {"inc8 ff CF=1", AluOp::Inc, 1, 0xff, 0, CF, 0x00, CF | PF | AF | ZF, true},
    {"inc8 ff CF=0", AluOp::Inc, 1, 0xff, 0, 0, 0x00, PF | AF | ZF, true},
    {"inc8 7f", AluOp::Inc, 1, 0x7f, 0, 0, 0x80, AF | SF | OF, true},
    {"inc16 7fff CF=1", AluOp::Inc, 2, 0x7fff, 0, CF, 0x8000, CF | PF | AF | SF | OF, true},
    {"inc32 ffffffff", AluOp::Inc, 4, 0xffffffff, 0, 0, 0, PF | AF | ZF, true},
    {"inc64 7fff..", AluOp::Inc, 8, 0x7fffffffffffffff, 0, 0, 0x8000000000000000, PF | AF | SF | OF, true},
    {"dec8 80", AluOp::Dec, 1, 0x80, 0, 0, 0x7f, AF | OF, true},
    {"dec8 80 CF=1", AluOp::Dec, 1, 0x80, 0, CF, 0x7f, CF | AF | OF, true},
    {"dec16 0", AluOp::Dec, 2, 0, 0, 0, 0xffff, PF | AF | SF, true},
    {"dec32 1", AluOp::Dec, 4, 1, 0, CF | SF, 0, CF | PF | ZF, true},
    {"dec64 0", AluOp::Dec, 8, 0, 0, 0, ~0ull, PF | AF | SF, true},
    // NEG: CF = (source != 0); OF for the most negative value.
    {"neg8 0", AluOp::Neg, 1, 0, 0, CF, 0, PF | ZF, true},
    {"neg8 80", AluOp::Neg, 1, 0x80, 0, 0, 0x80, CF | SF | OF, true},
    {"neg8 1", AluOp::Neg, 1, 1, 0, 0, 0xff, CF | PF | AF | SF, true},
    {"neg16 8000", AluOp::Neg, 2, 0x8000, 0, 0, 0x8000, CF | PF | SF | OF, true},
    {"neg32 80000000", AluOp::Neg, 4, 0x80000000, 0, 0, 0x80000000, CF | PF | SF | OF, true},
    {"neg64 10", AluOp::Neg, 8, 0x10, 0, 0, 0xfffffffffffffff0, CF | PF | SF, true},
    {"neg64 ff..", AluOp::Neg, 8, ~0ull, 0, 0, 1, CF | AF, true},
    // NOT: no flag changes, whatever comes in.
    {"not8", AluOp::Not, 1, 0x0f, 0, kStatus, 0xf0, kStatus, true},
    {"not16", AluOp::Not, 2, 0x00ff, 0, 0, 0xff00, 0, true},
    {"not32", AluOp::Not, 4, 0, 0, ZF, 0xffffffff, ZF, true},
    {"not64", AluOp::Not, 8, 0x8000000000000000, 0, CF | OF, 0x7fffffffffffffff, CF | OF, true},
    // BT*: CF = old bit, everything else unchanged; the offset is taken modulo the width.
    {"bt32 bit31 set", AluOp::Bt, 4, 0x80000000, 31, PF | AF | ZF | SF | OF, 0x80000000, kStatus, false},
    {"bt16 bit1 clear", AluOp::Bt, 2, 0x0001, 1, kStatus, 0x0001, kStatus & ~CF, false},
    {"bt16 offset mod 16", AluOp::Bt, 2, 0x0002, 17, 0, 0x0002, CF, false},
    {"bt8 bit0", AluOp::Bt, 1, 0x01, 0, 0, 0x01, CF, false},
    {"bts64 bit63", AluOp::Bts, 8, 0, 63, CF | ZF, 0x8000000000000000, ZF, true},
    {"bts64 already set", AluOp::Bts, 8, 0x8000000000000000, 63, 0, 0x8000000000000000, CF, true},
    {"btr8 bit7", AluOp::Btr, 1, 0xff, 7, 0, 0x7f, CF, true},
    {"btr32 clear bit", AluOp::Btr, 4, 0xfffffffe, 0, CF | SF, 0xfffffffe, SF, true},
    {"btc16 bit15", AluOp::Btc, 2, 0x00ff, 15, OF, 0x80ff, OF, true},
    {"btc64 bit32", AluOp::Btc, 8, 0xffffffffffffffff, 32, 0, 0xfffffffeffffffff, CF, true},
};

class AluExecuteTest : public testing::TestWithParam<AluCase> {};

TEST_P(AluExecuteTest, ValueAndFlags) {
    const AluCase& c = GetParam();
    const AluResult r = alu_execute(c.op, c.dest, c.source, c.size, c.flags_in | kOther);
    EXPECT_EQ(r.value, c.value) << c.what;
    EXPECT_EQ(r.rflags & kStatus, c.flags) << c.what << std::hex << " got " << (r.rflags & kStatus);
    EXPECT_EQ(r.rflags & ~kStatus, kOther) << c.what;
    EXPECT_EQ(r.write, c.write) << c.what;
}

std::string case_name(const testing::TestParamInfo<AluCase>& info) {
    std::string name;
    for (const char* p = info.param.what; *p; ++p) name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return name + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Alu, AluExecuteTest, testing::ValuesIn(kCases), case_name);

// Every 8-bit ADD/ADC/SUB/SBB/CMP/INC/DEC/NEG against the definitions computed with
// plain int arithmetic (a different method from the carry-chain identities in alu.cpp).
TEST(AluExhaustive, Arithmetic8) {
    for (int d = 0; d < 256; ++d) {
        for (int s = 0; s < 256; ++s) {
            for (int cin = 0; cin < 2; ++cin) {
                const auto sx = [](int v) { return v >= 0x80 ? v - 0x100 : v; };
                struct Ref {
                    AluOp op;
                    int a, b, c;  // a + b + c, or a - b - c
                    bool subtract;
                };
                const Ref refs[] = {{AluOp::Add, d, s, 0, false}, {AluOp::Adc, d, s, cin, false},
                                    {AluOp::Sub, d, s, 0, true},  {AluOp::Sbb, d, s, cin, true},
                                    {AluOp::Cmp, d, s, 0, true},  {AluOp::Neg, 0, d, 0, true}};
                for (const Ref& ref : refs) {
                    const int u = ref.subtract ? ref.a - ref.b - ref.c : ref.a + ref.b + ref.c;
                    const int sgn = ref.subtract ? sx(ref.a) - sx(ref.b) - ref.c : sx(ref.a) + sx(ref.b) + ref.c;
                    const int nib =
                        ref.subtract ? (ref.a & 15) - (ref.b & 15) - ref.c : (ref.a & 15) + (ref.b & 15) + ref.c;
                    const u64 r = static_cast<u64>(u) & 0xff;
                    u64 want = 0;
                    if (u < 0 || u > 0xff) want |= CF;
                    if ((__builtin_popcount(static_cast<unsigned>(r)) & 1) == 0) want |= PF;
                    if (nib < 0 || nib > 15) want |= AF;
                    if (r == 0) want |= ZF;
                    if (r & 0x80) want |= SF;
                    if (sgn < -128 || sgn > 127) want |= OF;
                    const AluResult got =
                        alu_execute(ref.op, static_cast<u64>(d), static_cast<u64>(s), 1, cin ? CF | kOther : kOther);
                    if (ref.op != AluOp::Cmp) ASSERT_EQ(got.value, r) << int(ref.op) << " " << d << " " << s;
                    ASSERT_EQ(got.rflags & kStatus, want) << int(ref.op) << " " << d << " " << s << " cin " << cin;
                }
            }
        }
    }
}

// 16 conditions over the flag combinations that separate them.
struct ConditionCase {
    u8 cc;
    u64 flags;
    bool holds;
};

constexpr ConditionCase kConditions[] = {
    {0x0, 0, false},
    {0x0, OF, true},
    {0x1, 0, true},
    {0x1, OF, false},  // O NO
    {0x2, 0, false},
    {0x2, CF, true},
    {0x3, CF, false},
    {0x3, ZF, true},  // B AE
    {0x4, 0, false},
    {0x4, ZF, true},
    {0x5, ZF, false},
    {0x5, CF, true},  // E NE
    {0x6, 0, false},
    {0x6, CF, true},
    {0x6, ZF, true},
    {0x6, CF | ZF, true},
    {0x7, 0, true},
    {0x7, CF, false},
    {0x7, ZF, false},
    {0x7, SF | OF | PF, true},  // BE A
    {0x8, 0, false},
    {0x8, SF, true},
    {0x9, SF, false},
    {0x9, OF, true},  // S NS
    {0xa, 0, false},
    {0xa, PF, true},
    {0xb, PF, false},
    {0xb, kStatus & ~PF, true},  // P NP
    {0xc, 0, false},
    {0xc, SF, true},
    {0xc, OF, true},
    {0xc, SF | OF, false},  // L
    {0xd, 0, true},
    {0xd, SF, false},
    {0xd, OF, false},
    {0xd, SF | OF, true},  // GE
    {0xe, 0, false},
    {0xe, ZF, true},
    {0xe, SF, true},
    {0xe, SF | OF, false},  // LE
    {0xe, ZF | SF | OF, true},
    {0xf, 0, true},
    {0xf, ZF, false},
    {0xf, SF, false},  // G
    {0xf, OF, false},
    {0xf, SF | OF, true},
    {0xf, CF | PF | AF, true},
};

TEST(AluCondition, AllSixteen) {
    bool seen_true[16] = {}, seen_false[16] = {};
    for (const ConditionCase& c : kConditions) {
        EXPECT_EQ(condition_holds(c.cc, c.flags | kOther), c.holds)
            << "cc " << int(c.cc) << " flags " << std::hex << c.flags;
        (c.holds ? seen_true : seen_false)[c.cc] = true;
    }
    for (int cc = 0; cc < 16; ++cc) EXPECT_TRUE(seen_true[cc] && seen_false[cc]) << "cc " << cc << " not covered";
}

// Odd codes are exactly the negation of the even code before them, for every flag set.
TEST(AluCondition, OddNegatesEven) {
    for (u64 bits = 0; bits < 64; ++bits) {
        const u64 flags = ((bits & 1) ? CF : 0) | ((bits & 2) ? PF : 0) | ((bits & 4) ? AF : 0) |
                          ((bits & 8) ? ZF : 0) | ((bits & 16) ? SF : 0) | ((bits & 32) ? OF : 0);
        for (u8 cc = 0; cc < 16; cc += 2) EXPECT_NE(condition_holds(cc, flags), condition_holds(cc + 1, flags));
    }
}

}  // namespace
