// The length of the instruction that caused an exit. QEMU's TCG gives no NRIP (AMD's
// next-RIP save), so the hypervisor decodes the bytes at CS:RIP itself, with the
// emulator's decoder (kernel/emulator/decoder.hpp).
#pragma once

#include "kernel/emulator/decoder.hpp"
#include "kernel/types.hpp"
#include "kernel/vm/guest_registers.hpp"
#include "kernel/vm/vm_exit.hpp"

enum class InterceptedInstruction : u8 {
    Cpuid,
    Rdmsr,
    Rdtsc,
    // Only to tell it from RDTSC: QEMU's TCG takes RDTSC's intercept for it.
    Rdtscp,
    Wrmsr,
    Hlt,
    Vmmcall,
    Vmcall,
    Xsetbv,
    MovToCr,
    MovFromCr,
    // INVD or WBINVD: either one, whichever exit reported it (QEMU's TCG reports INVD
    // with WBINVD's SVM exit code), since both are handled alike.
    InvdOrWbinvd,
    Count,  // none of them
};

// The decoder's mode for a guest running in `mode`.
CpuMode decoder_mode(GuestCpuMode mode);

// Decodes `bytes` and checks that it is the instruction the exit reported. 0 when it is
// not (the guest changed its code under the exit), or when the bytes are no valid
// instruction (then the CPU would have raised #UD or #GP instead of exiting).
u8 intercepted_instruction_length(const u8* bytes, usize available, GuestCpuMode mode, InterceptedInstruction which);

// Whether `bytes` are the exited instruction with a LOCK prefix: an encoding that is #UD
// (SDM vol. 2A 2.1.1, "LOCK"), though some CPUs (and QEMU) check the intercept first.
bool intercepted_instruction_is_locked(const u8* bytes, usize available, GuestCpuMode mode,
                                       InterceptedInstruction which);

// An access to a control register decoded from the bytes at RIP, for a backend that does
// not tell its form and operand (SVM without decode assists): MOV to or from CRn (0F 22
// /r, 0F 20 /r, the ModRM always naming registers), CLTS (0F 06) or LMSW (0F 01 /6,
// register or memory).
struct DecodedCrAccess {
    u8 length = 0;
    CrAccessForm form = CrAccessForm::MovToCr;
    u8 cr = 0;   // MOV: REX.R applied (and AMD's LOCK MOV CR0 = CR8); CLTS and LMSW: 0
    u8 gpr = 0;  // MOV, register-form LMSW: the register
    bool lmsw_memory = false;
    DecodedInstruction insn;  // for LMSW's memory operand
};
// False when the bytes are none of these (or no valid instruction at all).
bool decode_control_register_access(const u8* bytes, usize available, GuestCpuMode mode, DecodedCrAccess& out);
