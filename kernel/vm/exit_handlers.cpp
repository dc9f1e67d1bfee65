#include "kernel/vm/exit_handlers.hpp"

#include "kernel/domain/domain.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/ioreq/ioreq_server.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/control_register_rules.hpp"
#include "kernel/vm/control_register_writes.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/vm/guest_view.hpp"
#include "kernel/vm/hypercalls.hpp"
#include "kernel/vm/instruction_completion.hpp"
#include "kernel/vm/instruction_length.hpp"
#include "kernel/vm/mmio_emulation.hpp"
#include "kernel/vm/msr_policy.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/p2m.hpp"

namespace {

// Exception vectors (SDM vol. 3A table 6-1).
constexpr u8 kVectorDb = 1;
constexpr u8 kVectorUd = 6;
constexpr u8 kVectorGp = 13;
constexpr u8 kVectorAc = 17;

// Moves RIP past an instruction of LENGTH bytes that completed.
void advance_rip(Vcpu& vcpu, u8 length, GuestCpuMode mode) {
    vcpu.regs.rip += length;
    if (mode != GuestCpuMode::Long64) vcpu.regs.rip &= 0xffffffffull;
    instruction_completed(vcpu);
}

// The guest's instruction bytes at RIP, into BYTES (AVAILABLE of them). False when they
// cannot be fetched; the domain has been ended then.
bool fetch_at_rip(Vcpu& vcpu, const GuestControlState& control, u8 (&bytes)[15], usize& available) {
    WalkFault fault;
    if (fetch_guest_instruction(vcpu, control, bytes, available, fault)) return true;
    domain_crash(*vcpu.domain, "vcpu%u: cannot fetch the instruction at rip %#llx (%s)", vcpu.index,
                 (unsigned long long)vcpu.regs.rip, walk_result_name(fault));
    return false;
}

// Moves RIP past the intercepted instruction WHICH, decoded from BYTES fetched at RIP,
// and returns its length. 0 when they are not that instruction; the domain has been
// ended then, or #UD raised.
u8 skip_decoded(Vcpu& vcpu, InterceptedInstruction which, GuestCpuMode mode, const u8* bytes, usize available) {
    const u8 length = intercepted_instruction_length(bytes, available, mode, which);
    if (length == 0 && intercepted_instruction_is_locked(bytes, available, mode, which)) {
        // LOCK on an instruction that takes none is #UD (SDM vol. 2A 2.1.1); the CPU
        // checked the intercept first. Nothing of the instruction happens.
        vcpu.events.raise_exception(kVectorUd, false, 0);
        return 0;
    }
    if (length == 0) {
        domain_crash(*vcpu.domain, "vcpu%u: the instruction at rip %#llx is not the one that exited", vcpu.index,
                     (unsigned long long)vcpu.regs.rip);
        return 0;
    }
    advance_rip(vcpu, length, mode);
    return length;
}

GuestFetchContext fetch_context_of(const Vcpu& vcpu, const GuestControlState& c) {
    u64 linear = c.segment_base[u8(SegmentRegister::Cs)] + vcpu.regs.rip;
    if (c.mode != GuestCpuMode::Long64) linear &= 0xffffffffull;
    return {linear, c.cr0, c.cr3, c.cr4, c.efer, c.mode};
}

// The instruction just decoded at `at` goes into the vCPU's cache, with the translation
// of its address (walked again: only at a miss).
void remember_instruction(Vcpu& vcpu, const GuestControlState& control, const GuestFetchContext& at,
                          InterceptedInstruction which, const u8* bytes, u8 length) {
    GuestAccess access;
    access.fetch = true;
    GuestTranslation translation;
    if (!walk_guest_page_tables(vcpu.domain->memory, guest_paging_state(vcpu, control), at.linear, access, translation)
             .ok())
        return;
    vcpu.exit_instructions.remember(vcpu.domain->memory, at, which, translation, bytes, length);
}

// Moves RIP past the intercepted instruction, decoding its length from guest memory
// unless the backend told it (from the hardware, or from the vCPU's cache of exit
// instructions, kernel/vm/exit_instruction_cache.hpp, which a decode here fills). False
// when the bytes there are not that instruction; the domain has been ended then.
// `control` is the vCPU's control state, read here once for the handler too (it costs
// a VMCB walk or VMREADs).
bool skip_instruction(Vcpu& vcpu, InterceptedInstruction which, GuestControlState& control) {
    control = vcpu.backend->control_state();
    // Told by the backend; the mode cannot have changed since the exit.
    if (const u8 length = vcpu.exit_instruction_length) {
        advance_rip(vcpu, length, control.mode);
        return true;
    }
    const GuestFetchContext at = fetch_context_of(vcpu, control);
    u8 bytes[15];
    usize available = 0;
    if (!fetch_at_rip(vcpu, control, bytes, available)) return false;
    const u8 length = skip_decoded(vcpu, which, control.mode, bytes, available);
    if (length) remember_instruction(vcpu, control, at, which, bytes, length);
    return length != 0;
}

bool skip_instruction(Vcpu& vcpu, InterceptedInstruction which) {
    GuestControlState control;
    return skip_instruction(vcpu, which, control);
}

void set_result32(Vcpu& vcpu, Gpr reg, u32 value) { vcpu.regs[reg] = value; }  // zero-extends, as the CPU does

void handle_cpuid(Vcpu& vcpu) {
    GuestControlState control;
    if (!skip_instruction(vcpu, InterceptedInstruction::Cpuid, control)) return;
    const u32 leaf = u32(vcpu.regs[Gpr::Rax]);
    const u32 subleaf = u32(vcpu.regs[Gpr::Rcx]);
    // Only leaf 0Dh reads XCR0 (CpuidPolicy::query): the others do without it.
    const u64 cr4 = leaf == 1 ? control.cr4 : 0;
    const u64 xcr0 = leaf == 0xd ? fpu_guest_xcr0(vcpu) : 0;
    const CpuidResult r = vcpu.domain->cpuid.query(leaf, subleaf, vcpu.index, cr4, xcr0);
    set_result32(vcpu, Gpr::Rax, r.eax);
    set_result32(vcpu, Gpr::Rbx, r.ebx);
    set_result32(vcpu, Gpr::Rcx, r.ecx);
    // With its local APIC globally disabled, the CPU reports none (SDM vol. 3A 11.4.3).
    const Platform& platform = *vcpu.domain->platform;
    const bool apic_off = leaf == 1 && platform.has_local_apics() && !platform.local_apic_enabled(vcpu);
    set_result32(vcpu, Gpr::Rdx, apic_off ? r.edx & ~(1u << 9) : r.edx);
}

// RDTSC exits only while a backend runs the guest's TSC at another rate in software
// (svm/svm_vcpu.cpp, follow_tsc_base): it reads what RDMSR of the TSC reads, into
// EDX:EAX (SDM vol. 2B, RDTSC). With CR4.TSD set it is privileged: #GP(0) outside CPL 0,
// which the CPU checks before the intercept; checked here as well. RDTSCP is hidden
// (CPUID), so #UD, as its own exit gives; QEMU's TCG reports it with RDTSC's exit code
// (it checks the RDTSC intercept for both), so the bytes at RIP tell them apart, fetched
// once for that and for the skip.
void handle_rdtsc(Vcpu& vcpu) {
    const GuestControlState control = vcpu.backend->control_state();
    u8 bytes[15];
    usize available = 0;
    const bool decode = vcpu.exit_instruction_length == 0;  // else the hardware told the exit's own instruction
    if (decode) {
        if (!fetch_at_rip(vcpu, control, bytes, available)) return;
        if (intercepted_instruction_length(bytes, available, control.mode, InterceptedInstruction::Rdtscp) != 0) {
            vcpu.events.raise_exception(kVectorUd, false, 0);
            return;
        }
    }
    if ((control.cr4 & cr_bits::kCr4Tsd) && control.cpl != 0) {
        vcpu.events.raise_exception(kVectorGp, true, 0);
        return;
    }
    if (!decode)
        advance_rip(vcpu, vcpu.exit_instruction_length, control.mode);
    else if (!skip_decoded(vcpu, InterceptedInstruction::Rdtsc, control.mode, bytes, available))
        return;
    u64 value = 0;
    vcpu.backend->read_guest_msr(Msr::Tsc, value);
    set_result32(vcpu, Gpr::Rax, u32(value));
    set_result32(vcpu, Gpr::Rdx, u32(value >> 32));
}

void handle_msr(Vcpu& vcpu, bool write) {
    const u32 index = u32(vcpu.regs[Gpr::Rcx]);
    MsrResult result;
    u64 value = 0;
    if (write) {
        value = (vcpu.regs[Gpr::Rdx] << 32) | u32(vcpu.regs[Gpr::Rax]);
        result = guest_write_msr(vcpu, index, value);
    } else {
        result = guest_read_msr(vcpu, index, value);
    }
    if (result == MsrResult::GeneralProtection) {
        // A faulting instruction does not complete: RIP stays on it (SDM 6.5).
        vcpu.events.raise_exception(kVectorGp, true, 0);
        return;
    }
    if (!skip_instruction(vcpu, write ? InterceptedInstruction::Wrmsr : InterceptedInstruction::Rdmsr)) return;
    if (!write) {
        set_result32(vcpu, Gpr::Rax, u32(value));
        set_result32(vcpu, Gpr::Rdx, u32(value >> 32));
    }
}

u32 port_read(Vcpu& vcpu, u16 port, u8 size);
void port_write(Vcpu& vcpu, u16 port, u8 size, u32 value);

void log_unclaimed(Vcpu& vcpu, u16 port, const char* access, const char* result) {
    const IoBus::PortNote note = vcpu.domain->io.note_unclaimed_access(port);
    if (note == IoBus::PortNote::Silent) return;
    log_info("%s: vcpu%u %s unclaimed port %#x: %s (%s)", vcpu.domain->name, vcpu.index, access, port, result,
             note == IoBus::PortNote::Log ? "logged once" : "logged once; its further unclaimed ports are not logged");
}

// A model claiming the first port takes the whole access, as the chipset decodes it (a
// dword at 0xCF8 is CONFIG_ADDRESS, though 0xCF9 alone is the reset control). But an
// access that would reach the real ports (dom0's fallback) while some of its bytes are a
// model's (a dword at 0x3F5 would reach Vireo's console at 0x3F8) goes byte by byte, each
// to its own device, so the hardware never sees a claimed port.
VIREO_HOT_PATH bool split_across_devices(const Domain& d, u16 port, u8 size) {
    if (d.io.claimed_device_at(port)) return false;
    for (u32 p = u32(port) + 1; p < u32(port) + size; ++p)
        if (p > 0xffff || d.io.claimed_device_at(u16(p))) return true;
    return false;
}

VIREO_HOT_PATH u32 port_read(Vcpu& vcpu, u16 port, u8 size) {
    Domain& d = *vcpu.domain;
    const u32 mask = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
    if (size > 1 && split_across_devices(d, port, size)) {
        u32 value = 0;
        for (u32 i = 0; i < size; ++i)
            value |= (port + i <= 0xffff ? port_read(vcpu, u16(port + i), 1) : 0xffu) << (8 * i);
        return value;
    }
    if (IoDevice* device = d.io.device_at(port)) return device->io_read(vcpu, port, size) & mask;
    log_unclaimed(vcpu, port, "read from", "all ones");
    return mask;  // nothing there: the bus floats high
}

VIREO_HOT_PATH void port_write(Vcpu& vcpu, u16 port, u8 size, u32 value) {
    Domain& d = *vcpu.domain;
    const u32 mask = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
    if (size > 1 && split_across_devices(d, port, size)) {
        for (u32 i = 0; i < size && port + i <= 0xffff; ++i)
            port_write(vcpu, u16(port + i), 1, (value >> (8 * i)) & 0xff);
        return;
    }
    if (IoDevice* device = d.io.device_at(port))
        device->io_write(vcpu, port, size, value & mask);
    else
        log_unclaimed(vcpu, port, "wrote to", "dropped");
}

// The memory operand of an INS or OUTS that is not RAM but emulated MMIO (`fault` says
// where): the access reaches the device, as any other instruction's access there would
// (kernel/vm/mmio_emulation.cpp). False when it is no device's either, or when it
// straddles a page (then the domain ends, as before).
bool string_io_mmio(Vcpu& vcpu, u64 linear, const WalkFault& fault, u8 size, bool write, u32& value) {
    if (fault.kind != WalkResult::BadDataPhysical || (linear & (kPageSize - 1)) + size > kPageSize) return false;
    const MmioBus::Range* range = vcpu.domain->mmio.range_at(fault.address);
    if (!range || !range->device || !range->mmio_fits(fault.address, size)) return false;
    if (write)
        range->device->mmio_write(vcpu, fault.address - range->base, size, value);
    else
        value = u32(range->device->mmio_read(vcpu, fault.address - range->base, size));
    return true;
}

// INS/OUTS, with or without REP (SDM vol. 2, INS/OUTS): the memory operand is ES:rDI for
// INS and DS:rSI (segment override allowed) for OUTS, stepping by the operand size up or
// down with RFLAGS.DF. QEMU gives neither the segment nor the address size in EXITINFO1
// (research pitfall 7), so both come from the instruction's own prefixes.
void handle_string_io(Vcpu& vcpu, const IoExit& io) {
    u8 bytes[15];
    usize available = 0;
    WalkFault fault;
    const GuestControlState c = vcpu.backend->control_state();
    if (!fetch_guest_instruction(vcpu, c, bytes, available, fault)) {
        if (!reflect_guest_fault(vcpu, fault))
            domain_crash(*vcpu.domain, "vcpu%u: cannot fetch the string I/O instruction at rip %#llx", vcpu.index,
                         (unsigned long long)vcpu.regs.rip);
        return;
    }
    SegmentRegister segment = io.in ? SegmentRegister::Es : SegmentRegister::Ds;
    bool address_override = false;
    for (usize i = 0; i < available; ++i) {
        const u8 b = bytes[i];
        if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) {
            if (!io.in)
                segment = b == 0x26   ? SegmentRegister::Es
                          : b == 0x2e ? SegmentRegister::Cs
                          : b == 0x36 ? SegmentRegister::Ss
                          : b == 0x3e ? SegmentRegister::Ds
                          : b == 0x64 ? SegmentRegister::Fs
                                      : SegmentRegister::Gs;
        } else if (b == 0x67) {
            address_override = true;
        } else if (b != 0x66 && b != 0xf2 && b != 0xf3 && b != 0xf0) {
            break;
        }
    }
    u32 address_bits = c.mode == GuestCpuMode::Long64 ? 64 : c.mode == GuestCpuMode::Protected32 ? 32 : 16;
    if (address_override) address_bits = address_bits == 64 ? 32 : address_bits == 32 ? 16 : 32;
    const u64 address_mask = address_bits == 64 ? ~0ull : (1ull << address_bits) - 1;
    const u64 segment_base =
        c.mode == GuestCpuMode::Long64 && segment != SegmentRegister::Fs && segment != SegmentRegister::Gs
            ? 0
            : c.segment_base[u8(segment)];
    const Gpr pointer = io.in ? Gpr::Rdi : Gpr::Rsi;
    const bool down = vcpu.regs.rflags & (1ull << 10);  // DF
    u64 count = io.rep ? (vcpu.regs[Gpr::Rcx] & address_mask) : 1;
    // A long REP is done in slices, so one exit never holds the CPU for long; RIP stays on
    // the instruction until the count reaches zero, as an interrupted REP does on the CPU.
    constexpr u64 kSlice = 4096;
    for (u64 done = 0; count > 0 && done < kSlice; ++done) {
        const u64 offset = vcpu.regs[pointer] & address_mask;
        const u64 linear = (segment_base + offset) & (c.mode == GuestCpuMode::Long64 ? ~0ull : 0xffffffffull);
        u32 value = 0;
        if (io.in) {
            value = port_read(vcpu, io.port, io.size);
            if (ioreq_waiting(vcpu)) return;  // handled again with the answer
            if (!write_guest_linear(vcpu, linear, &value, io.size, fault) &&
                !string_io_mmio(vcpu, linear, fault, io.size, true, value)) {
                if (!reflect_guest_fault(vcpu, fault))
                    domain_crash(*vcpu.domain, "vcpu%u: INS into memory outside its RAM at rip %#llx", vcpu.index,
                                 (unsigned long long)vcpu.regs.rip);
                return;
            }
        } else {
            if (!read_guest_linear(vcpu, linear, &value, io.size, fault) &&
                !string_io_mmio(vcpu, linear, fault, io.size, false, value)) {
                if (!reflect_guest_fault(vcpu, fault))
                    domain_crash(*vcpu.domain, "vcpu%u: OUTS from memory outside its RAM at rip %#llx", vcpu.index,
                                 (unsigned long long)vcpu.regs.rip);
                return;
            }
            if (ioreq_waiting(vcpu)) return;
            port_write(vcpu, io.port, io.size, value);
            if (ioreq_waiting(vcpu)) return;
        }
        const u64 next = down ? offset - io.size : offset + io.size;
        vcpu.regs[pointer] = (vcpu.regs[pointer] & ~address_mask) | (next & address_mask);
        --count;
        if (io.rep) vcpu.regs[Gpr::Rcx] = (vcpu.regs[Gpr::Rcx] & ~address_mask) | count;
    }
    if (count == 0) {
        vcpu.regs.rip = io.next_rip;
        instruction_completed(vcpu);
    }
}

