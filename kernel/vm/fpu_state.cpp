#include "kernel/vm/fpu_state.hpp"

#include <string.h>

#include "kernel/percpu.hpp"
#include "kernel/vm/vcpu.hpp"
#include "kernel/x86/instructions.hpp"

void fpu_reset_state(Vcpu& vcpu) {
    memset(vcpu.fpu_area, 0, sizeof(vcpu.fpu_area));
    const u16 fcw = 0x037f;
    const u32 mxcsr = 0x1f80;
    memcpy(vcpu.fpu_area + 0, &fcw, sizeof(fcw));       // FXSAVE layout: FCW at byte 0
    memcpy(vcpu.fpu_area + 24, &mxcsr, sizeof(mxcsr));  // MXCSR at byte 24
}

void fpu_switch_to(Vcpu& vcpu) {
    PerCpu& cpu = this_cpu();
    if (cpu.fpu_owner == &vcpu) return;
    if (cpu.fpu_owner) asm volatile("fxsave64 %0" : "=m"(cpu.fpu_owner->fpu_area));
    asm volatile("fxrstor64 %0" ::"m"(vcpu.fpu_area));
    cpu.fpu_owner = &vcpu;
}

void fpu_enable_this_cpu() {
    constexpr u64 kCr0Mp = 1ull << 1, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr0Ne = 1ull << 5;
    constexpr u64 kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10;
    x86::write_cr0((x86::read_cr0() | kCr0Mp | kCr0Ne) & ~(kCr0Em | kCr0Ts));
    x86::write_cr4(x86::read_cr4() | kCr4Osfxsr | kCr4Osxmmexcpt);
}
