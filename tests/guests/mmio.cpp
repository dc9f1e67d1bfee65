// Emulated MMIO: the guest drives Vireo's test MMIO device (kernel/vm/devices/
// test_mmio_device.hpp, at 0xfe000000) with every instruction class the emulator
// executes. Each instruction runs twice, once on an ordinary RAM buffer (executed by the
// CPU itself) and once on the device's scratch area (a nested page fault, emulated by
// Vireo): registers, flags and memory must come out the same. The device also reports the
// size and direction of the last bus access, so a 4-byte MOV must be one 4-byte access.
#include "tests/guests/lib/guest.hpp"

namespace {

constexpr uint32_t kDevice = 0xfe000000;
constexpr uint32_t kScratch = kDevice + 0x100;  // 16-byte aligned
constexpr uint32_t kId = kDevice + 0x800;
constexpr uint32_t kAccessCount = kDevice + 0x808;
constexpr uint32_t kLastAccess = kDevice + 0x810;
constexpr uint32_t kReadCounter = kDevice + 0x820;
constexpr uint32_t kStatusFlags = 0x8d5;  // OF SF ZF AF PF CF
constexpr uint32_t kAf = 0x10;

volatile uint32_t* reg32(uint32_t address) { return reinterpret_cast<volatile uint32_t*>(address); }
volatile uint8_t* scratch() { return reinterpret_cast<volatile uint8_t*>(kScratch); }

// offset | size << 16 | write << 24 of the last scratch access.
uint32_t last_access() { return *reg32(kLastAccess); }
uint32_t access(uint32_t offset, uint32_t size, bool write) { return offset | size << 16 | uint32_t(write) << 24; }

struct Outcome {
    uint32_t eax, ecx, edx, flags;
    uint8_t memory[16];
};

// One instruction over the 16 bytes at EBX, with EAX/ECX/EDX/EFLAGS as inputs.
using Runner = void (*)(uint8_t* memory, uint32_t eax, uint32_t ecx, uint32_t flags, Outcome& out);

#define RUNNER(insn)                                                                   \
    [](uint8_t* memory, uint32_t eax, uint32_t ecx, uint32_t flags_in, Outcome& out) { \
        uint32_t edx = 0x55aa55aa, flags;                                              \
        asm volatile("pushl %[in]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[out]"       \
                     : [out] "=&r"(flags), "+a"(eax), "+c"(ecx), "+d"(edx)             \
                     : [in] "r"(flags_in), "b"(memory)                                 \
                     : "memory", "cc");                                                \
        out.eax = eax;                                                                 \
        out.ecx = ecx;                                                                 \
        out.edx = edx;                                                                 \
        out.flags = flags;                                                             \
    }

uint8_t g_ram[16] __attribute__((aligned(16)));

uint32_t load32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

// Dword accesses keep the number of emulated exits (about 20 us each under QEMU) down.
void fill(volatile uint8_t* dst, const uint8_t* pattern) {
    for (int i = 0; i < 16; i += 4) *reinterpret_cast<volatile uint32_t*>(dst + i) = load32(pattern + i);
}

void copy_out(const volatile uint8_t* src, uint8_t* out) {
    for (int i = 0; i < 16; i += 4) {
        const uint32_t v = *reinterpret_cast<const volatile uint32_t*>(src + i);
        for (int j = 0; j < 4; ++j) out[i + j] = uint8_t(v >> (8 * j));
    }
}

// Runs `run` on RAM and on the device with the same inputs; compares everything the
// instruction defines (`flag_mask`: the status flags it defines).
bool same_on_ram_and_mmio(Runner run, const uint8_t* pattern, uint32_t eax, uint32_t ecx, uint32_t flags,
                          uint32_t flag_mask) {
    Outcome native, emulated;
    fill(g_ram, pattern);
    run(g_ram, eax, ecx, flags, native);
    copy_out(g_ram, native.memory);
    fill(scratch(), pattern);
    run(const_cast<uint8_t*>(scratch()), eax, ecx, flags, emulated);
    copy_out(scratch(), emulated.memory);
    bool same = native.eax == emulated.eax && native.ecx == emulated.ecx && native.edx == emulated.edx &&
                ((native.flags ^ emulated.flags) & flag_mask) == 0;
    for (int i = 0; i < 16; ++i) same &= native.memory[i] == emulated.memory[i];
    if (!same)
        print("  native eax %08x ecx %08x edx %08x fl %03x | emulated eax %08x ecx %08x edx %08x fl %03x\n", native.eax,
              native.ecx, native.edx, native.flags & 0xfff, emulated.eax, emulated.ecx, emulated.edx,
              emulated.flags & 0xfff);
    return same;
}

// Several operand values and flag inputs per instruction.
bool same_for_many_values(Runner run, uint32_t flag_mask) {
    static const uint32_t values[] = {0, 1, 0x7f, 0x80, 0x8000, 0x7fffffff, 0x80000000, 0xffffffff, 0xdeadbeef};
    static const uint32_t flag_inputs[] = {0x2, 0x8d7};
    bool all = true;
    uint32_t seed = 0x9e3779b9;
    for (uint32_t a : values) {
        for (uint32_t b : values) {
            uint8_t pattern[16];
            for (int i = 0; i < 16; ++i) {
                seed = seed * 1103515245 + 12345;
                pattern[i] = uint8_t(seed >> 16);
            }
            for (int i = 0; i < 4; ++i) pattern[i] = uint8_t(b >> (8 * i));
            for (uint32_t flags : flag_inputs) all &= same_on_ram_and_mmio(run, pattern, a, a ^ b, flags, flag_mask);
        }
    }
    return all;
}

#define SAME(insn, mask, what) CHECK(same_for_many_values(RUNNER(insn), mask), what " matches the CPU")

void check_moves() {
    CHECK(*reg32(kId) == 0x4f494d56, "the device ID reads back through a 32-bit MOV");
    uint32_t id = 0;
    asm volatile("movl 0xfe000800, %0" : "=a"(id));  // A1: MOV EAX, moffs32
    CHECK(id == 0x4f494d56, "MOV EAX, moffs32 reads the ID (%#x)", id);

    asm volatile("movb $0x11, (%0)" ::"r"(kScratch) : "memory");
    CHECK(last_access() == access(0x100, 1, true), "MOV m8, imm8 is one 1-byte write (%#x)", last_access());
    asm volatile("movw $0x2233, 2(%0)" ::"r"(kScratch) : "memory");
    CHECK(last_access() == access(0x102, 2, true), "MOV m16, imm16 is one 2-byte write (%#x)", last_access());
    asm volatile("movl $0x44556677, 4(%0)" ::"r"(kScratch) : "memory");
    CHECK(last_access() == access(0x104, 4, true), "MOV m32, imm32 is one 4-byte write (%#x)", last_access());
    uint32_t low = 0, high = 0;
    asm volatile("movl (%2), %0\n\tmovl 4(%2), %1" : "=&r"(low), "=&r"(high) : "r"(kScratch));
    CHECK(low == 0x22330011 && high == 0x44556677, "the bytes written read back (%#x %#x)", low, high);
    CHECK(last_access() == access(0x104, 4, false), "MOV r32, m32 is one 4-byte read");

    uint32_t eax = 0x0000ab00;
    asm volatile("movb %%ah, 8(%1)" ::"a"(eax), "r"(kScratch) : "memory");
    CHECK(scratch()[8] == 0xab, "MOV m8, AH stores the high byte");
    eax = 0x12345678;
    asm volatile("movb 8(%1), %%ah" : "+a"(eax) : "r"(kScratch));
    CHECK(eax == 0x1234ab78, "MOV AH, m8 changes only AH (%#x)", eax);
    eax = 0xffffffff;
    asm volatile("movw 2(%1), %%ax" : "+a"(eax) : "r"(kScratch));
    CHECK(eax == 0xffff2233, "MOV AX, m16 keeps the upper half of EAX (%#x)", eax);

    scratch()[12] = 0x80;
    scratch()[13] = 0xff;
    uint32_t zx = 0, sx = 0, zxw = 0, sxw = 0;
    asm volatile("movzbl 12(%4), %0\n\tmovsbl 12(%4), %1\n\tmovzwl 12(%4), %2\n\tmovswl 12(%4), %3"
                 : "=&r"(zx), "=&r"(sx), "=&r"(zxw), "=&r"(sxw)
                 : "r"(kScratch));
    CHECK(zx == 0x80 && sx == 0xffffff80 && zxw == 0xff80 && sxw == 0xffffff80,
          "MOVZX and MOVSX from bytes and words (%#x %#x %#x %#x)", zx, sx, zxw, sxw);
    CHECK(last_access() == access(0x10c, 2, false), "MOVSX r32, m16 is one 2-byte read");

    asm volatile("movnti %0, 16(%1)" ::"r"(0xfeedfaceu), "r"(kScratch) : "memory");
    CHECK(*reg32(kScratch + 16) == 0xfeedface, "MOVNTI stores");
}

void check_alu() {
    SAME("addl %%eax, (%%ebx)", kStatusFlags, "ADD m32, r32");
    SAME("addb %%al, 1(%%ebx)", kStatusFlags, "ADD m8, r8");
    SAME("addw $0x1234, (%%ebx)", kStatusFlags, "ADD m16, imm16");
    SAME("addl $-3, (%%ebx)", kStatusFlags, "ADD m32, imm8 (sign-extended)");
    SAME("addl (%%ebx), %%eax", kStatusFlags, "ADD r32, m32");
    SAME("adcl %%eax, (%%ebx)", kStatusFlags, "ADC m32, r32");
    SAME("adcb $0x7f, (%%ebx)", kStatusFlags, "ADC m8, imm8");
    SAME("subl %%eax, (%%ebx)", kStatusFlags, "SUB m32, r32");
    SAME("subw (%%ebx), %%ax", kStatusFlags, "SUB r16, m16");
    SAME("sbbl %%eax, (%%ebx)", kStatusFlags, "SBB m32, r32");
    SAME("sbbb $1, 2(%%ebx)", kStatusFlags, "SBB m8, imm8");
    SAME("andl %%eax, (%%ebx)", kStatusFlags & ~kAf, "AND m32, r32");
    SAME("orw %%ax, (%%ebx)", kStatusFlags & ~kAf, "OR m16, r16");
    SAME("xorl (%%ebx), %%eax", kStatusFlags & ~kAf, "XOR r32, m32");
    SAME("xorb $0x5a, 3(%%ebx)", kStatusFlags & ~kAf, "XOR m8, imm8");
    SAME("cmpl %%eax, (%%ebx)", kStatusFlags, "CMP m32, r32");
    SAME("cmpb $0x80, (%%ebx)", kStatusFlags, "CMP m8, imm8");
    SAME("testl %%eax, (%%ebx)", kStatusFlags & ~kAf, "TEST m32, r32");
    SAME("testb $0x81, 1(%%ebx)", kStatusFlags & ~kAf, "TEST m8, imm8");
    SAME("incl (%%ebx)", kStatusFlags, "INC m32");
    SAME("decw (%%ebx)", kStatusFlags, "DEC m16");
    SAME("incb 1(%%ebx)", kStatusFlags, "INC m8");
    SAME("negl (%%ebx)", kStatusFlags, "NEG m32");
    SAME("notl (%%ebx)", kStatusFlags, "NOT m32");
    SAME("lock addl %%eax, (%%ebx)", kStatusFlags, "LOCK ADD m32, r32");
    SAME("lock decl (%%ebx)", kStatusFlags, "LOCK DEC m32");
    asm volatile("addl $1, (%0)" ::"r"(kScratch) : "memory", "cc");
    CHECK(last_access() == access(0x100, 4, true), "ADD m32, imm is a 4-byte read then a 4-byte write");
}

void check_bits_and_exchanges() {
    constexpr uint32_t kCf = 1;
    SAME("btl $5, (%%ebx)", kCf, "BT m32, imm8");
    SAME("btsl $31, (%%ebx)", kCf, "BTS m32, imm8");
    SAME("btrw $3, (%%ebx)", kCf, "BTR m16, imm8");
    SAME("btcl $17, (%%ebx)", kCf, "BTC m32, imm8");
    SAME("andl $63, %%ecx\n\tbtsl %%ecx, (%%ebx)", kCf, "BTS m32, r32 (offset below 64)");
    SAME("andl $127, %%ecx\n\tbtl %%ecx, (%%ebx)", kCf, "BT m32, r32 (offset into the next dword)");
    SAME("xchgl %%eax, (%%ebx)", 0, "XCHG m32, r32");
    SAME("xchgb %%al, 2(%%ebx)", 0, "XCHG m8, r8");
    SAME("cmpxchgl %%ecx, (%%ebx)", kStatusFlags, "CMPXCHG m32, r32");
    SAME("movl (%%ebx), %%eax\n\tlock cmpxchgl %%ecx, (%%ebx)", kStatusFlags, "LOCK CMPXCHG m32 (equal)");
    SAME("cmpxchgb %%cl, 1(%%ebx)", kStatusFlags, "CMPXCHG m8, r8");
    SAME("xaddl %%eax, (%%ebx)", kStatusFlags, "XADD m32, r32");
    SAME("lock xaddw %%ax, (%%ebx)", kStatusFlags, "LOCK XADD m16, r16");
    SAME("cmpl %%ecx, %%eax\n\tsetb (%%ebx)\n\tsetle 1(%%ebx)\n\tsetz 2(%%ebx)\n\tseto 3(%%ebx)", kStatusFlags,
         "SETcc m8");
    SAME("pushl (%%ebx)\n\tpopl %%eax", 0, "PUSH m32");
    SAME("pushl %%eax\n\tpopl 4(%%ebx)", 0, "POP m32");
    SAME("pushw 2(%%ebx)\n\tpopw 6(%%ebx)", 0, "PUSH m16 and POP m16");
}

void check_strings() {
    static uint32_t source[16], back[16];
    for (uint32_t i = 0; i < 16; ++i) source[i] = 0x01010101u * (i + 1);
    const uint32_t* src = source;
    uint32_t dst = kScratch, count = 16;
    asm volatile("cld\n\trep movsl" : "+S"(src), "+D"(dst), "+c"(count) : : "memory");
    CHECK(count == 0 && dst == kScratch + 64 && src == source + 16, "REP MOVSD from RAM to MMIO advanced ESI/EDI");
    bool same = true;
    for (uint32_t i = 0; i < 16; ++i) same &= reg32(kScratch)[i] == source[i];
    CHECK(same, "REP MOVSD wrote all 16 dwords to the device");

    uint32_t from = kScratch + 63;
    uint8_t* to = reinterpret_cast<uint8_t*>(back) + 63;
    count = 64;
    asm volatile("std\n\trep movsb\n\tcld" : "+S"(from), "+D"(to), "+c"(count) : : "memory");
    same = count == 0 && from == kScratch - 1;
    for (uint32_t i = 0; i < 16; ++i) same &= back[i] == source[i];
    CHECK(same, "REP MOVSB with DF=1 copies MMIO back to RAM downwards");

    uint32_t stos_dst = kScratch + 0x40;
    count = 8;
    asm volatile("cld\n\trep stosw" : "+D"(stos_dst), "+c"(count) : "a"(0xbeefu) : "memory");
    const uint32_t stos_access = last_access();  // before the checks read the words back
    same = count == 0 && stos_dst == kScratch + 0x50;
    for (uint32_t i = 0; i < 8; ++i) same &= reinterpret_cast<volatile uint16_t*>(kScratch + 0x40)[i] == 0xbeef;
    CHECK(same, "REP STOSW filled 8 words");
    CHECK(stos_access == access(0x14e, 2, true), "STOSW is 2-byte writes (%#x)", stos_access);

    uint32_t lods_src = kScratch + 4, value = 0;
    asm volatile("cld\n\tlodsl" : "+S"(lods_src), "=a"(value) : : "memory");
    CHECK(value == source[1] && lods_src == kScratch + 8, "LODSD loads and steps ESI");

    // REPE CMPSB stops at the first difference; REPNE SCASB at the first match.
    reinterpret_cast<uint8_t*>(back)[5] ^= 0xff;
    uint32_t left = kScratch;
    const uint8_t* right = reinterpret_cast<uint8_t*>(back);
    count = 64;
    uint32_t flags = 0;
    asm volatile("cld\n\trepe cmpsb\n\tpushfl\n\tpopl %3"
                 : "+S"(left), "+D"(right), "+c"(count), "=r"(flags)
                 :
                 : "memory", "cc");
    CHECK(count == 58 && left == kScratch + 6 && !(flags & 0x40), "REPE CMPSB stops after the 6th byte (ecx %u)",
          count);
    uint32_t scan = kScratch;
    count = 64;
    asm volatile("cld\n\trepne scasb\n\tpushfl\n\tpopl %2"
                 : "+D"(scan), "+c"(count), "=r"(flags)
                 : "a"(0x03u)
                 : "memory", "cc");
    CHECK(count == 55 && scan == kScratch + 9 && (flags & 0x40), "REPNE SCASB finds 0x03 at byte 8 (ecx %u)", count);
}

void check_sse() {
    enable_sse();
    static uint8_t pattern[16] __attribute__((aligned(16)));
    static uint8_t out[16] __attribute__((aligned(16)));
    for (int i = 0; i < 16; ++i) pattern[i] = uint8_t(0xa0 + i);
    asm volatile("movdqa %0, %%xmm1\n\tmovdqa %%xmm1, (%1)" ::"m"(pattern), "r"(kScratch) : "memory");
    CHECK(last_access() == access(0x108, 8, true), "MOVDQA m128 is two 8-byte writes (%#x)", last_access());
    asm volatile("movdqu (%1), %%xmm2\n\tmovdqu %%xmm2, %0" : "=m"(out) : "r"(kScratch) : "memory");
    bool same = true;
    for (int i = 0; i < 16; ++i) same &= out[i] == pattern[i];
    CHECK(same, "MOVDQA to and MOVDQU from the device round-trip 16 bytes");
    asm volatile("movups (%1), %%xmm3\n\tmovaps %%xmm3, 16(%1)\n\tmovaps 16(%1), %%xmm4\n\tmovups %%xmm4, %0"
                 : "=m"(out)
                 : "r"(kScratch)
                 : "memory");
    same = true;
    for (int i = 0; i < 16; ++i) same &= out[i] == pattern[i];
    CHECK(same, "MOVUPS and MOVAPS through the device");
    uint32_t low = 0;
    asm volatile("movd 4(%1), %%xmm5\n\tmovd %%xmm5, %0" : "=r"(low) : "r"(kScratch));
    CHECK(low == 0xa7a6a5a4, "MOVD xmm, m32 (%#x)", low);
    asm volatile("movq (%0), %%xmm6\n\tmovq %%xmm6, 32(%0)" ::"r"(kScratch) : "memory");
    CHECK(*reg32(kScratch + 32) == 0xa3a2a1a0 && *reg32(kScratch + 36) == 0xa7a6a5a4, "MOVQ to and from the device");
    CHECK(last_access() == access(0x124, 4, false), "the last read was the second dword of the MOVQ result");
    asm volatile(
        "movss (%0), %%xmm7\n\tmovss %%xmm7, 48(%0)\n\tmovsd 8(%0), %%xmm0\n\tmovsd %%xmm0, 56(%0)" ::"r"(kScratch)
        : "memory");
    CHECK(*reg32(kScratch + 48) == 0xa3a2a1a0 && *reg32(kScratch + 56) == 0xabaaa9a8 &&
              *reg32(kScratch + 60) == 0xafaeadac,
          "MOVSS and MOVSD through the device");
}

// INS and OUTS whose memory operand is the device: each element is one access of the
// device's, as with any other instruction (before, the domain ended).
void check_string_io() {
    *reg32(kScratch + 64) = 0;
    *reg32(kScratch + 68) = 0;
    uint32_t dst = kScratch + 64, count = 3;
    // Port 0x1234 is nobody's: it reads all ones.
    asm volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(uint16_t(0x1234)) : "memory");
    CHECK(count == 0 && dst == kScratch + 70, "REP INSW into the device ran to the end (ECX %u)", count);
    CHECK(last_access() == access(0x100 + 68, 2, true), "its last element was a 2-byte write at 68 (%#x)",
          last_access());
    CHECK(*reg32(kScratch + 64) == 0xffffffffu && *reg32(kScratch + 68) == 0x0000ffffu,
          "and the device holds what the port gave (%#x %#x)", *reg32(kScratch + 64), *reg32(kScratch + 68));
    const uint32_t before = *reg32(kAccessCount);
    uint32_t src = kScratch + 64;
    count = 4;
    asm volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(uint16_t(0x1234)) : "memory");
    CHECK(count == 0 && src == kScratch + 68, "REP OUTSB from the device ran to the end (ECX %u)", count);
    CHECK(*reg32(kAccessCount) - before == 4, "with one 1-byte read each (%u accesses)", *reg32(kAccessCount) - before);
    CHECK(last_access() == access(0x100 + 67, 1, false), "the last at 67 (%#x)", last_access());
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    const uint32_t before = *reg32(kAccessCount);
    check_moves();
    check_alu();
    check_bits_and_exchanges();
    check_strings();
    check_sse();
    check_string_io();
    const uint32_t first = *reg32(kReadCounter), second = *reg32(kReadCounter);
    CHECK(second == first + 1, "a read is executed exactly once (the read counter went %u -> %u)", first, second);
    const uint32_t accesses = *reg32(kAccessCount) - before;
    print("the device saw %u scratch accesses\n", accesses);
    return finish("mmio");
}
