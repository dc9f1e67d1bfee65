#include "kernel/vm/control_register_writes.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/vm/control_register_rules.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/instruction_completion.hpp"
#include "kernel/vm/instruction_length.hpp"

namespace {

constexpr u8 kVectorUd = 6;
constexpr u8 kVectorGp = 13;

void raise_gp(Vcpu& vcpu) { vcpu.events.raise_exception(kVectorGp, true, 0); }

ControlRegisterState judged_state(const GuestControlState& c) {
    ControlRegisterState s;
    s.cr0 = c.cr0;
    s.cr3 = c.cr3;
    s.cr4 = c.cr4;
    s.efer = c.efer;
    s.cs_long = c.cs_long;
    return s;
}

u64 register_value(const Vcpu& vcpu, u8 gpr) { return vcpu.regs[static_cast<Gpr>(gpr & 15)]; }

// The linear address of LMSW's memory operand (SDM vol. 2A 2.1.5 and 3.7.5): base +
// index * scale + displacement (+ the next RIP when RIP-relative), cut to the address
// size, plus the segment's base (only FS and GS have one in 64-bit mode).
u64 memory_operand_linear(const Vcpu& vcpu, const GuestControlState& c, const DecodedInstruction& insn) {
    const MemoryOperand& m = insn.memory;
    u64 offset = u64(m.displacement);
    if (m.base != kNoRegister) offset += register_value(vcpu, m.base);
    if (m.index != kNoRegister) offset += register_value(vcpu, m.index) * m.scale;
    if (m.rip_relative) offset += vcpu.regs.rip + insn.length;
    if (insn.address_size < 8) offset &= (1ull << (8 * insn.address_size)) - 1;
    const bool long64 = c.mode == GuestCpuMode::Long64;
    const bool based = !long64 || m.segment == Segment::FS || m.segment == Segment::GS;
    const u64 linear = offset + (based ? c.segment_base[u8(m.segment)] : 0);
    return long64 ? linear : linear & 0xffffffffull;
}

// The form and operand of the write that exited, from the hardware or from the bytes at
// RIP; `length` is the instruction's. False when the domain was ended or a fault raised.
bool identify_write(Vcpu& vcpu, const GuestControlState& c, const CrWriteExit& exit, CrWriteExit& out, u8& length,
                    u16& lmsw_source) {
    out = exit;
    length = vcpu.exit_instruction_length;
    if (exit.decoded && length) {
        lmsw_source = exit.lmsw_source;
        return true;
    }
    // CR0's write intercept also takes CLTS and LMSW (APM vol. 2 15.9).
    DecodedCrAccess d;
    const u32 forms =
        cr_form(CrAccessForm::MovToCr) | (exit.cr == 0 ? cr_form(CrAccessForm::Clts) | cr_form(CrAccessForm::Lmsw) : 0);
    if (!decode_cr_access_at_rip(vcpu, c, exit.cr, forms, d)) return false;
    if (d.insn.prefixes.lock) {
        // LOCK MOV CR0 is AMD's MOV CR8, offered only with CPUID's AltMovCr8, which
        // guests do not see; LOCK on CLTS or LMSW is #UD (SDM vol. 2A 2.1.1).
        vcpu.events.raise_exception(kVectorUd, false, 0);
        return false;
    }
    out.form = d.form;
    out.gpr = d.gpr;
    length = d.length;
    if (d.form == CrAccessForm::Lmsw) {
        WalkFault fault;
        if (d.lmsw_memory) {
            const u64 linear = memory_operand_linear(vcpu, c, d.insn);
            if (!read_guest_linear(vcpu, linear, &lmsw_source, sizeof(lmsw_source), fault)) {
                if (!reflect_guest_fault(vcpu, fault))
                    domain_crash(*vcpu.domain, "vcpu%u: LMSW from memory outside its RAM at rip %#llx", vcpu.index,
                                 (unsigned long long)vcpu.regs.rip);
                return false;
            }
        } else {
            lmsw_source = u16(register_value(vcpu, d.gpr));
        }
    }
    return true;
}

}  // namespace

