// What a boot protocol asks of a vCPU's first instruction, and the vendor-neutral state
// (kernel/vcpu/vcpu_arch_state.hpp) that gives it: Multiboot's flat 32-bit protected
// mode, Linux's 64-bit boot protocol, or real mode at a start-up IPI's vector. Written
// once here; a backend loads the result like any other state (VcpuBackend::reset), so
// neither svm/ nor vmx/ knows a boot protocol. Pure, host-tested.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"
#include "kernel/vm/guest_registers.hpp"

// How a vCPU starts (what the boot protocol of its kernel asks for).
struct GuestEntryState {
    // Real (CS:IP), Protected32 (flat segments, paging off: Multiboot, or with a GDT of
    // its own the Linux 32-bit boot protocol) or Long64 (paging on through `cr3`, 64-bit
    // code segment `cs_selector` in the GDT at gdt_base: the Linux 64-bit boot protocol).
    GuestCpuMode mode;
    u64 rip;
    u16 cs_selector;  // real mode: CS (rip is the offset); long mode or a GDT given: the CS selector
    u64 rax, rbx, rsp;
    u64 rsi = 0;
    u16 data_selector = 0;  // long mode or a GDT given: DS, ES and SS
    u64 cr3 = 0;
    u64 gdt_base = 0;
    u16 gdt_limit = 0;  // Protected32: 0 means Multiboot's state (selectors 0x08/0x10, no GDT)
};

// The parts a boot state sets: everything but the FPU (fpu_state.cpp resets it) and the
// TSC, which runs on through a vCPU's start (INIT leaves it alone, SDM vol. 3A 9.1.1,
// and a domain's vCPUs keep one time base).
inline constexpr u32 kBootStateParts = vcpu_state::kAll & ~vcpu_state::kFpu & ~vcpu_state::kTsc;

VcpuArchState boot_arch_state(const GuestEntryState& entry);
