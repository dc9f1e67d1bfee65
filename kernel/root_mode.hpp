// Entering the hypervisor ("root") mode of the CPU's virtualization extension, one CPU
// at a time. The vendor backends implement it; generic code only picks which.
#pragma once

#include "kernel/percpu.hpp"
#include "kernel/virtualization_support.hpp"

// Each returns false and sets `error` to a sentence when this CPU cannot enter.
bool svm_enter_root_mode(PerCpu& cpu, const char** error);
bool vmx_enter_root_mode(PerCpu& cpu, const char** error);

inline bool enter_root_mode(VirtualizationVendor vendor, PerCpu& cpu, const char** error) {
    switch (vendor) {
        case VirtualizationVendor::AmdSvm: return svm_enter_root_mode(cpu, error);
        case VirtualizationVendor::IntelVmx: return vmx_enter_root_mode(cpu, error);
        case VirtualizationVendor::None: break;
    }
    *error = "no virtualization extension";
    return false;
}
