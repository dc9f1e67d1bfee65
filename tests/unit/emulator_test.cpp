// The instruction emulator (kernel/emulator/emulator.hpp) against a fake machine: hand-
// assembled instructions (encodings checked with llvm-mc) are decoded with
// decode_instruction and executed; the tests compare every general-purpose register,
// RFLAGS, RIP, RAM and the exact sequence of device accesses (a 4-byte MOV must reach the
// device as one 4-byte access).
#include "kernel/emulator/emulator.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace {

constexpr CpuMode R16 = CpuMode::Real16;
constexpr CpuMode P16 = CpuMode::Protected16;
constexpr CpuMode P32 = CpuMode::Protected32;
constexpr CpuMode L64 = CpuMode::Long64;

constexpr u8 RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R9 = 9, R10 = 10, R12 = 12;

// Guest linear memory: RAM, a device region, and nothing else (#PF).
constexpr u64 kRam = 0x10000;
constexpr u64 kRamSize = 0x30000;
constexpr u64 kMmio = 0xfeb00000;
constexpr u64 kMmioSize = 0x1000;
constexpr u64 kRip = 0x7000;
constexpr u64 kFlags = 0x2;  // RFLAGS bit 1 is always set

constexpr u64 kCr0Pe = 1ull << 0, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr0Pg = 1ull << 31;
constexpr u64 kCr4Pae = 1ull << 5, kCr4Osfxsr = 1ull << 9;

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

struct MmioAccess {
    bool write = false;
    u64 address = 0;
    usize size = 0;
    u64 value = 0;  // bytes 0..7
    u64 high = 0;   // bytes 8..15 of a 16-byte access
    bool operator==(const MmioAccess&) const = default;
};

std::ostream& operator<<(std::ostream& out, const MmioAccess& a) {
    return out << (a.write ? "write" : "read") << " 0x" << std::hex << a.address << " size " << std::dec << a.size
               << " value 0x" << std::hex << a.value << " high 0x" << a.high << std::dec;
}

MmioAccess mmio_read(u64 address, usize size, u64 value, u64 high = 0) { return {false, address, size, value, high}; }
MmioAccess mmio_write(u64 address, usize size, u64 value, u64 high = 0) { return {true, address, size, value, high}; }

MemoryOutcome exception_outcome(u8 vector, u32 error_code, u64 cr2) {
    MemoryOutcome o;
    o.status = MemoryStatus::Exception;
    o.exception.vector = vector;
    o.exception.has_error_code = true;
    o.exception.error_code = error_code;
    o.exception.cr2 = cr2;
    return o;
}

// A flat little-endian machine. Device reads return the scripted values in order (0 when
// none is left; a 16-byte read takes two). Accesses outside RAM and the device raise a
// not-present #PF; `fault_address` injects a protection #PF on any access covering it,
// and `fail_at` makes the n-th access (0-based, reads and writes counted together) end
// with `fail_outcome`.
class FakeEnvironment final : public EmulatorEnvironment {
public:
    FakeEnvironment() : ram_(kRamSize, 0) {
        memset(xmm, 0, sizeof(xmm));
        memset(mmx, 0, sizeof(mmx));
    }

    void poke(u64 address, u64 value, usize size) {
        for (usize i = 0; i < size; ++i) ram_.at(address - kRam + i) = u8(value >> (8 * i));
    }
    u64 peek(u64 address, usize size) const {
        u64 value = 0;
        for (usize i = 0; i < size; ++i) value |= u64(ram_.at(address - kRam + i)) << (8 * i);
        return value;
    }

    MemoryOutcome read_linear(u64 linear, void* dst, usize size, GuestAccess access) override {
        if (std::optional<MemoryOutcome> o = injected(linear, size, access)) return *o;
        u8* out = static_cast<u8*>(dst);
        if (in_mmio(linear, size)) {
            const u64 low = next_mmio_value();
            const u64 high = size > 8 ? next_mmio_value() : 0;
            memcpy(out, &low, size < 8 ? size : 8);
            if (size > 8) memcpy(out + 8, &high, size - 8);
            mmio_log.push_back(mmio_read(linear, size, low, high));
            return {};
        }
        if (!in_ram(linear, size)) return not_present(linear, access);
        memcpy(out, &ram_[linear - kRam], size);
        return {};
    }

    MemoryOutcome write_linear(u64 linear, const void* src, usize size, GuestAccess access) override {
        EXPECT_TRUE(access.write);
        if (std::optional<MemoryOutcome> o = injected(linear, size, access)) return *o;
        const u8* in = static_cast<const u8*>(src);
        if (in_mmio(linear, size)) {
            u64 low = 0;
            u64 high = 0;
            memcpy(&low, in, size < 8 ? size : 8);
            if (size > 8) memcpy(&high, in + 8, size - 8);
            mmio_log.push_back(mmio_write(linear, size, low, high));
            return {};
        }
        if (!in_ram(linear, size)) return not_present(linear, access);
        memcpy(&ram_[linear - kRam], in, size);
        return {};
    }

    void read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) override {
        check_vector(cls, index, size);
        memcpy(dst, cls == RegisterClass::Xmm ? xmm[index & 15] : mmx[index & 7], size);
    }
    void write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) override {
        check_vector(cls, index, size);
        memcpy(cls == RegisterClass::Xmm ? xmm[index & 15] : mmx[index & 7], src, size);
    }

    std::deque<u64> mmio_values;
    std::vector<MmioAccess> mmio_log;
    std::vector<GuestAccess> accesses;
    std::optional<u64> fault_address;
    int fail_at = -1;
    MemoryOutcome fail_outcome;
    u8 xmm[16][16];
    u8 mmx[8][8];

private:
    static bool in_mmio(u64 linear, usize size) { return linear >= kMmio && linear + size <= kMmio + kMmioSize; }
    static bool in_ram(u64 linear, usize size) { return linear >= kRam && linear + size <= kRam + kRamSize; }

    static u32 error_code(GuestAccess access) { return (access.write ? kPfWrite : 0) | (access.user ? kPfUser : 0); }

    MemoryOutcome not_present(u64 linear, GuestAccess access) {
        return exception_outcome(kVectorPf, error_code(access), linear);
    }

    std::optional<MemoryOutcome> injected(u64 linear, usize size, GuestAccess access) {
        accesses.push_back(access);
        EXPECT_GE(size, 1u);
        EXPECT_LE(size, 16u);
        if (fail_at >= 0 && int(accesses.size()) - 1 == fail_at) return fail_outcome;
        if (fault_address && *fault_address >= linear && *fault_address < linear + size)
            return exception_outcome(kVectorPf, kPfPresent | error_code(access), *fault_address);
        return std::nullopt;
    }

    u64 next_mmio_value() {
        if (mmio_values.empty()) return 0;
        const u64 value = mmio_values.front();
        mmio_values.pop_front();
        return value;
    }

    static void check_vector(RegisterClass cls, u8 index, u8 size) {
        EXPECT_TRUE(cls == RegisterClass::Xmm || cls == RegisterClass::Mmx);
        EXPECT_LT(index, cls == RegisterClass::Xmm ? 16 : 8);
        EXPECT_EQ(size, cls == RegisterClass::Xmm ? 16 : 8);
    }

    std::vector<u8> ram_;
};

// Every register starts with a value of its own so that a stray write shows.
EmulatorCpuState initial_cpu(CpuMode mode) {
    EmulatorCpuState cpu;
    for (unsigned i = 0; i < 16; ++i) cpu.gpr[i] = 0x0101010101010101ull * (i + 1);
    cpu.rip = kRip;
    cpu.rflags = kFlags;
    cpu.mode = mode;
    cpu.cr0 = mode == R16 ? 0 : kCr0Pe | kCr0Pg;
    cpu.cr4 = kCr4Osfxsr | (mode == L64 ? kCr4Pae : 0);
    cpu.efer = mode == L64 ? 0x500 : 0;
    return cpu;
}

DecodedInstruction decode_for(CpuMode mode, const char* text) {
    const std::vector<u8> bytes = hex(text);
    DecodedInstruction insn;
    const DecodeResult result = decode_instruction(bytes.data(), bytes.size(), mode, insn);
    EXPECT_EQ(result, DecodeResult::Ok) << text;
    EXPECT_EQ(insn.length, bytes.size()) << text;
    return insn;
}

EmulationResult emulate(FakeEnvironment& env, EmulatorCpuState& cpu, const char* text) {
    const DecodedInstruction insn = decode_for(cpu.mode, text);
    return emulate_instruction(insn, cpu, env);
}

struct RegValue {
    u8 reg;
    u64 value;
};

struct MemValue {
    u64 address;
    usize size;
    u64 value;
};

constexpr u64 kUnchanged = ~0ull;

// One instruction run from a prepared state; everything not listed in expect_regs must
// keep its value, RIP must move past the instruction.
struct Case {
    const char* name;
    CpuMode mode = L64;
    const char* code = "";
    std::vector<RegValue> regs;
    u64 rflags = kFlags;
    std::vector<MemValue> memory;
    std::vector<u64> mmio_values;
    std::vector<RegValue> expect_regs;
    u64 expect_rflags = kUnchanged;
    std::vector<MemValue> expect_memory;
    std::vector<MmioAccess> expect_mmio;
    u64 segment_base = 0;  // every segment's base (ignored in 64-bit mode except FS/GS)
    bool stack_32bit = true;
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name << " [" << c.code << "]"; }

class EmulatorEngine : public ::testing::TestWithParam<Case> {};

