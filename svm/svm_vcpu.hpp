// The SVM backend of a vCPU: its VMCB, and the translation of each #VMEXIT into a
// vendor-neutral VmExit (kernel/vm/vm_exit.hpp).
#pragma once

#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/tsc_rate.hpp"
#include "svm/svm_state_transfer.hpp"
#include "svm/vmcb.hpp"

namespace svm {

class SvmVcpu final : public VcpuBackend {
public:
    // False (with `error`) when the VMCB or the shared permission maps cannot be had.
    bool init(Vcpu& vcpu, const VcpuArchState& boot, const char** error);
    ~SvmVcpu() override;

    bool run(Vcpu& vcpu, VmExit& exit, const FastExitBounds& bounds) override;
    GuestControlState control_state() const override;
    void reset(Vcpu& vcpu, const VcpuArchState& boot) override;
    void set_cr2(u64 value) override { vmcb_->save.cr2 = value; }
    void set_control_registers(u64 cr0, u64 cr4, u64 efer, const u64* pdptes, bool flush_tlb) override;
    void flush_guest_tlb() override;
    bool caches_pae_pdptes() const override { return false; }  // NPT walks the guest's PDPT itself
    bool read_guest_msr(Msr msr, u64& value) const override;
    bool write_guest_msr(Msr msr, u64 value) override;
    bool is_svm() const override { return true; }
    // AMD's TSC ratio MSR (APM vol. 2 15.30.5) is one per CPU, not per VMCB, and QEMU's
    // SVM has none: another rate is kept in software, RDTSC exiting (follow_tsc_base).
    const char* tsc_scaling() const override { return "in software (RDTSC exits)"; }
    void instruction_skipped(Vcpu& vcpu) override;
    void get_state(const Vcpu& vcpu, u32 parts, VcpuArchState& out) override;
    void set_state(Vcpu& vcpu, u32 parts, const VcpuArchState& in) override;
    bool dr6_in_control_structure() const override { return true; }  // VMCB offset 0x568 (APM vol. 2 B)
    void add_guest_dr6_bits(Vcpu&, u64 bits) override { vmcb_->save.dr6 |= bits; }
    void unload_from_this_cpu() override {}  // a VMCB is plain memory: nothing stays in the CPU
    usize footprint_bytes() const override { return sizeof(*this) + kPageSize; }  // the VMCB

private:
    void translate_exit(Vcpu& vcpu, VmExit& exit);
    // Before an entry with an NMI pending, an interrupt shadow or Vireo's step: true when
    // a requested interrupt is held back from this entry.
    bool prepare_special_entry(Vcpu& vcpu);
    u8 instruction_length(Vcpu& vcpu, InterceptedInstruction which, GuestCpuMode mode);
    GuestCpuMode cpu_mode() const;  // from CR0.PE, EFER.LMA and CS.L/D (SDM vol. 3A 2.2)
    // The guest's EFER into the VMCB. QEMU's TCG stops executing a guest (and the
    // physical CPU with it: no interrupt exits it) that VMRUN enters with EFER.LME set
    // while CR4.PAE and CR0.PG are clear, a legal state in which LME has no effect until
    // paging is turned on. In that state the VMCB holds EFER without LME and the guest's
    // LME is kept here; the CR4 and CR0 writes that change the state exit
    // (intercept_cr_write), and the VMCB gets LME back as soon as PAE is set.
    void store_guest_efer(u64 efer);
    u64 guest_efer() const;
    // NMIs. Without AMD's virtual NMI, the CPU does not know that an injected NMI's
    // handler runs, so Vireo keeps the blocking (SDM vol. 3A 6.7.1) itself, as KVM does:
    // from the injection to the next IRET, which exits (the IRET intercept) and is then
    // known complete once RIP has left it. To learn that at once when an NMI waits, and to
    // get past an STI or MOV SS shadow, the next instruction is single-stepped (TF; #DB
    // always exits). Called before each entry; the exit side is in translate_exit.
    void prepare_nmi(Vcpu& vcpu);
    void request_single_step(Vcpu& vcpu, bool over_iret);
    // Vireo's step over an ordinary instruction is armed: TF in the guest's RFLAGS now.
    bool stepping_here(const Vcpu& vcpu) const;
    // Before each entry: no step while an event is injected.
    void settle_single_step(Vcpu& vcpu);
    // An exit that was Vireo's own NMI bookkeeping (the IRET, the single step): nothing
    // for the generic handlers.
    bool nmi_exit(Vcpu& vcpu);
    void set_nmi_blocked(bool blocked);

    Vmcb* vmcb_ = nullptr;
    PhysAddr vmcb_pa_ = 0;
    // The domain's new guest TSC (Domain::tsc_base), if there is one, into TSC_OFFSET.
    // With a multiplier other than one, RDTSC exits (and RDMSR of the TSC always does):
    // the guest reads scale_tsc(host TSC) + TSC_OFFSET, computed by Vireo.
    void follow_tsc_base(const Vcpu& vcpu);
    // The host's TSC at the guest's rate: what TSC_OFFSET is added to.
    u64 scaled_host_tsc() const;
    u64 tsc_generation_ = 0;  // of the Domain::tsc_base taken last
    u64 tsc_multiplier_ = kTscMultiplierOne;
    bool lme_deferred_ = false;
    bool nmi_blocked_ = false;   // an injected NMI's handler has not returned yet
    bool iret_pending_ = false;  // its IRET exited: complete once RIP is elsewhere
    u64 iret_rip_ = 0;
    bool single_step_ = false;  // TF set by Vireo for one instruction (NMI window, interrupt shadow)
    bool singlestep_clears_tf_ = false;
    VirqRedelivery redelivery_;  // an interrupted interrupt in V_IRQ, from entry to exit
};

}  // namespace svm
