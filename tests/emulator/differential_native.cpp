#include "tests/emulator/differential_native.hpp"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace differential {
namespace {

constexpr usize kCodeSize = 4096;
// Where the instruction under test starts in the code page: the prologue below is
// shorter than this, and padding it with NOPs keeps the instruction's address (and so
// any RIP-relative displacement the tests compute) the same for every instruction.
constexpr usize kInstructionOffset = 512;

constexpr i32 kOffsetRflags = offsetof(MachineState, rflags);
constexpr i32 kOffsetHostRsp = offsetof(MachineState, host_rsp);
constexpr i32 kOffsetXmm = offsetof(MachineState, xmm);
constexpr i32 kOffsetMmx = offsetof(MachineState, mmx);

// A minimal x86-64 assembler for the stub: every memory operand is [rax + disp32]
// (ModRM mod=10, rm=000), which needs no SIB byte.
class Emitter {
public:
    explicit Emitter(u8* out) : out_(out) {}
    usize size() const { return n_; }
    void byte(u8 b) { out_[n_++] = b; }
    void bytes(const u8* b, usize len) {
        memcpy(out_ + n_, b, len);
        n_ += len;
    }
    void imm32(i32 v) {
        memcpy(out_ + n_, &v, 4);
        n_ += 4;
    }
    void imm64(u64 v) {
        memcpy(out_ + n_, &v, 8);
        n_ += 8;
    }
    void modrm_rax_disp32(u8 reg, i32 disp) {
        byte(u8(0x80 | ((reg & 7) << 3)));
        imm32(disp);
    }
    // mov [rax+disp], reg64 (REX.W 89 /r) and mov reg64, [rax+disp] (REX.W 8B /r).
    void store_gpr(u8 reg, i32 disp) {
        byte(u8(0x48 | (reg >= 8 ? 4 : 0)));
        byte(0x89);
        modrm_rax_disp32(reg, disp);
    }
    void load_gpr(u8 reg, i32 disp) {
        byte(u8(0x48 | (reg >= 8 ? 4 : 0)));
        byte(0x8b);
        modrm_rax_disp32(reg, disp);
    }
    // movdqu xmm, [rax+disp] (F3 0F 6F) and movdqu [rax+disp], xmm (F3 0F 7F).
    void xmm_access(u8 reg, i32 disp, bool store) {
        byte(0xf3);
        if (reg >= 8) byte(0x44);
        byte(0x0f);
        byte(store ? 0x7f : 0x6f);
        modrm_rax_disp32(reg, disp);
    }
    // movq mm, [rax+disp] (NP 0F 6F) and movq [rax+disp], mm (NP 0F 7F).
    void mmx_access(u8 reg, i32 disp, bool store) {
        byte(0x0f);
        byte(store ? 0x7f : 0x6f);
        modrm_rax_disp32(reg, disp);
    }
    void movabs_rax(u64 v) {  // REX.W B8 imm64
        byte(0x48);
        byte(0xb8);
        imm64(v);
    }
    void movabs_store_rax(u64 address) {  // REX.W A3 moffs64: stores RAX using no other register
        byte(0x48);
        byte(0xa3);
        imm64(address);
    }

private:
    u8* out_;
    usize n_ = 0;
};

constexpr u8 kCalleeSaved[] = {3, 5, 12, 13, 14, 15};  // rbx rbp r12-r15 (SysV ABI)

void push_gpr(Emitter& e, u8 reg) {
    if (reg >= 8) e.byte(0x41);
    e.byte(u8(0x50 | (reg & 7)));
}

void pop_gpr(Emitter& e, u8 reg) {
    if (reg >= 8) e.byte(0x41);
    e.byte(u8(0x58 | (reg & 7)));
}

}  // namespace

