// Guest RDMSR/WRMSR: which MSRs a guest has and what they do. An MSR not listed here
// does not exist for the guest: the access raises #GP, as on a CPU without it, and is
// logged once per domain. (MSRs that VMRUN/VMLOAD switch pass through without an exit;
// see svm/svm_permission_maps.cpp.)
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

enum class MsrResult : u8 { Ok, GeneralProtection };

MsrResult guest_read_msr(Vcpu& vcpu, u32 index, u64& value);
MsrResult guest_write_msr(Vcpu& vcpu, u32 index, u64 value);