TEST_P(EmulatorEngine, Executes) {
    const Case& c = GetParam();
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(c.mode);
    for (const RegValue& r : c.regs) cpu.gpr[r.reg] = r.value;
    for (u64& base : cpu.segment_base) base = c.segment_base;
    cpu.rflags = c.rflags;
    cpu.stack_32bit = c.stack_32bit;
    for (const MemValue& m : c.memory) env.poke(m.address, m.value, m.size);
    env.mmio_values.assign(c.mmio_values.begin(), c.mmio_values.end());
    EmulatorCpuState expected = cpu;
    for (const RegValue& r : c.expect_regs) expected.gpr[r.reg] = r.value;
    if (c.expect_rflags != kUnchanged) expected.rflags = c.expect_rflags;

    const DecodedInstruction insn = decode_for(c.mode, c.code);
    ASSERT_NE(insn.kind, InstructionKind::Other);
    const EmulationResult result = emulate_instruction(insn, cpu, env);
    ASSERT_EQ(result.kind, EmulationResult::Done)
        << emulation_result_name(result.kind) << " " << (result.reason ? result.reason : "")
        << " vector=" << int(result.exception.vector);
    EXPECT_EQ(cpu.rip, kRip + insn.length);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(cpu.gpr[i], expected.gpr[i]) << "register " << i;
    EXPECT_EQ(cpu.rflags, expected.rflags);
    for (const MemValue& m : c.expect_memory)
        EXPECT_EQ(env.peek(m.address, m.size), m.value) << "memory at 0x" << std::hex << m.address;
    EXPECT_EQ(env.mmio_log, c.expect_mmio);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

// MOV in every form, with the addressing modes and operand sizes around it.
const Case kMovCases[] = {
    {.name = "StoreDwordToDevice",  // mov [rbx], eax
     .code = "89 03",
     .regs = {{RAX, 0x1122334455667788}, {RBX, kMmio + 0x10}},
     .expect_mmio = {mmio_write(kMmio + 0x10, 4, 0x55667788)}},
    {.name = "LoadDwordZeroExtends",  // mov eax, [rbx]
     .code = "8b 03",
     .regs = {{RAX, ~0ull}, {RBX, kMmio}},
     .mmio_values = {0xdeadbeef},
     .expect_regs = {{RAX, 0xdeadbeef}},
     .expect_mmio = {mmio_read(kMmio, 4, 0xdeadbeef)}},
    {.name = "LoadWordMerges",  // mov ax, [rbx]
     .code = "66 8b 03",
     .regs = {{RAX, ~0ull}, {RBX, kMmio}},
     .mmio_values = {0x1234},
     .expect_regs = {{RAX, 0xffffffffffff1234}},
     .expect_mmio = {mmio_read(kMmio, 2, 0x1234)}},
    {.name = "LoadByteMerges",  // mov al, [rbx]
     .code = "8a 03",
     .regs = {{RAX, ~0ull}, {RBX, kMmio}},
     .mmio_values = {0x5a},
     .expect_regs = {{RAX, 0xffffffffffffff5a}},
     .expect_mmio = {mmio_read(kMmio, 1, 0x5a)}},
    {.name = "LoadHighByte",  // mov ah, [rbx]
     .code = "8a 23",
     .regs = {{RAX, ~0ull}, {RBX, kMmio}},
     .mmio_values = {0x5a},
     .expect_regs = {{RAX, 0xffffffffffff5aff}},
     .expect_mmio = {mmio_read(kMmio, 1, 0x5a)}},
    {.name = "StoreHighByte",  // mov [rbx], ch
     .code = "88 2b",
     .regs = {{RCX, 0xab00}, {RBX, kMmio + 3}},
     .expect_mmio = {mmio_write(kMmio + 3, 1, 0xab)}},
    {.name = "StoreSilWithRex",  // mov [rbx], sil
     .code = "40 88 33",
     .regs = {{RSI, 0x1234}, {RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 1, 0x34)}},
    {.name = "LoadQwordSib",  // mov rax, [rbx+rcx*8+0x10]
     .code = "48 8b 44 cb 10",
     .regs = {{RBX, kMmio}, {RCX, 2}},
     .mmio_values = {0x0123456789abcdef},
     .expect_regs = {{RAX, 0x0123456789abcdef}},
     .expect_mmio = {mmio_read(kMmio + 0x20, 8, 0x0123456789abcdef)}},
    {.name = "StoreRipRelative",  // mov [rip+0x10000], eax: next RIP + 0x10000
     .code = "89 05 00 00 01 00",
     .regs = {{RAX, 0xcafe}},
     .expect_memory = {{kRip + 6 + 0x10000, 4, 0xcafe}}},
    {.name = "LoadMoffs",  // movabs eax, [0xfeb00040]
     .code = "a1 40 00 b0 fe 00 00 00 00",
     .regs = {{RAX, ~0ull}},
     .mmio_values = {0x87654321},
     .expect_regs = {{RAX, 0x87654321}},
     .expect_mmio = {mmio_read(kMmio + 0x40, 4, 0x87654321)}},
    {.name = "StoreMoffs",  // movabs [0xfeb00040], eax
     .code = "a3 40 00 b0 fe 00 00 00 00",
     .regs = {{RAX, 0x87654321}},
     .expect_mmio = {mmio_write(kMmio + 0x40, 4, 0x87654321)}},
    {.name = "LoadMoffsByte",  // movabs al, [0xfeb00041]
     .code = "a0 41 00 b0 fe 00 00 00 00",
     .regs = {{RAX, 0}},
     .mmio_values = {0x77},
     .expect_regs = {{RAX, 0x77}},
     .expect_mmio = {mmio_read(kMmio + 0x41, 1, 0x77)}},
    {.name = "StoreMoffsByte",  // movabs [0xfeb00041], al
     .code = "a2 41 00 b0 fe 00 00 00 00",
     .regs = {{RAX, 0x1177}},
     .expect_mmio = {mmio_write(kMmio + 0x41, 1, 0x77)}},
    {.name = "Moffs32In32BitMode",  // mov [0xfeb00040], eax (a32 moffs)
     .mode = P32,
     .code = "a3 40 00 b0 fe",
     .regs = {{RAX, 0x99}},
     .expect_mmio = {mmio_write(kMmio + 0x40, 4, 0x99)}},
    {.name = "StoreImmediateByte",  // mov byte [rbx], 0x7f
     .code = "c6 03 7f",
     .regs = {{RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 1, 0x7f)}},
    {.name = "StoreImmediateSignExtended",  // mov qword [rbx], -1
     .code = "48 c7 03 ff ff ff ff",
     .regs = {{RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 8, ~0ull)}},
    {.name = "StoreImmediateWord",  // mov word [rbx], 0x1234
     .code = "66 c7 03 34 12",
     .regs = {{RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 2, 0x1234)}},
    {.name = "ImmediateToHighByte",  // mov ah, 0x12
     .code = "b4 12",
     .regs = {{RAX, 0}},
     .expect_regs = {{RAX, 0x1200}}},
    {.name = "Immediate64",  // movabs r10, 0x123456789abcdef0
     .code = "49 ba f0 de bc 9a 78 56 34 12",
     .expect_regs = {{R10, 0x123456789abcdef0}}},
    {.name = "Immediate32ZeroExtends",  // mov r9d, 0x12345678
     .code = "41 b9 78 56 34 12",
     .expect_regs = {{R9, 0x12345678}}},
    {.name = "RegisterToRegister64",  // mov r8, r9
     .code = "4d 89 c8",
     .regs = {{R9, 0xfedcba9876543210}},
     .expect_regs = {{R8, 0xfedcba9876543210}}},
    {.name = "RegisterToRegister32ZeroExtends",  // mov ecx, edx
     .code = "89 d1",
     .regs = {{RCX, ~0ull}, {RDX, 0xffffffff00000005}},
     .expect_regs = {{RCX, 5}}},
    {.name = "AddressSize32Truncates",  // mov [ebx], eax
     .code = "67 89 03",
     .regs = {{RAX, 1}, {RBX, 0xffffffff00000000 | kMmio}},
     .expect_mmio = {mmio_write(kMmio, 4, 1)}},
    {.name = "FsBase",  // mov eax, fs:[rbx]
     .code = "64 8b 03",
     .regs = {{RAX, 0}, {RBX, 0x8}},
     .mmio_values = {0x42},
     .expect_regs = {{RAX, 0x42}},
     .expect_mmio = {mmio_read(kMmio + 8, 4, 0x42)},
     .segment_base = kMmio},
    {.name = "DsBaseIgnoredIn64BitMode",  // mov eax, ds:[rbx]
     .code = "3e 8b 03",
     .regs = {{RAX, 0}, {RBX, kMmio}},
     .mmio_values = {0x42},
     .expect_regs = {{RAX, 0x42}},
     .expect_mmio = {mmio_read(kMmio, 4, 0x42)},
     .segment_base = 0x100000},
    {.name = "Protected32SegmentBase",  // mov [ebx], eax
     .mode = P32,
     .code = "89 03",
     .regs = {{RAX, 0xffffffffaabbccdd}, {RBX, 0x10}},
     .expect_mmio = {mmio_write(kMmio + 0x10, 4, 0xaabbccdd)},
     .segment_base = kMmio},
    {.name = "Protected32LinearWraps",  // mov eax, [ebx]: base + offset wraps at 4 GiB
     .mode = P32,
     .code = "8b 03",
     .regs = {{RAX, 0}, {RBX, 0x100000000 - 0x10000 + 0x20}},
     .memory = {{kRam + 0x20, 4, 0x600d}},
     .expect_regs = {{RAX, 0x600d}},
     .segment_base = 0x20000},
    {.name = "Real16AddressWraps",  // mov [bx+si+4], ax: (0xfffe + 4 + 4) mod 64K = 6
     .mode = R16,
     .code = "89 40 04",
     .regs = {{RAX, 0xbeef}, {RBX, 0xfffe}, {RSI, 4}},
     .expect_memory = {{kRam + 6, 2, 0xbeef}},
     .segment_base = kRam},
    {.name = "Protected16BpUsesSs",  // mov ax, [bp+2] (SS; every base is the same here)
     .mode = P16,
     .code = "8b 46 02",
     .regs = {{RAX, 0xffff0000}, {RBP, 0x10}},
     .memory = {{kRam + 0x12, 2, 0x4321}},
     .expect_regs = {{RAX, 0xffff4321}},
     .segment_base = kRam},
    {.name = "Real16OperandSize32",  // mov [bx], eax (66 in 16-bit code)
     .mode = R16,
     .code = "66 89 07",
     .regs = {{RAX, 0x12345678}, {RBX, 0x40}},
     .expect_memory = {{kRam + 0x40, 4, 0x12345678}},
     .segment_base = kRam},
};
INSTANTIATE_TEST_SUITE_P(EmulatorMov, EmulatorEngine, ::testing::ValuesIn(kMovCases), case_name);

const Case kExtendCases[] = {
    {.name = "MovzxByte",  // movzx eax, byte [rbx]
     .code = "0f b6 03",
     .regs = {{RAX, ~0ull}, {RBX, kMmio}},
     .mmio_values = {0x80},
     .expect_regs = {{RAX, 0x80}},
     .expect_mmio = {mmio_read(kMmio, 1, 0x80)}},
    {.name = "MovzxWord",  // movzx ecx, word [rbx]
     .code = "0f b7 0b",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0xfffe},
     .expect_regs = {{RCX, 0xfffe}},
     .expect_mmio = {mmio_read(kMmio, 2, 0xfffe)}},
    {.name = "MovsxWordTo64",  // movsx rax, word [rbx]
     .code = "48 0f bf 03",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x8000},
     .expect_regs = {{RAX, 0xffffffffffff8000}},
     .expect_mmio = {mmio_read(kMmio, 2, 0x8000)}},
    {.name = "Movsxd",  // movsxd rax, dword [rbx]
     .code = "48 63 03",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x80000000},
     .expect_regs = {{RAX, 0xffffffff80000000}},
     .expect_mmio = {mmio_read(kMmio, 4, 0x80000000)}},
    {.name = "MovsxFromHighByte",  // movsx eax, ah
     .code = "0f be c4",
     .regs = {{RAX, 0xffffffff00009000}},
     .expect_regs = {{RAX, 0xffffff90}}},
    {.name = "MovzxFromSil",  // movzx r10d, sil
     .code = "44 0f b6 d6",
     .regs = {{RSI, 0x1ff}},
     .expect_regs = {{R10, 0xff}}},
    {.name = "Movnti64",  // movnti [rbx], rax
     .code = "48 0f c3 03",
     .regs = {{RAX, 0x1122334455667788}, {RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 8, 0x1122334455667788)}},
    {.name = "Movnti32",  // movnti [rbx], ecx
     .code = "0f c3 0b",
     .regs = {{RCX, 0x1122334455667788}, {RBX, kMmio}},
     .expect_mmio = {mmio_write(kMmio, 4, 0x55667788)}},
};
INSTANTIATE_TEST_SUITE_P(EmulatorExtend, EmulatorEngine, ::testing::ValuesIn(kExtendCases), case_name);