VIREO_HOT_PATH void handle_io(Vcpu& vcpu, const IoExit& io) {
    if (io.string) {
        handle_string_io(vcpu, io);
        return;
    }
    const u32 mask = io.size == 4 ? 0xffffffffu : io.size == 2 ? 0xffffu : 0xffu;
    if (io.in) {
        const u32 value = port_read(vcpu, io.port, io.size);
        if (ioreq_waiting(vcpu)) return;  // a device model's: handled again with its answer
        // IN to AL/AX leaves the rest of RAX alone; IN to EAX zero-extends (SDM 3.4.1.1).
        u64& rax = vcpu.regs[Gpr::Rax];
        rax = io.size == 4 ? u64(value) : (rax & ~u64(mask)) | value;
    } else {
        port_write(vcpu, io.port, io.size, u32(vcpu.regs[Gpr::Rax]));
        if (ioreq_waiting(vcpu)) return;
    }
    vcpu.regs.rip = io.next_rip;
    instruction_completed(vcpu);
}

}  // namespace

VIREO_HOT_PATH bool handle_port_io_in_place(Vcpu& vcpu, const VmExit& exit) {
    if (exit.io.string || vcpu.ioreq || vcpu.domain->hardware_domain) return false;
    ++vcpu.exits[static_cast<u8>(ExitKind::Io)];
    handle_io(vcpu, exit.io);
    return true;
}

