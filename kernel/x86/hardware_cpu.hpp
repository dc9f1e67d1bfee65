// CpuAccess on the real processor (kernel only).
#pragma once

#include "kernel/x86/cpu_access.hpp"
#include "kernel/x86/instructions.hpp"

class HardwareCpu final : public CpuAccess {
public:
    CpuidResult cpuid(u32 leaf, u32 subleaf) const override { return x86::cpuid(leaf, subleaf); }
    u64 read_msr(Msr msr) const override { return x86::rdmsr(msr); }
    void write_msr(Msr msr, u64 value) override { x86::wrmsr(msr, value); }
};