constexpr u64 CF = kRflagsCf, PF = kRflagsPf, AF = kRflagsAf, ZF = kRflagsZf, SF = kRflagsSf, OF = kRflagsOf,
              DF = kRflagsDf;

// ALU operations: the device sees the read and (unless CMP/TEST) the write, each of the
// operand size; flags are the ALU's.
const Case kAluCases[] = {
    {.name = "AddToDevice",  // add [rbx], eax: 0xffffffff + 1
     .code = "01 03",
     .regs = {{RAX, 1}, {RBX, kMmio}},
     .mmio_values = {0xffffffff},
     .expect_rflags = kFlags | CF | PF | AF | ZF,
     .expect_mmio = {mmio_read(kMmio, 4, 0xffffffff), mmio_write(kMmio, 4, 0)}},
    {.name = "OrByteImmediate",  // or byte [rbx], 0x80
     .code = "80 0b 80",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x01},
     .expect_rflags = kFlags | PF | SF,
     .expect_mmio = {mmio_read(kMmio, 1, 1), mmio_write(kMmio, 1, 0x81)}},
    {.name = "AndSignExtendedImm8",  // and dword [rbx], -16
     .code = "83 23 f0",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF | OF,
     .mmio_values = {0x12345678},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 4, 0x12345678), mmio_write(kMmio, 4, 0x12345670)}},
    {.name = "AddImm32",  // add dword [rbx], 0x12345678
     .code = "81 03 78 56 34 12",
     .regs = {{RBX, kMmio}},
     .expect_rflags = kFlags | PF,
     .expect_mmio = {mmio_read(kMmio, 4, 0), mmio_write(kMmio, 4, 0x12345678)}},
    {.name = "SubRegisterDestination",  // sub rax, [rbx]: 5 - 7
     .code = "48 2b 03",
     .regs = {{RAX, 5}, {RBX, kMmio}},
     .mmio_values = {7},
     .expect_regs = {{RAX, 0xfffffffffffffffe}},
     .expect_rflags = kFlags | CF | AF | SF,
     .expect_mmio = {mmio_read(kMmio, 8, 7)}},
    {.name = "CmpReadsOnly",  // cmp dword [rbx], 5
     .code = "83 3b 05",
     .regs = {{RBX, kMmio}},
     .mmio_values = {5},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 4, 5)}},
    {.name = "TestRegister",  // test [rbx], eax
     .code = "85 03",
     .regs = {{RAX, 0x0f}, {RBX, kMmio}},
     .mmio_values = {0xf0},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 4, 0xf0)}},
    {.name = "TestImmediateClearsCfOf",  // test byte [rbx], 1
     .code = "f6 03 01",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF | OF,
     .mmio_values = {0x81},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 1, 0x81)}},
    {.name = "IncKeepsCf",  // inc dword [rbx]
     .code = "ff 03",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF,
     .mmio_values = {0x7fffffff},
     .expect_rflags = kFlags | CF | PF | AF | SF | OF,
     .expect_mmio = {mmio_read(kMmio, 4, 0x7fffffff), mmio_write(kMmio, 4, 0x80000000)}},
    {.name = "DecWord",  // dec word [rbx]
     .code = "66 ff 0b",
     .regs = {{RBX, kMmio}},
     .mmio_values = {1},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 2, 1), mmio_write(kMmio, 2, 0)}},
    {.name = "NegQword",  // neg qword [rbx]
     .code = "48 f7 1b",
     .regs = {{RBX, kMmio}},
     .mmio_values = {1},
     .expect_rflags = kFlags | CF | PF | AF | SF,
     .expect_mmio = {mmio_read(kMmio, 8, 1), mmio_write(kMmio, 8, ~0ull)}},
    {.name = "NotKeepsFlags",  // not byte [rbx]
     .code = "f6 13",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF,
     .mmio_values = {0x0f},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio, 1, 0x0f), mmio_write(kMmio, 1, 0xf0)}},
    {.name = "AdcUsesCarry",  // adc [rbx], eax: 1 + 2 + CF
     .code = "11 03",
     .regs = {{RAX, 2}, {RBX, kMmio}},
     .rflags = kFlags | CF,
     .mmio_values = {1},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 4, 1), mmio_write(kMmio, 4, 4)}},
    {.name = "SbbUsesBorrow",  // sbb byte [rbx], 1: 3 - 1 - CF
     .code = "80 1b 01",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF,
     .mmio_values = {3},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 1, 3), mmio_write(kMmio, 1, 1)}},
    {.name = "LockAdd",  // lock add [rbx], eax
     .code = "f0 01 03",
     .regs = {{RAX, 1}, {RBX, kMmio}},
     .mmio_values = {1},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 4, 1), mmio_write(kMmio, 4, 2)}},
    {.name = "LockOrQwordImm32",  // lock or qword [rbx], 0x12345678
     .code = "f0 48 81 0b 78 56 34 12",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x8000000000000000},
     .expect_rflags = kFlags | PF | SF,
     .expect_mmio = {mmio_read(kMmio, 8, 0x8000000000000000), mmio_write(kMmio, 8, 0x8000000012345678)}},
    {.name = "XorRegisterZeroExtends",  // xor eax, eax
     .code = "31 c0",
     .regs = {{RAX, ~0ull}},
     .expect_regs = {{RAX, 0}},
     .expect_rflags = kFlags | ZF | PF},
    {.name = "AddAlImmediate",  // add al, 5
     .code = "04 05",
     .regs = {{RAX, 0x123456789abcdefe}},
     .expect_regs = {{RAX, 0x123456789abcde03}},
     .expect_rflags = kFlags | CF | PF | AF},
    {.name = "AddRaxSignExtendedImm8",  // add rax, -1
     .code = "48 83 c0 ff",
     .regs = {{RAX, 0}},
     .expect_regs = {{RAX, ~0ull}},
     .expect_rflags = kFlags | PF | SF},
    {.name = "TestEaxImmediate",  // test eax, 0x100
     .code = "a9 00 01 00 00",
     .regs = {{RAX, 0x100}},
     .expect_rflags = kFlags | PF},
    {.name = "Inc32BitShortForm",  // inc eax (40)
     .mode = P32,
     .code = "40",
     .regs = {{RAX, 0xffffffff}},
     .expect_regs = {{RAX, 0}},
     .expect_rflags = kFlags | PF | AF | ZF},
    {.name = "Dec32BitShortForm",  // dec ecx (49)
     .mode = P32,
     .code = "49",
     .regs = {{RCX, 0}},
     .expect_regs = {{RCX, 0xffffffff}},
     .expect_rflags = kFlags | PF | AF | SF},
};
INSTANTIATE_TEST_SUITE_P(EmulatorAlu, EmulatorEngine, ::testing::ValuesIn(kAluCases), case_name);

