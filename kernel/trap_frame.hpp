// The register state an interrupt or exception stub saves (kernel/trap_entry.S), in
// memory order. The last five fields are what the CPU pushes (SDM vol. 3, 6.14.2).
#pragma once

#include "kernel/types.hpp"

struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector;
    u64 error_code;
    u64 rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(TrapFrame) == 22 * 8);