bool decode_cr_access_at_rip(Vcpu& vcpu, const GuestControlState& c, u8 cr, u32 forms, DecodedCrAccess& out) {
    u8 bytes[15];
    usize available = 0;
    WalkFault fault;
    if (!fetch_guest_instruction(vcpu, c, bytes, available, fault)) {
        if (!reflect_guest_fault(vcpu, fault))
            domain_crash(*vcpu.domain, "vcpu%u: cannot fetch the instruction at rip %#llx (%s)", vcpu.index,
                         (unsigned long long)vcpu.regs.rip, walk_result_name(fault));
        return false;
    }
    if (!decode_control_register_access(bytes, available, c.mode, out) || out.cr != cr ||
        !(forms & cr_form(out.form))) {
        domain_crash(*vcpu.domain, "vcpu%u: the instruction at rip %#llx is not the CR%u access that exited",
                     vcpu.index, (unsigned long long)vcpu.regs.rip, cr);
        return false;
    }
    return true;
}

bool read_guest_pae_pdptes(Vcpu& vcpu, u64 cr3, u64 (&pdptes)[4]) {
    // In PAE paging CR3[31:5] locates the 32-byte PDPT (SDM vol. 3A 4.4.1).
    if (!vcpu.domain->memory.read(cr3 & 0xffffffe0ull, pdptes, sizeof(pdptes))) return false;
    return pae_pdptes_valid(pdptes, vcpu.domain->cpuid.max_physical_bits());
}

void handle_control_register_write(Vcpu& vcpu, const CrWriteExit& exit) {
    const GuestControlState c = vcpu.backend->control_state();
    if (c.cpl != 0) {
        // The CPU checks the privilege before the intercept; kept for the record.
        raise_gp(vcpu);
        return;
    }
    CrWriteExit w;
    u8 length = 0;
    u16 lmsw_source = 0;
    if (!identify_write(vcpu, c, exit, w, length, lmsw_source)) return;
    const ControlRegisterState now = judged_state(c);
    ControlRegisterWrite result;
    if (w.form == CrAccessForm::Clts) {
        result = write_cr0(now, clts_value(c.cr0));
    } else if (w.form == CrAccessForm::Lmsw) {
        result = write_cr0(now, lmsw_value(c.cr0, lmsw_source));
    } else {
        // Outside 64-bit mode the instruction writes a 32-bit register (SDM vol. 2B,
        // MOV CR: "operand size is 32 bits").
        u64 value = register_value(vcpu, w.gpr);
        if (c.mode != GuestCpuMode::Long64) value &= 0xffffffffull;
        result = w.cr == 0 ? write_cr0(now, value) : write_cr4(now, value, vcpu.domain->cpuid.cr4_allowed());
    }
    if (result.fault) {
        raise_gp(vcpu);
        return;
    }
    u64 pdptes[4];
    const bool load = result.load_pdptes && vcpu.backend->caches_pae_pdptes();
    if (load && !read_guest_pae_pdptes(vcpu, c.cr3, pdptes)) {
        raise_gp(vcpu);  // a reserved bit in a PDPTE (SDM vol. 2B, MOV CR: #GP(0))
        return;
    }
    vcpu.backend->set_control_registers(result.cr0, result.cr4, result.efer, load ? pdptes : nullptr, result.flush_tlb);
    vcpu.regs.rip += length;
    if (c.mode != GuestCpuMode::Long64) vcpu.regs.rip &= 0xffffffffull;
    instruction_completed(vcpu);
}

bool write_guest_efer(Vcpu& vcpu, u64 value) {
    const GuestControlState c = vcpu.backend->control_state();
    const ControlRegisterWrite result = write_efer(judged_state(c), value, vcpu.domain->cpuid.efer_allowed());
    if (result.fault) return false;
    vcpu.backend->set_control_registers(result.cr0, result.cr4, result.efer, nullptr, result.flush_tlb);
    return true;
}