// BT*: the immediate offset wraps at the operand width; a register offset addresses
// memory at base + (offset SAR log2 width) * size.
const Case kBitCases[] = {
    {.name = "BtImmediate",  // bt dword [rbx], 3
     .code = "0f ba 23 03",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x8},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio, 4, 8)}},
    {.name = "BtsImmediateMasked",  // bts dword [rbx], 35: bit 3
     .code = "0f ba 2b 23",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | CF,
     .mmio_values = {0},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 4, 0), mmio_write(kMmio, 4, 8)}},
    {.name = "BtRegisterOffsetMovesAddress",  // bt [rbx], ecx with ecx = 35: dword 1, bit 3
     .code = "0f a3 0b",
     .regs = {{RCX, 35}, {RBX, kMmio + 0x10}},
     .mmio_values = {0x8},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio + 0x14, 4, 8)}},
    {.name = "BtrNegativeOffset",  // btr [rbx], ecx with ecx = -1: dword -1, bit 31
     .code = "0f b3 0b",
     .regs = {{RCX, 0xffffffff}, {RBX, kMmio + 0x10}},
     .mmio_values = {0x80000000},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio + 0xc, 4, 0x80000000), mmio_write(kMmio + 0xc, 4, 0)}},
    {.name = "BtsWordOffset",  // bts word [rbx], cx with cx = 0x11: word 1, bit 1
     .code = "66 0f ab 0b",
     .regs = {{RCX, 0xffff0011}, {RBX, kMmio}},
     .expect_mmio = {mmio_read(kMmio + 2, 2, 0), mmio_write(kMmio + 2, 2, 2)}},
    {.name = "BtrQwordNegativeOffset",  // btr qword [rbx], rcx with rcx = -65: qword -2, bit 63
     .code = "48 0f b3 0b",
     .regs = {{RCX, u64(-65)}, {RBX, kMmio + 0x20}},
     .mmio_values = {0x8000000000000000},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio + 0x10, 8, 0x8000000000000000), mmio_write(kMmio + 0x10, 8, 0)}},
    {.name = "BtcMemoryImmediate",  // btc qword [rbx], 63
     .code = "48 0f ba 3b 3f",
     .regs = {{RBX, kMmio}},
     .mmio_values = {0x8000000000000001},
     .expect_rflags = kFlags | CF,
     .expect_mmio = {mmio_read(kMmio, 8, 0x8000000000000001), mmio_write(kMmio, 8, 1)}},
    {.name = "BtcRegister",  // btc eax, ecx with ecx = 33: bit 1
     .code = "0f bb c8",
     .regs = {{RAX, 0xffffffff00000000}, {RCX, 33}},
     .expect_regs = {{RAX, 2}}},
};
INSTANTIATE_TEST_SUITE_P(EmulatorBit, EmulatorEngine, ::testing::ValuesIn(kBitCases), case_name);

const Case kExchangeCases[] = {
    {.name = "XchgMemory",  // xchg [rbx], eax
     .code = "87 03",
     .regs = {{RAX, 0xffffffff22222222}, {RBX, kMmio}},
     .mmio_values = {0x11111111},
     .expect_regs = {{RAX, 0x11111111}},
     .expect_mmio = {mmio_read(kMmio, 4, 0x11111111), mmio_write(kMmio, 4, 0x22222222)}},
    {.name = "XchgR8Rax",  // xchg rax, r8 (49 90)
     .code = "49 90",
     .regs = {{RAX, 1}, {R8, 2}},
     .expect_regs = {{RAX, 2}, {R8, 1}}},
    {.name = "XchgHighByte",  // xchg [rbx], ah
     .code = "86 23",
     .regs = {{RAX, 0x1234}, {RBX, kMmio}},
     .mmio_values = {0x56},
     .expect_regs = {{RAX, 0x5634}},
     .expect_mmio = {mmio_read(kMmio, 1, 0x56), mmio_write(kMmio, 1, 0x12)}},
    {.name = "CmpxchgEqual",  // lock cmpxchg [rbx], ecx: eax == [rbx]
     .code = "f0 0f b1 0b",
     .regs = {{RAX, 0xaaaaaaaa00000005}, {RCX, 9}, {RBX, kMmio}},
     .mmio_values = {5},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 4, 5), mmio_write(kMmio, 4, 9)}},
    {.name = "CmpxchgNotEqualWritesBack",  // lock cmpxchg [rbx], ecx: eax != [rbx]
     .code = "f0 0f b1 0b",
     .regs = {{RAX, 0xaaaaaaaa00000004}, {RCX, 9}, {RBX, kMmio}},
     .mmio_values = {5},
     .expect_regs = {{RAX, 5}},
     .expect_rflags = kFlags | CF | PF | AF | SF,
     .expect_mmio = {mmio_read(kMmio, 4, 5), mmio_write(kMmio, 4, 5)}},
    {.name = "CmpxchgByte",  // cmpxchg [rbx], dl
     .code = "0f b0 13",
     .regs = {{RAX, 0x77}, {RDX, 0x88}, {RBX, kMmio}},
     .mmio_values = {0x77},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 1, 0x77), mmio_write(kMmio, 1, 0x88)}},
    {.name = "CmpxchgRegister",  // cmpxchg ecx, edx
     .code = "0f b1 d1",
     .regs = {{RAX, 1}, {RCX, 1}, {RDX, 7}},
     .expect_regs = {{RCX, 7}},
     .expect_rflags = kFlags | ZF | PF},
    {.name = "CmpxchgRegisterNotEqualLeavesDestination",  // cmpxchg ecx, edx: eax != ecx
     .code = "0f b1 d1",
     .regs = {{RAX, 0xffffffff00000002}, {RCX, 0xffffffff00000001}, {RDX, 7}},
     .expect_regs = {{RAX, 1}},
     .expect_rflags = kFlags},
    {.name = "XaddMemory",  // xadd [rbx], eax
     .code = "0f c1 03",
     .regs = {{RAX, 4}, {RBX, kMmio}},
     .mmio_values = {3},
     .expect_regs = {{RAX, 3}},
     .expect_rflags = kFlags,
     .expect_mmio = {mmio_read(kMmio, 4, 3), mmio_write(kMmio, 4, 7)}},
    {.name = "XaddSameRegister",  // xadd eax, eax: the sum wins
     .code = "0f c1 c0",
     .regs = {{RAX, 5}},
     .expect_regs = {{RAX, 10}},
     .expect_rflags = kFlags | PF},
    {.name = "LockXaddQword",  // lock xadd [rbx], rcx
     .code = "f0 48 0f c1 0b",
     .regs = {{RCX, 1}, {RBX, kMmio}},
     .mmio_values = {0xffffffffffffffff},
     .expect_regs = {{RCX, 0xffffffffffffffff}},
     .expect_rflags = kFlags | CF | PF | AF | ZF,
     .expect_mmio = {mmio_read(kMmio, 8, ~0ull), mmio_write(kMmio, 8, 0)}},
    {.name = "SeteMemory",  // sete byte [rbx]
     .code = "0f 94 03",
     .regs = {{RBX, kMmio}},
     .rflags = kFlags | ZF,
     .expect_mmio = {mmio_write(kMmio, 1, 1)}},
    {.name = "SetlRegister",  // setl al: SF != OF
     .code = "0f 9c c0",
     .regs = {{RAX, 0xff00}},
     .rflags = kFlags | SF,
     .expect_regs = {{RAX, 0xff01}}},
    {.name = "SetbHighByte",  // setb ah: CF = 0
     .code = "0f 92 c4",
     .regs = {{RAX, 0xffff}},
     .expect_regs = {{RAX, 0x00ff}}},
};
INSTANTIATE_TEST_SUITE_P(EmulatorExchange, EmulatorEngine, ::testing::ValuesIn(kExchangeCases), case_name);

constexpr u64 kStack = kRam + 0x8000;

const Case kStackCases[] = {
    {.name = "PushFromDevice",  // push qword [rbx]
     .code = "ff 33",
     .regs = {{RSP, kStack}, {RBX, kMmio}},
     .mmio_values = {0x1122334455667788},
     .expect_regs = {{RSP, kStack - 8}},
     .expect_memory = {{kStack - 8, 8, 0x1122334455667788}},
     .expect_mmio = {mmio_read(kMmio, 8, 0x1122334455667788)}},
    {.name = "PushRspPushesOldValue",  // push rsp
     .code = "54",
     .regs = {{RSP, kStack}},
     .expect_regs = {{RSP, kStack - 8}},
     .expect_memory = {{kStack - 8, 8, kStack}}},
    {.name = "PushImm8SignExtended",  // push -2
     .code = "6a fe",
     .regs = {{RSP, kStack}},
     .expect_regs = {{RSP, kStack - 8}},
     .expect_memory = {{kStack - 8, 8, 0xfffffffffffffffe}}},
    {.name = "PushImm32",  // push 0x12345678
     .code = "68 78 56 34 12",
     .regs = {{RSP, kStack}},
     .expect_regs = {{RSP, kStack - 8}},
     .expect_memory = {{kStack - 8, 8, 0x12345678}}},
    {.name = "PushWord",  // push ax
     .code = "66 50",
     .regs = {{RSP, kStack}, {RAX, 0xabcd}},
     .expect_regs = {{RSP, kStack - 2}},
     .expect_memory = {{kStack - 2, 2, 0xabcd}}},
    {.name = "PushRspRelativeSourceUsesOldRsp",  // push qword [rsp+8]
     .code = "ff 74 24 08",
     .regs = {{RSP, kStack}},
     .memory = {{kStack + 8, 8, 0x55}},
     .expect_regs = {{RSP, kStack - 8}},
     .expect_memory = {{kStack - 8, 8, 0x55}}},
    {.name = "PopToDevice",  // pop qword [rbx]
     .code = "8f 03",
     .regs = {{RSP, kStack}, {RBX, kMmio}},
     .memory = {{kStack, 8, 0x0102030405060708}},
     .expect_regs = {{RSP, kStack + 8}},
     .expect_mmio = {mmio_write(kMmio, 8, 0x0102030405060708)}},
    {.name = "PopRspRelativeUsesNewRsp",  // pop qword [rsp]
     .code = "8f 04 24",
     .regs = {{RSP, kStack}},
     .memory = {{kStack, 8, 0x99}, {kStack + 8, 8, 0}},
     .expect_regs = {{RSP, kStack + 8}},
     .expect_memory = {{kStack + 8, 8, 0x99}}},
    {.name = "PopRsp",  // pop rsp
     .code = "5c",
     .regs = {{RSP, kStack}},
     .memory = {{kStack, 8, 0x12345}},
     .expect_regs = {{RSP, 0x12345}}},
    {.name = "PopR12",  // pop r12
     .code = "41 5c",
     .regs = {{RSP, kStack}},
     .memory = {{kStack, 8, 0x777}},
     .expect_regs = {{RSP, kStack + 8}, {R12, 0x777}}},
    {.name = "Push32BitStack",  // push eax with SS.B = 1
     .mode = P32,
     .code = "50",
     .regs = {{RSP, 0x100}, {RAX, 0xdeadbeef}},
     .expect_regs = {{RSP, 0xfc}},
     .expect_memory = {{kRam + 0xfc, 4, 0xdeadbeef}},
     .segment_base = kRam},
    {.name = "Push16BitStackWraps",  // push eax with SS.B = 0 and SP = 2: SP wraps to 0xfffe
     .mode = P32,
     .code = "50",
     .regs = {{RSP, 0xdead0002}, {RAX, 0xdeadbeef}},
     .expect_regs = {{RSP, 0xdeadfffe}},
     .expect_memory = {{kRam + 0xfffe, 4, 0xdeadbeef}},
     .segment_base = kRam,
     .stack_32bit = false},
    {.name = "PopDword32BitMode",  // pop dword [ebx]
     .mode = P32,
     .code = "8f 03",
     .regs = {{RSP, 0x200}, {RBX, kMmio - kRam}},
     .memory = {{kRam + 0x200, 4, 0x31337}},
     .expect_regs = {{RSP, 0x204}},
     .expect_mmio = {mmio_write(kMmio, 4, 0x31337)},
     .segment_base = kRam},
    {.name = "PushReal16",  // push ax in real mode
     .mode = R16,
     .code = "50",
     .regs = {{RSP, 0x100}, {RAX, 0x1234}},
     .expect_regs = {{RSP, 0xfe}},
     .expect_memory = {{kRam + 0xfe, 2, 0x1234}},
     .segment_base = kRam,
     .stack_32bit = false},
};
INSTANTIATE_TEST_SUITE_P(EmulatorStack, EmulatorEngine, ::testing::ValuesIn(kStackCases), case_name);