namespace {

void handle_hlt(Vcpu& vcpu) {
    if (!skip_instruction(vcpu, InterceptedInstruction::Hlt)) return;
    vcpu.domain->platform->halt(vcpu);
}

// XSETBV (SDM vol. 2): #UD without CR4.OSXSAVE, #GP at CPL > 0, for ECX != 0 or an
// invalid value; otherwise the vCPU's XCR0 changes (kernel/vm/fpu_state.cpp).
void handle_xsetbv(Vcpu& vcpu) {
    constexpr u64 kCr4Osxsave = 1ull << 18;
    const GuestControlState c = vcpu.backend->control_state();
    const u64 supported = vcpu.domain->cpuid.xcr0_supported();  // what its CPUID offers
    if (!(c.cr4 & kCr4Osxsave) || supported == 0) {
        vcpu.events.raise_exception(kVectorUd, false, 0);
        return;
    }
    const u64 value = (vcpu.regs[Gpr::Rdx] << 32) | u32(vcpu.regs[Gpr::Rax]);
    if (c.cpl != 0 || u32(vcpu.regs[Gpr::Rcx]) != 0 || !valid_guest_xcr0(value, supported) ||
        !fpu_set_guest_xcr0(vcpu, value)) {
        vcpu.events.raise_exception(kVectorGp, true, 0);
        return;
    }
    skip_instruction(vcpu, InterceptedInstruction::Xsetbv);
}

void handle_nested_page_fault(Vcpu& vcpu, const NestedPageFaultExit& npf) {
    // The first touch of a chunk of RAM zeroed on first touch: zeroed, mapped, retried.
    if (vcpu.domain->memory.populate_on_fault(npf.gpa, npf.present)) return;
    // A write to a page the dirty log protects: marked, writable again, and retried (as
    // is one through a stale translation of a page that is writable again).
    if (npf.write && npf.present && vcpu.domain->memory.dirty_log_write_fault(npf.gpa)) return;
    // Domain-0's device pages are mapped on first touch.
    if (passthrough_nested_fault(vcpu, npf)) return;
    if (emulate_mmio_access(vcpu, npf)) return;
    // Neither RAM nor a device: a rule broken by the guest, which ends it (and only it).
    domain_crash(*vcpu.domain, "vcpu%u: %s guest-physical address %#llx outside its memory (%llu MiB) at rip %#llx%s",
                 vcpu.index,
                 npf.fetch   ? "executed from"
                 : npf.write ? "wrote to"
                             : "read from",
                 (unsigned long long)npf.gpa, (unsigned long long)(vcpu.domain->memory.size() / MiB),
                 (unsigned long long)vcpu.regs.rip, npf.during_walk ? " (walking its page tables)" : "");
}

// MOV to/from CR8 (SDM vol. 3A 10.8.6.5 / 11.8.6.5): CR8[3:0] is TPR[7:4]; other bits
// are reserved (#GP on a write of any). With a virtual local APIC it is that APIC's TPR.
// A backend that does not tell the register (SVM without decode assists) leaves the
// instruction to be decoded here.
void handle_cr8(Vcpu& vcpu, const Cr8Exit& exit) {
    Cr8Exit cr8 = exit;
    if (!cr8.decoded) {
        DecodedCrAccess d;
        const CrAccessForm form = cr8.write ? CrAccessForm::MovToCr : CrAccessForm::MovFromCr;
        if (!decode_cr_access_at_rip(vcpu, vcpu.backend->control_state(), 8, cr_form(form), d)) return;
        cr8.gpr = d.gpr;
        vcpu.exit_instruction_length = d.length;
    }
    const Gpr reg = static_cast<Gpr>(cr8.gpr & 15);
    if (cr8.write && (vcpu.regs[reg] & ~0xfull)) {
        vcpu.events.raise_exception(kVectorGp, true, 0);
        return;
    }
    if (!skip_instruction(vcpu, cr8.write ? InterceptedInstruction::MovToCr : InterceptedInstruction::MovFromCr))
        return;
    Platform& platform = *vcpu.domain->platform;
    if (cr8.write)
        platform.write_cr8(vcpu, vcpu.regs[reg]);
    else
        vcpu.regs[reg] = platform.read_cr8(vcpu);
}

// What a guest's last exception delivery saw: a triple fault says only that three failed
// (SDM vol. 3A 6.15, interrupt 8), so the log gets the state they depended on.
void log_triple_fault_state(Vcpu& vcpu) {
    static SpinLock lock;
    static VcpuArchState state;  // too big for a hypervisor stack
    IrqLockGuard guard(lock);
    vcpu.backend->get_state(vcpu, vcpu_state::kSegments | vcpu_state::kControl | vcpu_state::kEvents, state);
    const auto& cs = state.segment[u8(vcpu_state::SegmentIndex::Cs)];
    const auto& ss = state.segment[u8(vcpu_state::SegmentIndex::Ss)];
    const auto& tr = state.segment[u8(vcpu_state::SegmentIndex::Tr)];
    log_error(
        "%s: vcpu%u triple fault: rflags %#llx cs %#x ss %#x:%#llx rsp %#llx idtr %#llx/%#x gdtr %#llx/%#x tr %#x "
        "cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx; delivering kind %u vector %u, interrupt %s %u",
        vcpu.domain->name, vcpu.index, (unsigned long long)vcpu.regs.rflags, cs.selector, ss.selector,
        (unsigned long long)ss.base, (unsigned long long)vcpu.regs[Gpr::Rsp], (unsigned long long)state.idtr.base,
        state.idtr.limit, (unsigned long long)state.gdtr.base, state.gdtr.limit, tr.selector,
        (unsigned long long)state.control.cr0, (unsigned long long)state.control.cr3,
        (unsigned long long)state.control.cr4, (unsigned long long)state.control.efer,
        unsigned(vcpu.events.injected.kind), vcpu.events.injected.vector,
        vcpu.events.interrupt_requested ? "requested" : "not requested", vcpu.events.interrupt_vector);
    // Without paging, linear addresses are guest-physical: the gate and the descriptor
    // it names, as the CPU read them.
    constexpr u64 kCr0Pg = 1ull << 31;
    const u8 vector = vcpu.events.injected.kind != vcpu_state::EventKind::None ? vcpu.events.injected.vector
                                                                               : vcpu.events.interrupt_vector;
    u64 gate = 0, descriptor = 0, stack[4] = {};
    if ((state.control.cr0 & kCr0Pg) == 0 && vcpu.domain->memory.read(state.idtr.base + u64(vector) * 8, &gate, 8) &&
        vcpu.domain->memory.read(state.gdtr.base + ((gate >> 16) & 0xfff8), &descriptor, 8) &&
        vcpu.domain->memory.read((vcpu.regs[Gpr::Rsp] - sizeof(stack)) & 0xffffffffull, stack, sizeof(stack)))
        log_error(
            "%s: vcpu%u gate %u: %#llx, its code descriptor %#llx; below the stack %#llx %#llx %#llx %#llx; "
            "cs attributes %#x limit %#x, ss attributes %#x limit %#x",
            vcpu.domain->name, vcpu.index, vector, (unsigned long long)gate, (unsigned long long)descriptor,
            (unsigned long long)stack[0], (unsigned long long)stack[1], (unsigned long long)stack[2],
            (unsigned long long)stack[3], cs.attributes, cs.limit, ss.attributes, ss.limit);
    // The same gate through the nested tables the CPU walks: a difference means they no
    // longer map the domain's own RAM there.
    P2mEntry entry{};
    const u64 gate_gpa = state.idtr.base + u64(vector) * 8;
    if ((state.control.cr0 & kCr0Pg) == 0 && vcpu.domain->memory.lookup(gate_gpa, entry) &&
        (entry.type == P2mType::Ram || entry.type == P2mType::RamLogDirty))
        log_error("%s: vcpu%u gate %u through the nested tables: host %#llx, %#llx, type %u", vcpu.domain->name,
                  vcpu.index, vector, (unsigned long long)entry.frame,
                  (unsigned long long)*phys_to_virt<u64>(entry.frame), unsigned(entry.type));
}

}  // namespace

