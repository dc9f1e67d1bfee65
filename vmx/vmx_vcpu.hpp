// The VMX backend of a vCPU: its VMCS, and the translation of each VM exit into a
// vendor-neutral VmExit (kernel/vm/vm_exit.hpp).
#pragma once

#include "kernel/vm/vcpu.hpp"

namespace vmx {

class VmxVcpu final : public VcpuBackend {
public:
    bool init(Vcpu& vcpu, const GuestEntryState& entry, const char** error);
    ~VmxVcpu() override;

    void run(Vcpu& vcpu, VmExit& exit) override;
    GuestControlState control_state() const override;
    void reset(Vcpu& vcpu, const GuestEntryState& entry) override;
    void inject_exception(u8 vector, bool has_error_code, u32 error_code) override;
    void set_cr2(u64 value) override {
        guest_cr2_ = value;
        control_cached_ = false;
    }
    void request_interrupt(u8 vector) override;
    bool interrupt_requested() const override { return interrupt_pending_; }
    bool read_guest_msr(Msr msr, u64& value) const override;
    bool write_guest_msr(Msr msr, u64 value) override;
    bool is_svm() const override { return false; }
    void instruction_skipped() override { clear_interrupt_shadow_ = true; }
    void get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) override;  // vmx_state_transfer.cpp
    void set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) override;
    bool dr6_in_control_structure() const override { return false; }  // no VMCS field (SDM vol. 3C 25.4.1)
    void unload_from_this_cpu() override;

private:
    void make_current();
    // The VMCS current on this CPU and filled in (its first entry state loaded).
    void prepare_vmcs(Vcpu& vcpu);
    void setup_controls(Vcpu& vcpu);
    void setup_host_state();
    void load_entry_state(const GuestEntryState& entry);
    void prepare_event_injection();
    void translate_exit(VmExit& exit);
    void load_syscall_msrs();

    // control_state() as read after the last exit: the handlers ask for it several times
    // per exit, and each read is a dozen VMREADs. Forgotten at every entry and whenever
    // the hypervisor writes one of its fields.
    mutable GuestControlState control_cache_{};
    mutable bool control_cached_ = false;
    GuestEntryState entry_{};
    bool needs_entry_state_ = true;
    PhysAddr vmcs_pa_ = 0;
    bool launched_ = false;
    u16 vpid_ = 0;
    u32 cpu_ = ~0u;
    u64 guest_cr2_ = 0;
    bool interrupt_pending_ = false;
    u8 interrupt_vector_ = 0;
    bool clear_interrupt_shadow_ = false;
    u32 pending_event_ = 0;  // entry interruption information to inject
    u32 pending_event_error_ = 0;
    // The SYSCALL MSRs: VM entry and exit do not switch them, so each vCPU's values are
    // loaded into the CPU when it starts running that vCPU (SDM vol. 3C, 28.5.1 lists
    // what VM exit does load).
    u64 star_ = 0, lstar_ = 0, cstar_ = 0, sfmask_ = 0, kernel_gs_base_ = 0;
};

}  // namespace vmx