// String instructions, with and without REP, both directions and every address size.
const Case kStringCases[] = {
    {.name = "RepStosd",  // rep stosd
     .code = "f3 ab",
     .regs = {{RAX, 0x11223344}, {RCX, 3}, {RDI, kRam + 0x100}},
     .expect_regs = {{RCX, 0}, {RDI, kRam + 0x10c}},
     .expect_memory = {{kRam + 0x100, 4, 0x11223344}, {kRam + 0x104, 4, 0x11223344}, {kRam + 0x108, 4, 0x11223344}}},
    {.name = "RepStosbBackwards",  // rep stosb with DF = 1
     .code = "f3 aa",
     .regs = {{RAX, 0xaa}, {RCX, 3}, {RDI, kRam + 0x102}},
     .rflags = kFlags | DF,
     .expect_regs = {{RCX, 0}, {RDI, kRam + 0xff}},
     .expect_memory = {{kRam + 0xff, 4, 0xaaaaaa00}}},
    {.name = "RepStosToDevice",  // rep stosd to a device: one access per element
     .code = "f3 ab",
     .regs = {{RAX, 7}, {RCX, 2}, {RDI, kMmio}},
     .expect_regs = {{RCX, 0}, {RDI, kMmio + 8}},
     .expect_mmio = {mmio_write(kMmio, 4, 7), mmio_write(kMmio + 4, 4, 7)}},
    {.name = "RepMovsdFromDevice",  // rep movsd
     .code = "f3 a5",
     .regs = {{RCX, 3}, {RSI, kMmio + 0x20}, {RDI, kRam + 0x200}},
     .mmio_values = {1, 2, 3},
     .expect_regs = {{RCX, 0}, {RSI, kMmio + 0x2c}, {RDI, kRam + 0x20c}},
     .expect_memory = {{kRam + 0x200, 4, 1}, {kRam + 0x204, 4, 2}, {kRam + 0x208, 4, 3}},
     .expect_mmio = {mmio_read(kMmio + 0x20, 4, 1), mmio_read(kMmio + 0x24, 4, 2), mmio_read(kMmio + 0x28, 4, 3)}},
    {.name = "MovsbOnce",  // movsb
     .code = "a4",
     .regs = {{RSI, kRam + 0x300}, {RDI, kMmio + 1}},
     .memory = {{kRam + 0x300, 1, 0x5a}},
     .expect_regs = {{RSI, kRam + 0x301}, {RDI, kMmio + 2}},
     .expect_mmio = {mmio_write(kMmio + 1, 1, 0x5a)}},
    {.name = "MovswBackwards",  // movsw with DF = 1
     .code = "66 a5",
     .regs = {{RSI, kRam + 0x300}, {RDI, kRam + 0x400}},
     .rflags = kFlags | DF,
     .memory = {{kRam + 0x300, 2, 0xbeef}},
     .expect_regs = {{RSI, kRam + 0x2fe}, {RDI, kRam + 0x3fe}},
     .expect_memory = {{kRam + 0x400, 2, 0xbeef}}},
    {.name = "RepMovswAddressSize32",  // addr32 rep movsw: ESI, EDI, ECX, zero-extended
     .code = "67 f3 66 a5",
     .regs = {{RCX, 0xdead000000000002}, {RSI, 0xffffffff00000000 | (kRam + 0x300)}, {RDI, 0x100000000 | kRam}},
     .memory = {{kRam + 0x300, 4, 0x22221111}},
     .expect_regs = {{RCX, 0}, {RSI, kRam + 0x304}, {RDI, kRam + 4}},
     .expect_memory = {{kRam, 4, 0x22221111}}},
    {.name = "RepStosbAddressSize16Wraps",  // rep stosb in real mode: DI wraps, upper bits kept
     .mode = R16,
     .code = "f3 aa",
     .regs = {{RAX, 0x77}, {RCX, 0x5550002}, {RDI, 0xabcdffff}},
     .expect_regs = {{RCX, 0x5550000}, {RDI, 0xabcd0001}},
     .expect_memory = {{kRam + 0xffff, 1, 0x77}, {kRam, 1, 0x77}},
     .segment_base = kRam},
    {.name = "Lodsd",  // lodsd
     .code = "ad",
     .regs = {{RAX, ~0ull}, {RSI, kMmio}},
     .mmio_values = {0x12345678},
     .expect_regs = {{RAX, 0x12345678}, {RSI, kMmio + 4}},
     .expect_mmio = {mmio_read(kMmio, 4, 0x12345678)}},
    {.name = "RepLodsq",  // rep lodsq
     .code = "f3 48 ad",
     .regs = {{RCX, 2}, {RSI, kMmio}},
     .mmio_values = {1, 2},
     .expect_regs = {{RAX, 2}, {RCX, 0}, {RSI, kMmio + 16}},
     .expect_mmio = {mmio_read(kMmio, 8, 1), mmio_read(kMmio + 8, 8, 2)}},
    {.name = "RepeCmpsbStopsAtMismatch",  // repe cmpsb: "abcx" vs "abcd"
     .code = "f3 a6",
     .regs = {{RCX, 10}, {RSI, kRam + 0x500}, {RDI, kRam + 0x600}},
     .memory = {{kRam + 0x500, 4, 0x78636261}, {kRam + 0x600, 4, 0x64636261}},
     .expect_regs = {{RCX, 6}, {RSI, kRam + 0x504}, {RDI, kRam + 0x604}},
     .expect_rflags = kFlags | PF},
    {.name = "RepeCmpsbRunsOut",  // repe cmpsb over equal strings: stops with rCX = 0, ZF = 1
     .code = "f3 a6",
     .regs = {{RCX, 3}, {RSI, kRam + 0x500}, {RDI, kRam + 0x600}},
     .memory = {{kRam + 0x500, 4, 0x78636261}, {kRam + 0x600, 4, 0x64636261}},
     .expect_regs = {{RCX, 0}, {RSI, kRam + 0x503}, {RDI, kRam + 0x603}},
     .expect_rflags = kFlags | ZF | PF},
    {.name = "RepneScasbFinds",  // repne scasb for 0x33
     .code = "f2 ae",
     .regs = {{RAX, 0x33}, {RCX, 10}, {RDI, kRam + 0x700}},
     .memory = {{kRam + 0x700, 4, 0x44332211}},
     .expect_regs = {{RCX, 7}, {RDI, kRam + 0x703}},
     .expect_rflags = kFlags | ZF | PF},
    {.name = "Scasw",  // scasw: ax - [rdi]
     .code = "66 af",
     .regs = {{RAX, 0x1000}, {RDI, kMmio}},
     .mmio_values = {0x1000},
     .expect_regs = {{RDI, kMmio + 2}},
     .expect_rflags = kFlags | ZF | PF,
     .expect_mmio = {mmio_read(kMmio, 2, 0x1000)}},
    {.name = "RepMovsbFsSource",  // rep movsb with fs: source
     .code = "f3 64 a4",
     .regs = {{RCX, 2}, {RSI, 0x10}, {RDI, kRam + 0x800}},
     .mmio_values = {0xa1, 0xb2},
     .expect_regs = {{RCX, 0}, {RSI, 0x12}, {RDI, kRam + 0x802}},
     .expect_memory = {{kRam + 0x800, 2, 0xb2a1}},
     .expect_mmio = {mmio_read(kMmio + 0x10, 1, 0xa1), mmio_read(kMmio + 0x11, 1, 0xb2)},
     .segment_base = kMmio},
    {.name = "RepWithZeroCountDoesNothing",  // rep stosd, rcx = 0
     .code = "f3 ab",
     .regs = {{RCX, 0}, {RDI, 0}}},
    {.name = "RepCountIsAddressSized",  // addr32 rep stosb with rcx = 1 << 32: ECX = 0
     .code = "67 f3 aa",
     .regs = {{RCX, 0x100000000}, {RDI, 0}}},
    {.name = "RepneMovsRepeats",  // F2 A4 repeats like REP
     .code = "f2 a4",
     .regs = {{RCX, 2}, {RSI, kRam}, {RDI, kMmio}},
     .memory = {{kRam, 2, 0x0201}},
     .expect_regs = {{RCX, 0}, {RSI, kRam + 2}, {RDI, kMmio + 2}},
     .expect_mmio = {mmio_write(kMmio, 1, 1), mmio_write(kMmio + 1, 1, 2)}},
    {.name = "Protected32RepStoswEsBase",  // rep stosw: ES base applies to EDI
     .mode = P32,
     .code = "66 f3 ab",
     .regs = {{RAX, 0x5151}, {RCX, 2}, {RDI, 0x20}},
     .expect_regs = {{RCX, 0}, {RDI, 0x24}},
     .expect_mmio = {mmio_write(kMmio + 0x20, 2, 0x5151), mmio_write(kMmio + 0x22, 2, 0x5151)},
     .segment_base = kMmio},
};
INSTANTIATE_TEST_SUITE_P(EmulatorString, EmulatorEngine, ::testing::ValuesIn(kStringCases), case_name);

