#include "kernel/vm/debug_registers.hpp"

#include "kernel/percpu.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/x86/instructions.hpp"

namespace {

constexpr u64 kDr6Init = 0xffff0ff0;

}  // namespace

void debug_reset_state(Vcpu& vcpu) {
    vcpu.debug = {{0, 0, 0, 0}, kDr6Init};
    debug_state_changed(vcpu);
}

void debug_state_changed(Vcpu& vcpu) { ++vcpu.debug_version; }

void debug_load(Vcpu& vcpu) {
    PerCpu& cpu = this_cpu();
    if (cpu.debug_vcpu_uid == vcpu.uid && cpu.debug_version == vcpu.debug_version) return;
    x86::write_dr0(vcpu.debug.dr[0]);
    x86::write_dr1(vcpu.debug.dr[1]);
    x86::write_dr2(vcpu.debug.dr[2]);
    x86::write_dr3(vcpu.debug.dr[3]);
    if (!vcpu.backend->dr6_in_control_structure()) x86::write_dr6(vcpu.debug.dr6);
    cpu.debug_vcpu_uid = vcpu.uid;
    cpu.debug_version = vcpu.debug_version;
}

void debug_save(Vcpu& vcpu) {
    vcpu.debug.dr[0] = x86::read_dr0();
    vcpu.debug.dr[1] = x86::read_dr1();
    vcpu.debug.dr[2] = x86::read_dr2();
    vcpu.debug.dr[3] = x86::read_dr3();
    // On VT-x a VM exit leaves DR6 as the guest had it (it is no VMCS field, and a #DB
    // does not exit here); on AMD-V the VMCB's DR6 is the guest's.
    if (!vcpu.backend->dr6_in_control_structure()) vcpu.debug.dr6 = x86::read_dr6();
}

void debug_forget_here(Vcpu& vcpu) {
    PerCpu& cpu = this_cpu();
    if (cpu.debug_vcpu_uid == vcpu.uid) cpu.debug_vcpu_uid = 0;
}
