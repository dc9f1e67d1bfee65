// Integer ALU with the processor's flags (SDM vol. 1 3.4.3.1 and appendix A "EFLAGS
// Cross-Reference"; SDM vol. 2 per instruction; AMD APM vol. 3 appendix C "Instruction
// Effects on RFLAGS").
//
// Every status flag is computed from the operands and the truncated result with the
// carry-chain identities below, so one code path serves all four sizes without a wider
// integer type (the identities are what a ripple-carry adder computes):
//
//   carries  c = (d & s) | ((d | s) & ~r)     bit i: carry out of bit i of d + s + cin
//   borrows  b = (~d & s) | (~(d ^ s) & r)    bit i: borrow out of bit i of d - s - bin
//
// (For bit i, r_i = d_i ^ s_i ^ in_i: where exactly one of d_i, s_i (for subtraction:
// of ~d_i, s_i) is set, the carry out equals the carry in, which is ~r_i for addition
// and r_i for subtraction.) CF is the carry/borrow out of the top bit, AF the one out of
// bit 3 (equal to bit 4 of d ^ s ^ r), OF the carry into the top bit differing from the
// carry out of it, i.e. the top bit of (d ^ r) & (s ^ r) for addition and of
// (d ^ s) & (d ^ r) for subtraction.
//
// Flags the SDM leaves undefined, and what this ALU does with them. Each choice is what
// an Intel Xeon host does (measured with 100000 random operands and random incoming
// flags, and re-checked on every run of the differential tests in tests/emulator, which
// compare these flags with whatever CPU runs them, so an AMD host that differs fails
// there rather than going unnoticed):
//
//   instruction        flag            SDM               here (= hardware)
//   AND OR XOR TEST    AF              undefined         cleared (APM vol. 3 app. C: undefined)
//   BT BTS BTR BTC     OF SF AF PF     undefined         unchanged
//   BT BTS BTR BTC     ZF              unaffected        unchanged (SDM vol. 2 BT leaves ZF
//                                                        alone; the APM calls it undefined)
//
// No other flag written by these operations is undefined: NEG sets CF = (source != 0)
// and the rest like 0 - source; INC/DEC leave CF; NOT changes no flag.
#include "kernel/emulator/alu.hpp"

