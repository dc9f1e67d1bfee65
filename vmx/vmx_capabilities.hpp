// What this CPU's VMX allows, read once from the capability MSRs (Intel SDM vol. 3D,
// appendix A), and the control values every VMCS gets: each control word is what Vireo
// wants adjusted to the allowed 0- and 1-settings (TRUE_* MSRs when IA32_VMX_BASIC bit 55
// says they exist; optional MSRs read only when advertised). Also the I/O and MSR
// bitmaps, shared by all vCPUs.
#pragma once

#include "kernel/types.hpp"

namespace vmx {

struct Capabilities {
    bool usable = false;
    const char* problem = nullptr;  // why not, in words
    u32 revision = 0;
    u32 pin = 0, proc = 0, proc2 = 0, exit = 0, entry = 0;
    u64 cr0_fixed0 = 0, cr4_fixed0 = 0;  // bits a guest's CR0/CR4 must have
    bool vpid = false;
    bool preemption_timer = false;
    u32 preemption_timer_shift = 0;  // the timer counts once every 2^shift TSC cycles
    bool tsc_offsetting = false;     // guests' TSCs are the host's plus TSC_OFFSET
    bool tsc_scaling = false;        // ... times a multiplier, where a vCPU turns it on
    bool nmi_window = false;         // virtual NMIs and NMI-window exiting
    PhysAddr io_bitmap_a = 0, io_bitmap_b = 0, msr_bitmap = 0;
};

const Capabilities* capabilities();

// (want | allowed-0) & allowed-1: pure, so it is unit-tested.
constexpr u32 adjust_controls(u64 capability_msr, u32 want) {
    return (want | u32(capability_msr)) & u32(capability_msr >> 32);
}

}  // namespace vmx
