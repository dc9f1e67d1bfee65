// A CPU for host tests, described by the CPUID leaves and MSRs it answers; reading an MSR
// the test did not define fails the test (the real CPU would #GP).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "kernel/x86/cpu_access.hpp"

class FakeCpu final : public CpuAccess {
public:
    std::map<std::pair<u32, u32>, CpuidResult> leaves;
    std::map<Msr, u64> msrs;

    CpuidResult cpuid(u32 leaf, u32 subleaf) const override {
        auto it = leaves.find({leaf, subleaf});
        return it == leaves.end() ? CpuidResult{} : it->second;
    }
    u64 read_msr(Msr msr) const override {
        auto it = msrs.find(msr);
        EXPECT_NE(it, msrs.end()) << "read of an MSR this CPU does not have: " << std::hex << msr_index(msr);
        return it == msrs.end() ? 0 : it->second;
    }
    void write_msr(Msr msr, u64 value) override { msrs[msr] = value; }
};