namespace {

// The status flags (SDM vol. 1 3.4.3.1); emulator.hpp names the same bits kRflags*, but
// the ALU does not depend on the emulator.
constexpr u64 kAluCf = 1ull << 0;
constexpr u64 kAluPf = 1ull << 2;
constexpr u64 kAluAf = 1ull << 4;
constexpr u64 kAluZf = 1ull << 6;
constexpr u64 kAluSf = 1ull << 7;
constexpr u64 kAluOf = 1ull << 11;
constexpr u64 kAluStatus = kAluCf | kAluPf | kAluAf | kAluZf | kAluSf | kAluOf;

u64 size_mask(u8 size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

u64 sign_bit(u8 size) { return 1ull << (8 * size - 1); }

// PF: set when the low byte of the result has an even number of set bits (SDM vol. 1
// 3.4.3.1), whatever the operand size.
bool even_parity(u64 value) { return (__builtin_popcount(static_cast<u32>(value & 0xff)) & 1) == 0; }

// ZF, SF and PF from the (truncated) result; the caller supplies CF, AF and OF.
u64 result_flags(u64 result, u8 size, bool cf, bool af, bool of) {
    u64 flags = 0;
    if (cf) flags |= kAluCf;
    if (even_parity(result)) flags |= kAluPf;
    if (af) flags |= kAluAf;
    if (result == 0) flags |= kAluZf;
    if (result & sign_bit(size)) flags |= kAluSf;
    if (of) flags |= kAluOf;
    return flags;
}

struct Arith {
    u64 value;
    u64 flags;  // all six status flags
};

// d + s + carry_in, truncated to size.
Arith add(u64 d, u64 s, bool carry_in, u8 size) {
    const u64 mask = size_mask(size);
    const u64 r = (d + s + (carry_in ? 1 : 0)) & mask;
    const u64 carries = (d & s) | ((d | s) & ~r);
    const u64 sign = sign_bit(size);
    return {r, result_flags(r, size, (carries & sign) != 0, (carries & 0x8) != 0, ((d ^ r) & (s ^ r) & sign) != 0)};
}

// d - s - borrow_in, truncated to size.
Arith sub(u64 d, u64 s, bool borrow_in, u8 size) {
    const u64 mask = size_mask(size);
    const u64 r = (d - s - (borrow_in ? 1 : 0)) & mask;
    const u64 borrows = (~d & s) | (~(d ^ s) & r);
    const u64 sign = sign_bit(size);
    return {r, result_flags(r, size, (borrows & sign) != 0, (borrows & 0x8) != 0, ((d ^ s) & (d ^ r) & sign) != 0)};
}

// AND/OR/XOR/TEST: CF = OF = 0, AF = 0 (undefined; see the table above).
Arith logic(u64 r, u8 size) { return {r, result_flags(r, size, false, false, false)}; }

}  // namespace

AluResult alu_execute(AluOp op, u64 dest, u64 source, u8 size, u64 rflags) {
    const u64 mask = size_mask(size);
    dest &= mask;
    source &= mask;
    const bool cf_in = (rflags & kAluCf) != 0;

    // The flags an operation writes; the others keep their incoming values.
    u64 written = kAluStatus;
    Arith a{dest, 0};
    bool write = true;
    switch (op) {
        case AluOp::Add: a = add(dest, source, false, size); break;
        case AluOp::Adc: a = add(dest, source, cf_in, size); break;
        case AluOp::Sub: a = sub(dest, source, false, size); break;
        case AluOp::Sbb: a = sub(dest, source, cf_in, size); break;
        case AluOp::Cmp:
            a = sub(dest, source, false, size);
            write = false;
            break;
        case AluOp::And: a = logic(dest & source, size); break;
        case AluOp::Or: a = logic(dest | source, size); break;
        case AluOp::Xor: a = logic(dest ^ source, size); break;
        case AluOp::Test:
            a = logic(dest & source, size);
            write = false;
            break;
        // INC/DEC leave CF as it was (SDM vol. 2 INC, DEC).
        case AluOp::Inc:
            a = add(dest, 1, false, size);
            written &= ~kAluCf;
            break;
        case AluOp::Dec:
            a = sub(dest, 1, false, size);
            written &= ~kAluCf;
            break;
        // NEG: 0 - dest; CF = (dest != 0) is exactly the borrow of that subtraction.
        case AluOp::Neg: a = sub(0, dest, false, size); break;
        case AluOp::Not:
            a = {~dest & mask, 0};
            written = 0;
            break;
        // BT family: CF = the selected bit before the change; the other status flags are
        // left as they were (see the table above).
        case AluOp::Bt:
        case AluOp::Bts:
        case AluOp::Btr:
        case AluOp::Btc: {
            const u64 bit = 1ull << (source & (8 * size - 1));
            a.flags = (dest & bit) ? kAluCf : 0;
            written = kAluCf;
            if (op == AluOp::Bt) write = false;
            if (op == AluOp::Bts) a.value = dest | bit;
            if (op == AluOp::Btr) a.value = dest & ~bit;
            if (op == AluOp::Btc) a.value = dest ^ bit;
            break;
        }
    }

    AluResult out;
    out.value = a.value & mask;
    out.rflags = (rflags & ~written) | (a.flags & written);
    out.write = write;
    if (!write) out.value = dest;
    return out;
}

bool condition_holds(u8 cc, u64 rflags) {
    const bool cf = (rflags & kAluCf) != 0;
    const bool pf = (rflags & kAluPf) != 0;
    const bool zf = (rflags & kAluZf) != 0;
    const bool sf = (rflags & kAluSf) != 0;
    const bool of = (rflags & kAluOf) != 0;
    // Even codes test a condition, odd codes its negation (SDM vol. 2 appendix B.1.4.7).
    bool holds = false;
    switch ((cc >> 1) & 7) {
        case 0: holds = of; break;                // O
        case 1: holds = cf; break;                // B / C / NAE
        case 2: holds = zf; break;                // E / Z
        case 3: holds = cf || zf; break;          // BE / NA
        case 4: holds = sf; break;                // S
        case 5: holds = pf; break;                // P / PE
        case 6: holds = sf != of; break;          // L / NGE
        case 7: holds = zf || (sf != of); break;  // LE / NG
    }
    return (cc & 1) ? !holds : holds;
}
