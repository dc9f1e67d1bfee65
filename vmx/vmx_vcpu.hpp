// The VMX backend of a vCPU: its VMCS, and the translation of each VM exit into a
// vendor-neutral VmExit (kernel/vm/vm_exit.hpp).
#pragma once

#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/tsc_rate.hpp"

namespace vmx {

class VmxVcpu final : public VcpuBackend {
public:
    bool init(Vcpu& vcpu, const VcpuArchState& boot, const char** error);
    ~VmxVcpu() override;

    bool run(Vcpu& vcpu, VmExit& exit, const FastExitBounds& bounds) override;
    GuestControlState control_state() const override;
    void reset(Vcpu& vcpu, const VcpuArchState& boot) override;
    void set_cr2(u64 value) override {
        guest_cr2_ = value;
        control_cached_ = false;
    }
    void set_control_registers(u64 cr0, u64 cr4, u64 efer, const u64* pdptes, bool flush_tlb) override;
    void flush_guest_tlb() override;
    bool caches_pae_pdptes() const override { return true; }
    bool read_guest_msr(Msr msr, u64& value) const override;
    bool write_guest_msr(Msr msr, u64 value) override;
    bool is_svm() const override { return false; }
    const char* tsc_scaling() const override;
    void instruction_skipped(Vcpu&) override { clear_interrupt_shadow_ = true; }
    void get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) override;  // vmx_state_transfer.cpp
    void set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) override;
    bool dr6_in_control_structure() const override { return false; }  // no VMCS field (SDM vol. 3C 25.4.1)
    // DR6 is switched in software (kernel/vm/debug_registers.cpp): the next entry loads it.
    void add_guest_dr6_bits(Vcpu& vcpu, u64 bits) override;
    void unload_from_this_cpu() override;
    usize footprint_bytes() const override { return sizeof(*this) + kPageSize; }  // the VMCS

private:
    void make_current();
    // The VMCS current on this CPU and filled in (its first entry state loaded).
    void prepare_vmcs(Vcpu& vcpu);
    void setup_controls(Vcpu& vcpu);
    void setup_host_state();
    void load_boot_state(Vcpu& vcpu);
    // The guest's TSC: the host's (times the multiplier) plus TSC_OFFSET, where the CPU
    // offsets it.
    u64 guest_tsc() const;
    // The domain's new guest TSC (Domain::tsc_base) into the VMCS, if there is one: its
    // multiplier where this CPU scales, and the offset that makes the TSC read as the
    // platform's model does.
    void follow_tsc_base(const Vcpu& vcpu);
    void write_secondary_controls();
    void prepare_event_injection(VcpuEvents& events);
    void translate_exit(VmExit& exit);
    void load_syscall_msrs();
    // CR0, CR4 and EFER as the guest sees them into the VMCS: the read shadows take the
    // guest's values, the fields add what VMX operation fixes.
    void write_control_registers(u64 cr0, u64 cr4, u64 efer);
    void write_pdptes(const u64* pdptes);

    // control_state() as read after the last exit: the handlers ask for it several times
    // per exit, and each read is a dozen VMREADs. Forgotten at every entry and whenever
    // the hypervisor writes one of its fields.
    mutable GuestControlState control_cache_{};
    mutable bool control_cached_ = false;
    // The start state of the last reset, loaded into the VMCS on the vCPU's own CPU.
    VcpuArchState boot_{};
    bool needs_entry_state_ = true;
    // The processor-based and VM-entry controls as last written: only this vCPU writes
    // them, so each entry compares with these instead of reading them back, and writes
    // only a change (a VMCS keeps its fields across VMCLEAR and VMPTRLD, SDM vol. 3C 25.11).
    u32 proc_controls_ = 0;
    u32 entry_controls_ = 0;
    u64 tsc_offset_ = 0;                      // TSC_OFFSET, kept here so that a reset's setup keeps it
    u64 tsc_multiplier_ = kTscMultiplierOne;  // the TSC multiplier in force
    u64 tsc_generation_ = 0;                  // of the Domain::tsc_base taken last
    PhysAddr vmcs_pa_ = 0;
    bool launched_ = false;
    u16 vpid_ = 0;
    u32 cpu_ = ~0u;
    u64 guest_cr2_ = 0;
    bool clear_interrupt_shadow_ = false;
    // The SYSCALL MSRs: VM entry and exit do not switch them, so each vCPU's values are
    // loaded into the CPU when it starts running that vCPU (SDM vol. 3C, 28.5.1 lists
    // what VM exit does load).
    u64 star_ = 0, lstar_ = 0, cstar_ = 0, sfmask_ = 0, kernel_gs_base_ = 0;
};

}  // namespace vmx
