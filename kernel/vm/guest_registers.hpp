// A vCPU's general registers, instruction pointer and flags, vendor neutral. The
// backends keep them here across exits (SVM keeps RAX/RSP/RIP/RFLAGS in the VMCB and
// copies them in and out around each exit).
#pragma once

#include "kernel/types.hpp"

enum class Gpr : u8 { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15, Count };

struct GuestRegisters {
    u64 gpr[static_cast<u8>(Gpr::Count)];  // in the x86 encoding order (ModRM reg numbers)
    u64 rip;
    u64 rflags;

    u64& operator[](Gpr r) { return gpr[static_cast<u8>(r)]; }
    u64 operator[](Gpr r) const { return gpr[static_cast<u8>(r)]; }
};

// The guest's DR0-DR3 and DR6 while the guest's values are not in a CPU's registers
// (kernel/vm/debug_registers.hpp). DR7 is in the control structure on both vendors;
// DR6 is in the VMCB on AMD-V (APM vol. 2 15.5.1), so `dr6` here is used only where the
// control structure lacks it (VT-x: the VMCS has no DR6, SDM vol. 3C 25.4.1).
struct GuestDebugRegisters {
    u64 dr[4];
    u64 dr6;
};

// Guest state the handlers read but that lives in the backend's control structure.
enum class GuestCpuMode : u8 { Real, Protected16, Protected32, Long64 };

enum class SegmentRegister : u8 { Es, Cs, Ss, Ds, Fs, Gs, Count };

struct GuestControlState {
    u64 cr0, cr2, cr3, cr4, efer;
    u64 segment_base[static_cast<u8>(SegmentRegister::Count)];
    u8 cpl;
    GuestCpuMode mode;
    bool stack_32bit;  // SS.B: 32-bit stack pointer outside 64-bit mode (SDM vol. 3A 3.4.5)
    bool cs_long;      // CS.L, whether or not IA-32e mode is active (SDM vol. 3A 5.2.1)
};

// What places the instruction at CS:RIP and decides how its bytes decode
// (kernel/vm/exit_instruction_cache.hpp).
struct GuestFetchContext {
    u64 linear;  // CS.base + RIP, 32 bits wide outside 64-bit mode
    u64 cr0, cr3, cr4, efer;
    GuestCpuMode mode;
};
