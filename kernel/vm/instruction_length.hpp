// The length of the instruction that caused an exit. QEMU's TCG gives no NRIP (AMD's
// next-RIP save), so the hypervisor decodes the bytes at CS:RIP itself.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/guest_registers.hpp"

enum class InterceptedInstruction : u8 { Cpuid, Rdmsr, Wrmsr, Hlt, Vmmcall, Vmcall, Xsetbv, SvmOrVmx };

// Decodes `bytes` (legacy prefixes, REX in 64-bit mode, then the opcode) and checks that
// it is the instruction the exit reported. 0 when it is not (the guest changed its code
// under the exit, or the bytes are not an instruction we know).
u8 intercepted_instruction_length(const u8* bytes, usize available, GuestCpuMode mode, InterceptedInstruction which);