NativeRunner::NativeRunner(usize scratch_size) : scratch_size_(scratch_size) {
    const usize page = usize(sysconf(_SC_PAGESIZE));
    region_size_ = kCodeSize + ((scratch_size + page - 1) / page) * page;
    // Below 2 GiB (MAP_32BIT), so that 32-bit address sizes (67 prefix) reach it too.
    void* p = mmap(nullptr, region_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    region_ = static_cast<u8*>(p);
    scratch_ = region_ + kCodeSize;
}

NativeRunner::~NativeRunner() { munmap(region_, region_size_); }

u64 NativeRunner::instruction_address() const { return reinterpret_cast<u64>(region_) + kInstructionOffset; }

// The stub (rdi = &state is not used: the state's address is an immediate, so that after
// the instruction, when every register holds a guest value, RAX can be stored with the
// moffs form of MOV and then reloaded with the address):
//
//   push rbx, rbp, r12-r15            callee-saved registers (the guest values clobber them)
//   mov rax, &state
//   mov [rax+host_rsp], rsp
//   movdqu xmm0-15 / movq mm0-7 <- state
//   push [rax+rflags]; popfq          while RSP is still the host's
//   mov rcx..r15, [rax+8*n]           RSP too
//   mov rax, [rax]
//   nop padding, then the instruction at kInstructionOffset
//   mov [&state.gpr[0]], rax
//   mov rax, &state
//   mov [rax+8*n], rcx..r15
//   mov rsp, [rax+host_rsp]
//   pushfq; pop rcx; mov [rax+rflags], rcx
//   movdqu / movq state <- xmm0-15 / mm0-7; emms (x87 tags empty again for the C code)
//   cld                               the ABI requires DF = 0 on return
//   pop r15-r12, rbp, rbx; ret
void NativeRunner::run(const u8* insn, usize length, MachineState& state) {
    if (mprotect(region_, kCodeSize, PROT_READ | PROT_WRITE) != 0) {
        perror("mprotect RW");
        abort();
    }
    const u64 state_address = reinterpret_cast<u64>(&state);
    Emitter e(region_);
    for (u8 reg : kCalleeSaved) push_gpr(e, reg);
    e.movabs_rax(state_address);
    e.store_gpr(4, kOffsetHostRsp);
    for (u8 i = 0; i < 16; ++i) e.xmm_access(i, kOffsetXmm + 16 * i, false);
    for (u8 i = 0; i < 8; ++i) e.mmx_access(i, kOffsetMmx + 8 * i, false);
    e.byte(0xff);  // push qword [rax+rflags] (FF /6)
    e.modrm_rax_disp32(6, kOffsetRflags);
    e.byte(0x9d);  // popfq
    for (u8 reg = 1; reg < 16; ++reg) e.load_gpr(reg, 8 * reg);
    e.load_gpr(0, 0);
    if (e.size() > kInstructionOffset) abort();
    while (e.size() < kInstructionOffset) e.byte(0x90);
    e.bytes(insn, length);
    e.movabs_store_rax(state_address);
    e.movabs_rax(state_address);
    for (u8 reg = 1; reg < 16; ++reg) e.store_gpr(reg, 8 * reg);
    e.load_gpr(4, kOffsetHostRsp);
    e.byte(0x9c);  // pushfq
    pop_gpr(e, 1);
    e.store_gpr(1, kOffsetRflags);
    for (u8 i = 0; i < 16; ++i) e.xmm_access(i, kOffsetXmm + 16 * i, true);
    for (u8 i = 0; i < 8; ++i) e.mmx_access(i, kOffsetMmx + 8 * i, true);
    e.byte(0x0f);  // emms
    e.byte(0x77);
    e.byte(0xfc);  // cld
    for (int i = int(sizeof kCalleeSaved) - 1; i >= 0; --i) pop_gpr(e, kCalleeSaved[i]);
    e.byte(0xc3);
    if (e.size() > kCodeSize) abort();

    if (mprotect(region_, kCodeSize, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect RX");
        abort();
    }
    // Only the loaded flags come from the test; the rest are what user mode runs with
    // (bit 1, IF). AC stays clear: Linux sets CR0.AM, so AC would fault misaligned data.
    state.rflags = (state.rflags & kFlagsLoaded) | 0x202;
    __builtin___clear_cache(reinterpret_cast<char*>(region_), reinterpret_cast<char*>(region_ + kCodeSize));
    reinterpret_cast<void (*)()>(region_)();
}

namespace {

sigjmp_buf g_fault_jump;
volatile sig_atomic_t g_fault_signal = 0;
volatile sig_atomic_t g_fault_code = 0;

void on_fault(int signal, siginfo_t* info, void*) {
    g_fault_signal = signal;
    g_fault_code = info->si_code;
    siglongjmp(g_fault_jump, 1);
}

}  // namespace

int NativeRunner::run_expecting_fault(const u8* insn, usize length, MachineState& state) {
    static constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL};
    static u8 alternate_stack[64 * 1024];
    stack_t stack{}, old_stack{};
    stack.ss_sp = alternate_stack;
    stack.ss_size = sizeof alternate_stack;
    if (sigaltstack(&stack, &old_stack) != 0) abort();
    struct sigaction action {};
    struct sigaction old_actions[3];
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &action, &old_actions[i]);

    g_fault_signal = 0;
    int vector = -1;
    if (sigsetjmp(g_fault_jump, 1) == 0) {
        run(insn, length, state);
    } else {
        // The stub never got to its epilogue: empty the x87 tags its MMX loads set. (The
        // kernel cleared DF for the handler; callee-saved registers come from the jump
        // buffer.)
        __asm__ volatile("emms");
        switch (g_fault_signal) {
            case SIGILL: vector = kVectorUd; break;
            case SIGBUS: vector = kVectorSs; break;
            case SIGSEGV: vector = g_fault_code == SI_KERNEL ? kVectorGp : kVectorPf; break;
            default: vector = 255; break;
        }
    }
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &old_actions[i], nullptr);
    sigaltstack(&old_stack, nullptr);
    return vector;
}