// #DB and #AC are intercepted so that a guest cannot hold a CPU in a microcode loop of
// them (CVE-2015-5307, CVE-2015-8104: an exception whose delivery raises the same one
// again, which no interrupt ends); each goes back into the guest as it came. #AC always
// has error code 0 (SDM vol. 3A 6.15); #DB has none, and DR6 already holds its cause.
void handle_exception(Vcpu& vcpu, u8 vector) {
    switch (vector) {
        case kVectorDb: vcpu.events.raise_exception(kVectorDb, false, 0); return;
        case kVectorAc: vcpu.events.raise_exception(kVectorAc, true, 0); return;
        default:
            domain_crash(*vcpu.domain, "vcpu%u: unexpected intercepted exception %u at rip %#llx", vcpu.index, vector,
                         (unsigned long long)vcpu.regs.rip);
            return;
    }
}

// INVD would throw away dirty cache lines, the host's and other domains' among them: it
// runs as WBINVD, as Xen does. WBINVD itself is a no-op for a domain that drives no real
// device (caches are coherent for everything else), and real for Domain-0, whose
// devices may need memory written back.
// Both alike, so which one exited does not matter (QEMU's TCG reports INVD as WBINVD).
void handle_cache_flush(Vcpu& vcpu) {
    if (!skip_instruction(vcpu, InterceptedInstruction::InvdOrWbinvd)) return;
    if (vcpu.domain->hardware_domain) x86::wbinvd();
}

