#include "kernel/vm/mmio_emulation.hpp"

#include <string.h>

#include "kernel/domain/domain.hpp"
#include "kernel/emulator/emulator.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/vm/emulator_guest_memory.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/instruction_completion.hpp"
#include "kernel/vm/instruction_length.hpp"

namespace {

// The domain's device models behind guest-physical addresses.
class DomainMmio final : public GuestMmioSink {
public:
    explicit DomainMmio(Vcpu& vcpu) : vcpu_(vcpu) {}

    bool mmio_read(u64 gpa, u8 size, u64& value) override {
        const MmioBus::Range* range = claimed(gpa, size);
        if (!range) return false;
        value = range->device->mmio_read(vcpu_, gpa - range->base, size);
        return true;
    }
    bool mmio_write(u64 gpa, u8 size, u64 value) override {
        const MmioBus::Range* range = claimed(gpa, size);
        if (!range) return false;
        range->device->mmio_write(vcpu_, gpa - range->base, size, value);
        return true;
    }

private:
    const MmioBus::Range* claimed(u64 gpa, u8 size) const {
        const MmioBus::Range* range = vcpu_.domain->mmio.range_at(gpa);
        return range && range->mmio_fits(gpa, size) ? range : nullptr;
    }
    Vcpu& vcpu_;
};

// The emulator's view of a vCPU that has just exited on this CPU.
class VcpuEmulatorEnvironment final : public EmulatorEnvironment {
public:
    VcpuEmulatorEnvironment(Vcpu& vcpu, const GuestPagingState& paging) : vcpu_(vcpu), paging_(paging), mmio_(vcpu) {}

    MemoryOutcome read_linear(u64 linear, void* dst, usize size, GuestAccess access) override {
        return unless_forwarded(emulator_read_linear(vcpu_.domain->memory, paging_, mmio_, linear, dst, size, access));
    }
    MemoryOutcome write_linear(u64 linear, const void* src, usize size, GuestAccess access) override {
        return unless_forwarded(emulator_write_linear(vcpu_.domain->memory, paging_, mmio_, linear, src, size, access));
    }
    void read_vector_register(RegisterClass cls, u8 index, u8* dst, u8 size) override {
        fpu_read_vector_register(vcpu_, cls == RegisterClass::Xmm, index, dst, size);
    }
    void write_vector_register(RegisterClass cls, u8 index, const u8* src, u8 size) override {
        fpu_write_vector_register(vcpu_, cls == RegisterClass::Xmm, index, src, size);
    }

private:
    // An access a device model in Domain-0 answers stops the instruction, unchanged: it is
    // run again once the answer is there (kernel/ioreq/ioreq_server.hpp).
    MemoryOutcome unless_forwarded(MemoryOutcome outcome) const {
        if (ioreq_waiting(vcpu_) && outcome.status == MemoryStatus::Ok) outcome.status = MemoryStatus::Retry;
        return outcome;
    }
    Vcpu& vcpu_;
    const GuestPagingState& paging_;
    DomainMmio mmio_;
};

EmulatorCpuState cpu_state_of(const Vcpu& vcpu, const GuestControlState& c) {
    constexpr u64 kCr4La57 = 1ull << 12;
    EmulatorCpuState cpu;
    static_assert(sizeof(cpu.gpr) == sizeof(vcpu.regs.gpr));
    memcpy(cpu.gpr, vcpu.regs.gpr, sizeof(cpu.gpr));
    cpu.rip = vcpu.regs.rip;
    cpu.rflags = vcpu.regs.rflags;
    cpu.mode = decoder_mode(c.mode);
    cpu.cpl = c.cpl;
    static_assert(sizeof(cpu.segment_base) == sizeof(c.segment_base));
    memcpy(cpu.segment_base, c.segment_base, sizeof(cpu.segment_base));
    cpu.stack_32bit = c.stack_32bit;
    cpu.cr0 = c.cr0;
    cpu.cr4 = c.cr4;
    cpu.efer = c.efer;
    cpu.la57 = (c.cr4 & kCr4La57) != 0;
    return cpu;
}

void write_back(Vcpu& vcpu, const EmulatorCpuState& cpu) {
    memcpy(vcpu.regs.gpr, cpu.gpr, sizeof(cpu.gpr));
    vcpu.regs.rflags = cpu.rflags;
    if (vcpu.regs.rip != cpu.rip) {
        vcpu.regs.rip = cpu.rip;
        instruction_completed(vcpu);
    }
}

}  // namespace

bool emulate_mmio_access(Vcpu& vcpu, const NestedPageFaultExit& npf) {
    Domain& d = *vcpu.domain;
    if (!d.mmio.range_at(npf.gpa)) return false;
    if (npf.during_walk) {
        domain_crash(d, "vcpu%u: its page tables are in emulated MMIO at %#llx (rip %#llx)", vcpu.index,
                     (unsigned long long)npf.gpa, (unsigned long long)vcpu.regs.rip);
        return true;
    }
    if (npf.fetch) {
        domain_crash(d, "vcpu%u: executed from emulated MMIO at %#llx", vcpu.index, (unsigned long long)npf.gpa);
        return true;
    }
    const GuestControlState control = vcpu.backend->control_state();
    u8 bytes[15];
    usize available = 0;
    WalkFault fault;
    if (!fetch_guest_instruction(vcpu, control, bytes, available, fault)) {
        if (!reflect_guest_fault(vcpu, fault))
            domain_crash(d, "vcpu%u: cannot fetch the MMIO instruction at rip %#llx (%s)", vcpu.index,
                         (unsigned long long)vcpu.regs.rip, walk_result_name(fault));
        return true;
    }
    const CpuVendor vendor = vcpu.backend->is_svm() ? CpuVendor::Amd : CpuVendor::Intel;
    DecodedInstruction insn;
    const DecodeResult decoded = decode_instruction(bytes, available, decoder_mode(control.mode), insn, vendor);
    if (decoded != DecodeResult::Ok) {
        // The CPU ran it, so it decoded there: the bytes changed under us (another vCPU
        // rewrote them) or the fetch stopped at a fault the CPU did not see.
        domain_crash(d, "vcpu%u: the MMIO instruction at rip %#llx does not decode (%s)", vcpu.index,
                     (unsigned long long)vcpu.regs.rip, decode_result_name(decoded));
        return true;
    }
    const GuestPagingState paging = guest_paging_state(vcpu, control);
    VcpuEmulatorEnvironment env(vcpu, paging);
    EmulatorCpuState cpu = cpu_state_of(vcpu, control);
    const EmulationResult result = emulate_instruction(insn, cpu, env);
    switch (result.kind) {
        case EmulationResult::Done: write_back(vcpu, cpu); break;
        case EmulationResult::Exception:
            write_back(vcpu, cpu);  // a faulting REP keeps the iterations it completed
            if (result.exception.vector == kVectorPf) vcpu.backend->set_cr2(result.exception.cr2);
            vcpu.events.raise_exception(result.exception.vector, result.exception.has_error_code,
                                        result.exception.error_code);
            break;
        case EmulationResult::Retry: break;
        case EmulationResult::Unsupported:
        case EmulationResult::Unhandlable:
            domain_crash(d, "vcpu%u: cannot emulate the %s at rip %#llx touching MMIO %#llx: %s", vcpu.index,
                         instruction_kind_name(insn.kind), (unsigned long long)vcpu.regs.rip,
                         (unsigned long long)npf.gpa, result.reason ? result.reason : "?");
            break;
    }
    return true;
}