// ---------------------------------------------------------------------------------
// Tests that need more than the table: REP chunks, faults, vector registers.

TEST(EmulatorRep, LongRepRunsInChunksLeavingRipOnTheInstruction) {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    const u64 total = kMaxRepIterations + 5;
    cpu.gpr[RCX] = total;
    cpu.gpr[RDI] = kRam;
    cpu.gpr[RAX] = 0x3c;
    EmulationResult result = emulate(env, cpu, "f3 aa");  // rep stosb
    ASSERT_EQ(result.kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, kRip);
    EXPECT_EQ(cpu.gpr[RCX], 5u);
    EXPECT_EQ(cpu.gpr[RDI], kRam + kMaxRepIterations);
    result = emulate(env, cpu, "f3 aa");
    ASSERT_EQ(result.kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, kRip + 2);
    EXPECT_EQ(cpu.gpr[RCX], 0u);
    EXPECT_EQ(cpu.gpr[RDI], kRam + total);
    EXPECT_EQ(env.peek(kRam + total - 1, 1), 0x3cu);
    EXPECT_EQ(env.peek(kRam + total, 1), 0u);
}

TEST(EmulatorRep, FaultKeepsCompletedIterations) {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    cpu.gpr[RCX] = 4;
    cpu.gpr[RDI] = kRam + 0x100;
    cpu.gpr[RAX] = 0x01020304;
    env.fault_address = kRam + 0x108;
    const EmulationResult result = emulate(env, cpu, "f3 ab");  // rep stosd
    ASSERT_EQ(result.kind, EmulationResult::Exception);
    EXPECT_EQ(result.exception.vector, kVectorPf);
    EXPECT_EQ(result.exception.error_code, kPfPresent | kPfWrite);
    EXPECT_EQ(result.exception.cr2, kRam + 0x108);
    EXPECT_EQ(cpu.rip, kRip);
    EXPECT_EQ(cpu.gpr[RCX], 2u);
    EXPECT_EQ(cpu.gpr[RDI], kRam + 0x108);
    EXPECT_EQ(env.peek(kRam + 0x104, 4), 0x01020304u);
}

TEST(EmulatorRep, RetryAfterProgressBecomesDoneWithoutAdvancing) {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    cpu.gpr[RCX] = 4;
    cpu.gpr[RDI] = kMmio;
    env.fail_at = 1;
    env.fail_outcome.status = MemoryStatus::Retry;
    const EmulationResult result = emulate(env, cpu, "f3 ab");
    ASSERT_EQ(result.kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, kRip);
    EXPECT_EQ(cpu.gpr[RCX], 3u);
    EXPECT_EQ(cpu.gpr[RDI], kMmio + 4);
    EXPECT_EQ(env.mmio_log.size(), 1u);
}

TEST(EmulatorRep, CmpsStopsEarlyAcrossChunks) {
    // REPE CMPSB over more than one chunk of equal bytes continues in the next call.
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    cpu.gpr[RCX] = 3000;
    cpu.gpr[RSI] = kRam;
    cpu.gpr[RDI] = kRam + 0x2000;
    env.poke(kRam + 1500, 1, 1);  // first difference at element 1500
    EmulationResult result = emulate(env, cpu, "f3 a6");
    ASSERT_EQ(result.kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, kRip);
    EXPECT_EQ(cpu.gpr[RCX], 3000 - kMaxRepIterations);
    result = emulate(env, cpu, "f3 a6");
    ASSERT_EQ(result.kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, kRip + 2);
    EXPECT_EQ(cpu.gpr[RCX], 3000u - 1501u);
    EXPECT_EQ(cpu.gpr[RSI], kRam + 1501);
    EXPECT_EQ(cpu.rflags & kRflagsZf, 0u);
}

TEST(EmulatorString, SourceSegmentOverrideDestinationAlwaysEs) {
    // Protected mode with distinct bases: movsb reads DS:ESI (or the override), writes
    // ES:EDI whatever the prefix says.
    const struct {
        const char* code;
        Segment source;
    } cases[] = {{"a4", Segment::DS}, {"26 a4", Segment::ES}, {"2e a4", Segment::CS}, {"64 a4", Segment::FS}};
    for (const auto& c : cases) {
        FakeEnvironment env;
        EmulatorCpuState cpu = initial_cpu(P32);
        for (unsigned s = 0; s < 6; ++s) cpu.segment_base[s] = kRam + 0x1000 * (s + 1);
        cpu.segment_base[unsigned(Segment::ES)] = kMmio;
        cpu.gpr[RSI] = 0x10;
        cpu.gpr[RDI] = 0x20;
        const u64 source = (c.source == Segment::ES ? kMmio : kRam + 0x1000 * (unsigned(c.source) + 1)) + 0x10;
        if (c.source != Segment::ES) env.poke(source, 0x40 + unsigned(c.source), 1);
        env.mmio_values = {0x40 + unsigned(c.source)};
        ASSERT_EQ(emulate(env, cpu, c.code).kind, EmulationResult::Done) << c.code;
        ASSERT_FALSE(env.mmio_log.empty()) << c.code;
        EXPECT_EQ(env.mmio_log.back(), mmio_write(kMmio + 0x20, 1, 0x40 + unsigned(c.source))) << c.code;
        EXPECT_EQ(cpu.gpr[RSI], 0x11u);
        EXPECT_EQ(cpu.gpr[RDI], 0x21u);
    }
}

// Faults: the vector and error code, and that nothing changed.
struct FaultCase {
    const char* name;
    const char* code;
    std::vector<RegValue> regs;
    u8 vector;
    bool has_error_code = true;
    u32 error_code = 0;
    u8 cpl = 0;
    bool la57 = false;
    std::optional<u64> fault_address;
    u64 cr2 = 0;
};

std::ostream& operator<<(std::ostream& out, const FaultCase& c) { return out << c.name << " [" << c.code << "]"; }

class EmulatorFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(EmulatorFault, RaisesAndChangesNothing) {
    const FaultCase& c = GetParam();
    FakeEnvironment env;
    env.fault_address = c.fault_address;
    EmulatorCpuState cpu = initial_cpu(L64);
    cpu.cpl = c.cpl;
    cpu.la57 = c.la57;
    for (const RegValue& r : c.regs) cpu.gpr[r.reg] = r.value;
    const EmulatorCpuState before = cpu;
    const EmulationResult result = emulate(env, cpu, c.code);
    ASSERT_EQ(result.kind, EmulationResult::Exception) << emulation_result_name(result.kind);
    EXPECT_EQ(result.exception.vector, c.vector);
    EXPECT_EQ(result.exception.has_error_code, c.has_error_code);
    EXPECT_EQ(result.exception.error_code, c.error_code);
    if (c.vector == kVectorPf) EXPECT_EQ(result.exception.cr2, c.cr2);
    EXPECT_EQ(memcmp(cpu.gpr, before.gpr, sizeof(cpu.gpr)), 0);
    EXPECT_EQ(cpu.rip, before.rip);
    EXPECT_EQ(cpu.rflags, before.rflags);
    for (const MmioAccess& a : env.mmio_log) EXPECT_FALSE(a.write) << a;
}

constexpr u64 kNonCanonical = 0x0000800000000000;

const FaultCase kFaultCases[] = {
    {.name = "NonCanonicalGp", .code = "8b 03", .regs = {{RBX, kNonCanonical}}, .vector = kVectorGp},
    {.name = "NonCanonicalHighHalfGp", .code = "89 03", .regs = {{RBX, 0xff7fffffffffffff}}, .vector = kVectorGp},
    {.name = "AccessCrossingIntoNonCanonicalGp",  // mov eax, [rbx] at 0x7ffffffffffe
     .code = "8b 03",
     .regs = {{RBX, 0x00007ffffffffffe}},
     .vector = kVectorGp},
    {.name = "CanonicalWithLa57GoesToPaging",  // 57-bit canonical: the walk faults instead
     .code = "8b 03",
     .regs = {{RBX, kNonCanonical}},
     .vector = kVectorPf,
     .error_code = 0,
     .la57 = true,
     .cr2 = kNonCanonical},
    {.name = "StackSegmentSs", .code = "8b 45 00", .regs = {{RBP, kNonCanonical}}, .vector = kVectorSs},
    {.name = "RspBaseSs", .code = "8b 44 24 04", .regs = {{RSP, kNonCanonical}}, .vector = kVectorSs},
    {.name = "PushNonCanonicalSs", .code = "50", .regs = {{RSP, kNonCanonical + 8}}, .vector = kVectorSs},
    {.name = "NotPresentPageFault",  // mov eax, [rbx] outside any memory
     .code = "8b 03",
     .regs = {{RBX, 0x500000}},
     .vector = kVectorPf,
     .error_code = 0,
     .cr2 = 0x500000},
    {.name = "UserWritePageFault",  // mov [rbx], eax at CPL 3
     .code = "89 03",
     .regs = {{RBX, kRam + 0x40}},
     .vector = kVectorPf,
     .error_code = kPfPresent | kPfWrite | kPfUser,
     .cpl = 3,
     .fault_address = kRam + 0x42,
     .cr2 = kRam + 0x42},
    {.name = "ReadModifyWriteFaultsAsWrite",  // add [rbx], eax on a faulting page: W/R = 1
     .code = "01 03",
     .regs = {{RBX, kRam + 0x40}},
     .vector = kVectorPf,
     .error_code = kPfPresent | kPfWrite,
     .fault_address = kRam + 0x40,
     .cr2 = kRam + 0x40},
    {.name = "PopToFaultingMemoryKeepsRsp",  // pop qword [rbx]: the write faults
     .code = "8f 03",
     .regs = {{RSP, kStack}, {RBX, 0x500000}},
     .vector = kVectorPf,
     .error_code = kPfWrite,
     .cr2 = 0x500000},
    {.name = "MovdqaMisalignedGp",  // movdqa xmm1, [rbx] with rbx % 16 = 8
     .code = "66 0f 6f 0b",
     .regs = {{RBX, kMmio + 8}},
     .vector = kVectorGp},
    {.name = "MovapsStoreMisalignedGp",  // movaps [rbx], xmm3
     .code = "0f 29 1b",
     .regs = {{RBX, kRam + 4}},
     .vector = kVectorGp},
};
INSTANTIATE_TEST_SUITE_P(EmulatorFaults, EmulatorFault, ::testing::ValuesIn(kFaultCases),
                         [](const ::testing::TestParamInfo<FaultCase>& info) { return std::string(info.param.name); });

