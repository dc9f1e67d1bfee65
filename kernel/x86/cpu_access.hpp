// The narrow interface through which generic code reads CPU identification and MSRs.
// The hypervisor uses HardwareCpu (kernel/x86/hardware_cpu.hpp); host unit tests use
// a fake, so decisions such as "is SVM usable here?" are tested without the hardware.
#pragma once

#include "kernel/types.hpp"
#include "kernel/x86/msr.hpp"

struct CpuidResult {
    u32 eax = 0;
    u32 ebx = 0;
    u32 ecx = 0;
    u32 edx = 0;
};

class CpuAccess {
public:
    virtual CpuidResult cpuid(u32 leaf, u32 subleaf = 0) const = 0;
    virtual u64 read_msr(Msr msr) const = 0;
    virtual void write_msr(Msr msr, u64 value) = 0;

protected:
    ~CpuAccess() = default;
};