bool FakeEnvironment::in_range(u64 linear, usize size) const {
    return size >= 1 && size <= 16 && linear >= base_ && linear - base_ <= memory_.size() - size;
}

MemoryOutcome FakeEnvironment::read_linear(u64 linear, void* dst, usize size, GuestAccess) {
    ++reads;
    if (!in_range(linear, size)) {
        char line[96];
        snprintf(line, sizeof line, "read of %zu bytes at %#llx outside the scratch area; ", size,
                 static_cast<unsigned long long>(linear));
        errors += line;
        return MemoryOutcome{MemoryStatus::Unhandlable, {}, "outside the scratch area"};
    }
    memcpy(dst, memory_.data() + (linear - base_), size);
    return MemoryOutcome{};
}

MemoryOutcome FakeEnvironment::write_linear(u64 linear, const void* src, usize size, GuestAccess access) {
    ++writes;
    if (!access.write) errors += "write_linear without access.write; ";
    if (!in_range(linear, size)) {
        char line[96];
        snprintf(line, sizeof line, "write of %zu bytes at %#llx outside the scratch area; ", size,
                 static_cast<unsigned long long>(linear));
        errors += line;
        return MemoryOutcome{MemoryStatus::Unhandlable, {}, "outside the scratch area"};
    }
    memcpy(memory_.data() + (linear - base_), src, size);
    return MemoryOutcome{};
}

void FakeEnvironment::read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) {
    if (cls == RegisterClass::Xmm && index < 16 && size <= 16) {
        memcpy(dst, xmm[index], size);
    } else if (cls == RegisterClass::Mmx && index < 8 && size <= 8) {
        memcpy(dst, &mmx[index], size);
    } else {
        errors += "bad vector register read; ";
        memset(dst, 0, size);
    }
}

void FakeEnvironment::write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) {
    if (cls == RegisterClass::Xmm && index < 16 && size <= 16) {
        memcpy(xmm[index], src, size);
    } else if (cls == RegisterClass::Mmx && index < 8 && size <= 8) {
        memcpy(&mmx[index], src, size);
    } else {
        errors += "bad vector register write; ";
    }
}

u64 Rng::operand() {
    static constexpr u64 kEdges[] = {0,
                                     1,
                                     2,
                                     0xf,
                                     0x10,
                                     0x7f,
                                     0x80,
                                     0x81,
                                     0xff,
                                     0x100,
                                     0x7fff,
                                     0x8000,
                                     0xffff,
                                     0x7fffffff,
                                     0x80000000,
                                     0xffffffff,
                                     0x100000000,
                                     0x7fffffffffffffff,
                                     0x8000000000000000,
                                     0xffffffffffffffff,
                                     0xfffffffffffffffe};
    switch (below(4)) {
        case 0: return kEdges[below(sizeof kEdges / sizeof kEdges[0])];
        case 1: return below(32) - 16;  // small, both signs
        default: return next();
    }
}

u64 base_seed() {
    if (const char* env = getenv("VIREO_DIFF_SEED")) return strtoull(env, nullptr, 0);
    return 0x5eedf00dull;
}

std::string hex_bytes(const u8* bytes, usize length) {
    std::string s;
    char b[4];
    for (usize i = 0; i < length; ++i) {
        snprintf(b, sizeof b, "%s%02x", i ? " " : "", bytes[i]);
        s += b;
    }
    return s;
}

std::string describe_flags(u64 rflags) {
    static constexpr struct {
        u64 bit;
        const char* name;
    } kNames[] = {{kRflagsCf, "CF"}, {kRflagsPf, "PF"}, {kRflagsAf, "AF"}, {kRflagsZf, "ZF"},
                  {kRflagsSf, "SF"}, {kRflagsDf, "DF"}, {kRflagsOf, "OF"}};
    std::string s;
    for (const auto& n : kNames) {
        if (rflags & n.bit) {
            if (!s.empty()) s += ' ';
            s += n.name;
        }
    }
    return s.empty() ? "-" : s;
}

std::string describe_state(const MachineState& s) {
    static constexpr const char* kNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    std::string out;
    char line[64];
    for (int i = 0; i < 16; ++i) {
        snprintf(line, sizeof line, "%s=%016llx%s", kNames[i], static_cast<unsigned long long>(s.gpr[i]),
                 i % 4 == 3 ? "\n" : " ");
        out += line;
    }
    out += "flags: " + describe_flags(s.rflags & kFlagsLoaded) + "\n";
    return out;
}

}  // namespace differential