TEST(EmulatorFaults, WriteFaultAfterReadLeavesFlagsAndRegisters) {
    // xadd [rbx], eax: the read succeeds, the write faults; EAX and the flags stay.
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    cpu.gpr[RBX] = kRam + 0x40;
    env.poke(kRam + 0x40, 5, 4);
    env.fail_at = 1;
    env.fail_outcome = exception_outcome(kVectorPf, kPfPresent | kPfWrite, kRam + 0x40);
    const EmulatorCpuState before = cpu;
    const EmulationResult result = emulate(env, cpu, "0f c1 03");
    ASSERT_EQ(result.kind, EmulationResult::Exception);
    EXPECT_EQ(result.exception.vector, kVectorPf);
    EXPECT_EQ(result.exception.cr2, kRam + 0x40);
    EXPECT_EQ(memcmp(cpu.gpr, before.gpr, sizeof(cpu.gpr)), 0);
    EXPECT_EQ(cpu.rflags, before.rflags);
    EXPECT_EQ(cpu.rip, before.rip);
    EXPECT_EQ(env.peek(kRam + 0x40, 4), 5u);
}

TEST(EmulatorFaults, RetryAndUnhandlablePassThrough) {
    for (MemoryStatus status : {MemoryStatus::Retry, MemoryStatus::Unhandlable}) {
        FakeEnvironment env;
        EmulatorCpuState cpu = initial_cpu(L64);
        cpu.gpr[RBX] = kMmio;
        env.fail_at = 0;
        env.fail_outcome.status = status;
        env.fail_outcome.reason = "no device";
        const EmulatorCpuState before = cpu;
        const EmulationResult result = emulate(env, cpu, "8b 03");
        if (status == MemoryStatus::Retry) {
            EXPECT_EQ(result.kind, EmulationResult::Retry);
        } else {
            EXPECT_EQ(result.kind, EmulationResult::Unhandlable);
            EXPECT_STREQ(result.reason, "no device");
        }
        EXPECT_EQ(memcmp(cpu.gpr, before.gpr, sizeof(cpu.gpr)), 0);
        EXPECT_EQ(cpu.rip, before.rip);
    }
}

TEST(EmulatorFaults, LockOnlyOnReadModifyWriteMemory) {
    // The decoder refuses these encodings already; the emulator checks instructions built
    // by hand too.
    const char* const refused[] = {
        "89 03",     // mov [rbx], eax
        "01 d8",     // add eax, ebx (register destination)
        "03 03",     // add eax, [rbx] (memory source)
        "83 3b 05",  // cmp dword [rbx], 5
        "85 03",     // test [rbx], eax
        "0f a3 0b",  // bt [rbx], ecx
        "49 90",     // xchg rax, r8
        "0f 94 03",  // sete [rbx]
        "ab",        // stosd
    };
    for (const char* code : refused) {
        FakeEnvironment env;
        EmulatorCpuState cpu = initial_cpu(L64);
        cpu.gpr[RBX] = kMmio;
        DecodedInstruction insn = decode_for(L64, code);
        insn.prefixes.lock = true;
        const EmulationResult result = emulate_instruction(insn, cpu, env);
        EXPECT_EQ(result.kind, EmulationResult::Exception) << code;
        EXPECT_EQ(result.exception.vector, kVectorUd) << code;
        EXPECT_FALSE(result.exception.has_error_code) << code;
        EXPECT_TRUE(env.mmio_log.empty()) << code;
    }
    const char* const allowed[] = {"01 03", "0f ab 0b", "87 03", "0f b1 0b", "0f c1 03", "f6 13", "ff 03"};
    for (const char* code : allowed) {
        FakeEnvironment env;
        EmulatorCpuState cpu = initial_cpu(L64);
        cpu.gpr[RBX] = kMmio;
        cpu.gpr[RCX] = 0;
        DecodedInstruction insn = decode_for(L64, code);
        insn.prefixes.lock = true;
        EXPECT_EQ(emulate_instruction(insn, cpu, env).kind, EmulationResult::Done) << code;
    }
}

TEST(EmulatorUnsupported, OtherNamesTheOpcode) {
    struct Expectation {
        const char* code;
        const char* reason;
    };
    const Expectation cases[] = {
        {"f4", "opcode F4 not emulated"},
        {"0f 31", "opcode 0F 31 not emulated"},  // rdtsc
        {"8c d8", "MOV to or from a segment register not emulated"},
        {"0f a2", "opcode 0F A2 not emulated"},
        {"8e d8", "MOV to or from a segment register not emulated"},
        {"66 0f 38 00 c1", "0F 38 opcode not emulated"},
        {"c5 f9 6f 03", "VEX-encoded instruction not emulated"},
    };
    for (const Expectation& e : cases) {
        FakeEnvironment env;
        EmulatorCpuState cpu = initial_cpu(L64);
        const EmulatorCpuState before = cpu;
        const EmulationResult result = emulate(env, cpu, e.code);
        EXPECT_EQ(result.kind, EmulationResult::Unsupported) << e.code;
        ASSERT_NE(result.reason, nullptr);
        EXPECT_STREQ(result.reason, e.reason);
        EXPECT_EQ(cpu.rip, before.rip);
        EXPECT_TRUE(env.accesses.empty());
    }
}

TEST(EmulatorUnsupported, ModeMismatch) {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(P32);
    const DecodedInstruction insn = decode_for(L64, "89 03");
    EXPECT_EQ(emulate_instruction(insn, cpu, env).kind, EmulationResult::Unsupported);
}

TEST(EmulatorRip, WrapsOutside64BitMode) {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(P16);
    cpu.rip = 0xffff;
    ASSERT_EQ(emulate(env, cpu, "31 c0").kind, EmulationResult::Done);  // xor ax, ax
    EXPECT_EQ(cpu.rip, 1u);
    cpu = initial_cpu(P32);
    cpu.rip = 0xfffffffe;
    ASSERT_EQ(emulate(env, cpu, "89 d1 ").kind, EmulationResult::Done);  // mov ecx, edx
    EXPECT_EQ(cpu.rip, 0u);
    cpu = initial_cpu(L64);
    cpu.rip = 0xfffffffe;
    ASSERT_EQ(emulate(env, cpu, "89 d1").kind, EmulationResult::Done);
    EXPECT_EQ(cpu.rip, 0x100000000u);
}

TEST(EmulatorNames, ResultNames) {
    EXPECT_STREQ(emulation_result_name(EmulationResult::Done), "Done");
    EXPECT_STREQ(emulation_result_name(EmulationResult::Exception), "Exception");
    EXPECT_STREQ(emulation_result_name(EmulationResult::Retry), "Retry");
    EXPECT_STREQ(emulation_result_name(EmulationResult::Unsupported), "Unsupported");
    EXPECT_STREQ(emulation_result_name(EmulationResult::Unhandlable), "Unhandlable");
}

// ---------------------------------------------------------------------------------
// MMX and SSE moves.

void fill(u8* bytes, usize size, u8 first) {
    for (usize i = 0; i < size; ++i) bytes[i] = u8(first + i);
}

std::vector<u8> bytes_of(const u8* p, usize size) { return std::vector<u8>(p, p + size); }

// first..first+size-1 followed by zeros up to `total` bytes.
std::vector<u8> pattern(u8 first, usize size, usize total) {
    std::vector<u8> out(total, 0);
    for (usize i = 0; i < size; ++i) out[i] = u8(first + i);
    return out;
}

struct VectorFixture {
    FakeEnvironment env;
    EmulatorCpuState cpu = initial_cpu(L64);
    VectorFixture() {
        for (unsigned i = 0; i < 16; ++i) fill(env.xmm[i], 16, u8(0x10 * i));
        for (unsigned i = 0; i < 8; ++i) fill(env.mmx[i], 8, u8(0x80 + 0x08 * i));
        cpu.gpr[RBX] = kMmio;
    }
    EmulationResult run(const char* code) { return emulate(env, cpu, code); }
};

TEST(EmulatorSse, MovdLoadZeroExtendsXmm) {
    VectorFixture f;
    f.env.mmio_values = {0x44332211};
    ASSERT_EQ(f.run("66 0f 6e 0b").kind, EmulationResult::Done);  // movd xmm1, [rbx]
    const u8 expect[16] = {0x11, 0x22, 0x33, 0x44};
    EXPECT_EQ(bytes_of(f.env.xmm[1], 16), bytes_of(expect, 16));
    EXPECT_EQ(f.env.mmio_log, std::vector<MmioAccess>{mmio_read(kMmio, 4, 0x44332211)});
    EXPECT_EQ(f.cpu.rip, kRip + 4);
}

TEST(EmulatorSse, MovdStore) {
    VectorFixture f;
    ASSERT_EQ(f.run("66 0f 7e 0b").kind, EmulationResult::Done);  // movd [rbx], xmm1
    EXPECT_EQ(f.env.mmio_log, std::vector<MmioAccess>{mmio_write(kMmio, 4, 0x13121110)});
}