void handle_vm_exit(Vcpu& vcpu, const VmExit& exit) {
    ++vcpu.exits[static_cast<u8>(exit.kind)];
    vcpu.exit_instruction_length = exit.instruction_length;
    Domain& d = *vcpu.domain;
    switch (exit.kind) {
        case ExitKind::Cpuid: handle_cpuid(vcpu); return;
        case ExitKind::MsrRead: handle_msr(vcpu, false); return;
        case ExitKind::MsrWrite:
            vcpu.last_msr_written = u32(vcpu.regs[Gpr::Rcx]);
            handle_msr(vcpu, true);
            return;
        case ExitKind::Io: handle_io(vcpu, exit.io); return;
        case ExitKind::Hlt: handle_hlt(vcpu); return;
        case ExitKind::Hypercall: {
            const bool svm = vcpu.backend->is_svm();
            GuestControlState control;
            if (skip_instruction(vcpu, svm ? InterceptedInstruction::Vmmcall : InterceptedInstruction::Vmcall, control))
                handle_hypercall(vcpu, control);  // the mode and CPL of the VMMCALL/VMCALL: RIP moved only
            return;
        }
        case ExitKind::NestedPageFault:
            vcpu.last_npf_gpa = exit.npf.gpa;
            vcpu.last_npf_rip = vcpu.regs.rip;
            handle_nested_page_fault(vcpu, exit.npf);
            return;
        case ExitKind::TripleFault:
            log_triple_fault_state(vcpu);
            domain_crash(d, "vcpu%u: triple fault (shutdown) at rip %#llx", vcpu.index,
                         (unsigned long long)vcpu.regs.rip);
            return;
        case ExitKind::InvalidGuestState:
            domain_crash(d, "vcpu%u: the CPU refused the guest state (exit %#llx)", vcpu.index,
                         (unsigned long long)exit.raw_reason);
            return;
        case ExitKind::PhysicalInterrupt:
        case ExitKind::InterruptWindow: return;  // the host already serviced it
        case ExitKind::VirtualizationInstruction:
            // The extensions are hidden from guests (CPUID): their instructions are #UD,
            // as on a CPU without them.
            vcpu.events.raise_exception(kVectorUd, false, 0);
            return;
        case ExitKind::Xsetbv: handle_xsetbv(vcpu); return;
        case ExitKind::Cr8Access: handle_cr8(vcpu, exit.cr8); return;
        case ExitKind::ControlRegisterWrite: handle_control_register_write(vcpu, exit.cr_write); return;
        case ExitKind::Exception: handle_exception(vcpu, exit.exception_vector); return;
        case ExitKind::CacheFlush: handle_cache_flush(vcpu); return;
        case ExitKind::MonitorMwait:
            // A CPU without MONITOR/MWAIT (CPUID.1:ECX bit 3, which guests see clear)
            // raises #UD for both (SDM vol. 2B, MONITOR and MWAIT).
            vcpu.events.raise_exception(kVectorUd, false, 0);
            return;
        case ExitKind::Rdpmc:
            // No counter exists, so every ECX names an invalid one: #GP(0) (SDM vol. 2B,
            // RDPMC); the host's counters stay the host's.
            vcpu.events.raise_exception(kVectorGp, true, 0);
            return;
        case ExitKind::Rdtsc: handle_rdtsc(vcpu); return;
        case ExitKind::Rdtscp:
            // Hidden by CPUID, so #UD as on a CPU without it (APM vol. 3, RDTSCP); the
            // host's TSC_AUX (its CPU number) stays the host's.
            vcpu.events.raise_exception(kVectorUd, false, 0);
            return;
        case ExitKind::TaskSwitch: {
            // Hardware task switching (SDM vol. 3A 8.3) is not emulated: no 64-bit guest can
            // use it, and 32-bit Linux only for a double fault. The domain ends, saying so.
            static const char* const kSources[] = {"a CALL to", "an IRET back to", "a JMP to", "a task gate for"};
            domain_crash(
                d, "vcpu%u: hardware task switch (%s TSS selector %#x) at rip %#llx, which Vireo does not emulate",
                vcpu.index, kSources[u8(exit.task_switch.source)], exit.task_switch.selector,
                (unsigned long long)vcpu.regs.rip);
            return;
        }
        case ExitKind::Unhandled:
        case ExitKind::Count: break;
    }
    domain_crash(d, "vcpu%u: unhandled exit %#llx at rip %#llx", vcpu.index, (unsigned long long)exit.raw_reason,
                 (unsigned long long)vcpu.regs.rip);
}