TEST(EmulatorSse, MovqToGpr) {
    VectorFixture f;
    ASSERT_EQ(f.run("66 48 0f 7e d0").kind, EmulationResult::Done);  // movq rax, xmm2
    EXPECT_EQ(f.cpu.gpr[RAX], 0x2726252423222120u);
}

TEST(EmulatorSse, MovqFromGprZeroExtends) {
    VectorFixture f;
    f.cpu.gpr[RCX] = 0x0807060504030201;
    ASSERT_EQ(f.run("66 48 0f 6e e9").kind, EmulationResult::Done);  // movq xmm5, rcx
    EXPECT_EQ(bytes_of(f.env.xmm[5], 16), pattern(1, 8, 16));
}

TEST(EmulatorSse, MovdMmxLoadAndStore) {
    VectorFixture f;
    f.env.mmio_values = {0xaabbccdd};
    ASSERT_EQ(f.run("0f 6e 03").kind, EmulationResult::Done);  // movd mm0, [rbx]
    const u8 expect[8] = {0xdd, 0xcc, 0xbb, 0xaa};
    EXPECT_EQ(bytes_of(f.env.mmx[0], 8), bytes_of(expect, 8));
    ASSERT_EQ(f.run("0f 7f 0b").kind, EmulationResult::Done);  // movq [rbx], mm1
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 8, 0x8f8e8d8c8b8a8988));
    f.cpu.gpr[RAX] = 0xffffffff12345678;
    ASSERT_EQ(f.run("0f 6e c8").kind, EmulationResult::Done);  // movd mm1, eax
    const u8 mm1[8] = {0x78, 0x56, 0x34, 0x12};
    EXPECT_EQ(bytes_of(f.env.mmx[1], 8), bytes_of(mm1, 8));
    f.cpu.gpr[RAX] = ~0ull;
    ASSERT_EQ(f.run("0f 7e c8").kind, EmulationResult::Done);  // movd eax, mm1
    EXPECT_EQ(f.cpu.gpr[RAX], 0x12345678u);
    ASSERT_EQ(f.run("0f 6f d3").kind, EmulationResult::Done);  // movq mm2, mm3
    EXPECT_EQ(bytes_of(f.env.mmx[2], 8), bytes_of(f.env.mmx[3], 8));
}

TEST(EmulatorSse, MovqXmmLoadStoreAndRegister) {
    VectorFixture f;
    f.env.mmio_values = {0x0807060504030201};
    ASSERT_EQ(f.run("f3 0f 7e 03").kind, EmulationResult::Done);  // movq xmm0, [rbx]
    EXPECT_EQ(bytes_of(f.env.xmm[0], 16), pattern(1, 8, 16));
    ASSERT_EQ(f.run("66 0f d6 03").kind, EmulationResult::Done);  // movq [rbx], xmm0
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 8, 0x0807060504030201));
    ASSERT_EQ(f.run("f3 0f 7e d3").kind, EmulationResult::Done);  // movq xmm2, xmm3
    EXPECT_EQ(bytes_of(f.env.xmm[2], 16), pattern(0x30, 8, 16));
    ASSERT_EQ(f.run("66 0f d6 e5").kind, EmulationResult::Done);  // movq xmm5, xmm4 (store form)
    EXPECT_EQ(bytes_of(f.env.xmm[5], 16), pattern(0x40, 8, 16));
}

TEST(EmulatorSse, MovdqaIsOne16ByteAccess) {
    VectorFixture f;
    f.env.mmio_values = {0x0706050403020100, 0x0f0e0d0c0b0a0908};
    ASSERT_EQ(f.run("66 0f 6f 0b").kind, EmulationResult::Done);  // movdqa xmm1, [rbx]
    EXPECT_EQ(bytes_of(f.env.xmm[1], 16), pattern(0, 16, 16));
    EXPECT_EQ(f.env.mmio_log, std::vector<MmioAccess>{mmio_read(kMmio, 16, 0x0706050403020100, 0x0f0e0d0c0b0a0908)});
    ASSERT_EQ(f.run("66 44 0f 7f 0b").kind, EmulationResult::Done);  // movdqa [rbx], xmm9
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 16, 0x9796959493929190, 0x9f9e9d9c9b9a9998));
    ASSERT_EQ(f.run("66 0f 6f ca").kind, EmulationResult::Done);  // movdqa xmm1, xmm2
    EXPECT_EQ(bytes_of(f.env.xmm[1], 16), pattern(0x20, 16, 16));
}

TEST(EmulatorSse, UnalignedMovesAllowMisalignment) {
    VectorFixture f;
    ASSERT_EQ(f.run("f3 0f 7f 4b 01").kind, EmulationResult::Done);  // movdqu [rbx+1], xmm1
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio + 1, 16, 0x1716151413121110, 0x1f1e1d1c1b1a1918));
    f.cpu.gpr[RBX] = kMmio + 3;
    f.env.mmio_values = {1, 2};
    ASSERT_EQ(f.run("0f 10 23").kind, EmulationResult::Done);  // movups xmm4, [rbx]
    EXPECT_EQ(f.env.mmio_log.back(), mmio_read(kMmio + 3, 16, 1, 2));
    ASSERT_EQ(f.run("66 0f 11 23").kind, EmulationResult::Done);  // movupd [rbx], xmm4
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio + 3, 16, 1, 2));
}

TEST(EmulatorSse, AlignedPackedMoves) {
    VectorFixture f;
    ASSERT_EQ(f.run("0f 29 1b").kind, EmulationResult::Done);  // movaps [rbx], xmm3
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 16, 0x3736353433323130, 0x3f3e3d3c3b3a3938));
    f.env.mmio_values = {5, 6};
    ASSERT_EQ(f.run("66 0f 28 1b").kind, EmulationResult::Done);  // movapd xmm3, [rbx]
    const u8 expect[16] = {5, 0, 0, 0, 0, 0, 0, 0, 6};
    EXPECT_EQ(bytes_of(f.env.xmm[3], 16), bytes_of(expect, 16));
}

TEST(EmulatorSse, ScalarMovesZeroFromMemoryMergeFromRegister) {
    VectorFixture f;
    f.env.mmio_values = {0xddccbbaa};
    ASSERT_EQ(f.run("f3 0f 10 0b").kind, EmulationResult::Done);  // movss xmm1, [rbx]
    const u8 ss[16] = {0xaa, 0xbb, 0xcc, 0xdd};
    EXPECT_EQ(bytes_of(f.env.xmm[1], 16), bytes_of(ss, 16));
    ASSERT_EQ(f.run("f3 0f 10 e2").kind, EmulationResult::Done);  // movss xmm4, xmm2
    for (usize i = 0; i < 16; ++i) EXPECT_EQ(f.env.xmm[4][i], u8(i < 4 ? 0x20 + i : 0x40 + i));
    ASSERT_EQ(f.run("f3 0f 11 0b").kind, EmulationResult::Done);  // movss [rbx], xmm1
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 4, 0xddccbbaa));
    f.env.mmio_values = {0x1122334455667788};
    ASSERT_EQ(f.run("f2 0f 10 33").kind, EmulationResult::Done);  // movsd xmm6, [rbx]
    const u8 sd[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    EXPECT_EQ(bytes_of(f.env.xmm[6], 16), bytes_of(sd, 16));
    ASSERT_EQ(f.run("f2 0f 10 fa").kind, EmulationResult::Done);  // movsd xmm7, xmm2
    for (usize i = 0; i < 16; ++i) EXPECT_EQ(f.env.xmm[7][i], u8(i < 8 ? 0x20 + i : 0x70 + i));
    f.env.xmm[7][0] = 0;
    ASSERT_EQ(f.run("f2 0f 11 d7").kind, EmulationResult::Done);  // movsd xmm7, xmm2 (store form)
    for (usize i = 0; i < 16; ++i) EXPECT_EQ(f.env.xmm[7][i], u8(i < 8 ? 0x20 + i : 0x70 + i));
    ASSERT_EQ(f.run("f2 0f 11 0b").kind, EmulationResult::Done);  // movsd [rbx], xmm1
    EXPECT_EQ(f.env.mmio_log.back(), mmio_write(kMmio, 8, 0xddccbbaa));
}

TEST(EmulatorSse, ControlRegisterChecks) {
    struct Check {
        u64 cr0;
        u64 cr4;
        const char* code;
        u8 vector;  // 0: runs
    };
    const Check checks[] = {
        {kCr0Pe | kCr0Em, kCr4Osfxsr, "66 0f 6e 0b", kVectorUd},  // movd xmm1, [rbx]
        {kCr0Pe | kCr0Em, kCr4Osfxsr, "0f 6e 03", kVectorUd},     // movd mm0, [rbx]
        {kCr0Pe, 0, "66 0f 6f 0b", kVectorUd},                    // movdqa without OSFXSR
        {kCr0Pe, 0, "0f 6e 03", 0},                               // MMX does not need OSFXSR
        {kCr0Pe | kCr0Ts, kCr4Osfxsr, "0f 10 23", kVectorNm},     // movups with TS
        {kCr0Pe | kCr0Ts, kCr4Osfxsr, "0f 6f d3", kVectorNm},     // movq mm2, mm3 with TS
        {kCr0Pe | kCr0Ts | kCr0Em, kCr4Osfxsr, "0f 6f d3", kVectorUd},
        {kCr0Pe | kCr0Ts, 0, "f3 0f 10 0b", kVectorUd},  // #UD before #NM
    };
    for (const Check& c : checks) {
        VectorFixture f;
        f.cpu.cr0 = c.cr0;
        f.cpu.cr4 = c.cr4;
        const EmulationResult result = f.run(c.code);
        if (c.vector == 0) {
            EXPECT_EQ(result.kind, EmulationResult::Done) << c.code;
            continue;
        }
        ASSERT_EQ(result.kind, EmulationResult::Exception) << c.code;
        EXPECT_EQ(result.exception.vector, c.vector) << c.code;
        EXPECT_FALSE(result.exception.has_error_code) << c.code;
        EXPECT_TRUE(f.env.accesses.empty()) << c.code;
        EXPECT_EQ(f.cpu.rip, kRip) << c.code;
    }
}

}  // namespace
