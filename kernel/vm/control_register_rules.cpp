#include "kernel/vm/control_register_rules.hpp"

using namespace cr_bits;

namespace {

bool in_64bit_mode(const ControlRegisterState& s) { return (s.efer & kEferLma) && s.cs_long; }

bool pae_paging(u64 cr0, u64 cr4, u64 efer) { return (cr0 & kCr0Pg) && (cr4 & kCr4Pae) && !(efer & kEferLma); }

ControlRegisterWrite unchanged(const ControlRegisterState& now) {
    ControlRegisterWrite w;
    w.cr0 = now.cr0;
    w.cr4 = now.cr4;
    w.efer = now.efer;
    return w;
}

ControlRegisterWrite fault(const ControlRegisterState& now) {
    ControlRegisterWrite w = unchanged(now);
    w.fault = true;
    return w;
}

}  // namespace

ControlRegisterWrite write_cr0(const ControlRegisterState& now, u64 value) {
    if (value >> 32) return fault(now);
    // Undefined bits of the low half are ignored, ET is fixed to 1 (SDM vol. 3A 2.5).
    value = (value & kCr0Defined) | kCr0Et;
    if ((value & kCr0Nw) && !(value & kCr0Cd)) return fault(now);
    if ((value & kCr0Pg) && !(value & kCr0Pe)) return fault(now);
    ControlRegisterWrite w = unchanged(now);
    const bool paging_on = (value & kCr0Pg) && !(now.cr0 & kCr0Pg);
    const bool paging_off = !(value & kCr0Pg) && (now.cr0 & kCr0Pg);
    if (paging_on && (now.efer & kEferLme)) {
        // Activating IA-32e mode needs PAE, and a CS that is not already a 64-bit one
        // (SDM vol. 3A 9.8.5; KVM refuses CS.L likewise).
        if (!(now.cr4 & kCr4Pae) || now.cs_long) return fault(now);
        w.efer |= kEferLma;
    }
    if (paging_off) {
        // Leaving IA-32e mode is allowed from compatibility mode only (SDM vol. 3A
        // 9.8.5.4), and never with PCIDE set (SDM vol. 2B, MOV CR: #GP).
        if (in_64bit_mode(now) || (now.cr4 & kCr4Pcide)) return fault(now);
        w.efer &= ~kEferLma;
    }
    w.cr0 = value;
    const u64 changed = value ^ now.cr0;
    w.flush_tlb = (changed & (kCr0Pg | kCr0Pe | kCr0Wp | kCr0Cd | kCr0Nw)) != 0;
    // The CPU loads the PDPTEs when a MOV CR0 changes PG, CD or NW with PAE paging the
    // result (SDM vol. 3A 4.4.1).
    w.load_pdptes = pae_paging(w.cr0, w.cr4, w.efer) && (changed & (kCr0Pg | kCr0Cd | kCr0Nw));
    return w;
}

ControlRegisterWrite write_cr4(const ControlRegisterState& now, u64 value, u64 allowed) {
    if (value & ~allowed) return fault(now);
    const u64 changed = value ^ now.cr4;
    const bool ia32e = (now.efer & kEferLma) != 0;
    if (ia32e && !(value & kCr4Pae)) return fault(now);
    if (ia32e && (changed & kCr4La57)) return fault(now);
    if ((value & kCr4Pcide) && !(now.cr4 & kCr4Pcide) && (!ia32e || (now.cr3 & 0xfff))) return fault(now);
    ControlRegisterWrite w = unchanged(now);
    w.cr4 = value;
    constexpr u64 kTranslationBits = kCr4Pae | kCr4Pse | kCr4Pge | kCr4Pcide | kCr4Smep | kCr4Smap | kCr4Pke | kCr4La57;
    w.flush_tlb = (changed & kTranslationBits) != 0;
    // A MOV CR4 that changes PAE, PSE, PGE or SMEP reloads the PDPTEs under PAE paging
    // (SDM vol. 3A 4.4.1).
    w.load_pdptes = pae_paging(w.cr0, w.cr4, w.efer) && (changed & (kCr4Pae | kCr4Pse | kCr4Pge | kCr4Smep));
    return w;
}

ControlRegisterWrite write_efer(const ControlRegisterState& now, u64 value, u64 allowed) {
    if (value & ~allowed) return fault(now);
    // LME may change only while paging is off (SDM vol. 3A 9.8.5; APM vol. 2 14.6.1).
    if ((now.cr0 & kCr0Pg) && ((value ^ now.efer) & kEferLme)) return fault(now);
    ControlRegisterWrite w = unchanged(now);
    w.efer = (value & ~kEferLma) | (now.efer & kEferLma);
    return w;
}

u64 lmsw_value(u64 cr0, u16 source) {
    constexpr u64 kLow = kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts;
    return (cr0 & ~kLow) | (source & kLow) | (cr0 & kCr0Pe);
}

bool pae_pdptes_valid(const u64 (&pdptes)[4], u8 max_physical_bits) {
    const u64 high = max_physical_bits >= 64 ? 0 : ~0ull << max_physical_bits;
    constexpr u64 kReserved = (3ull << 1) | (0xfull << 5);
    for (u64 e : pdptes)
        if ((e & 1) && (e & (kReserved | high))) return false;
    return true;
}

u64 guest_cr4_allowed(u32 leaf1_ecx, u32 leaf7_ebx, u32 leaf7_ecx) {
    // CPUID bits (SDM vol. 2A, CPUID, tables 3-10 and 3-8).
    u64 allowed = kCr4Baseline;
    if (leaf1_ecx & (1u << 17)) allowed |= kCr4Pcide;
    if (leaf1_ecx & (1u << 26)) allowed |= kCr4Osxsave;
    if (leaf1_ecx & (1u << 5)) allowed |= kCr4Vmxe;
    if (leaf1_ecx & (1u << 6)) allowed |= kCr4Smxe;
    if (leaf7_ebx & (1u << 0)) allowed |= kCr4Fsgsbase;
    if (leaf7_ebx & (1u << 7)) allowed |= kCr4Smep;
    if (leaf7_ebx & (1u << 20)) allowed |= kCr4Smap;
    if (leaf7_ecx & (1u << 2)) allowed |= kCr4Umip;
    if (leaf7_ecx & (1u << 3)) allowed |= kCr4Pke;
    if (leaf7_ecx & (1u << 16)) allowed |= kCr4La57;
    return allowed;
}

u64 guest_efer_allowed(u32 ext1_edx) {
    // CPUID 8000_0001h EDX (APM vol. 3 E.4.2): SYSCALL 11, NX 20, LM 29.
    u64 allowed = 0;
    if (ext1_edx & (1u << 11)) allowed |= kEferSce;
    if (ext1_edx & (1u << 20)) allowed |= kEferNxe;
    if (ext1_edx & (1u << 29)) allowed |= kEferLme | kEferLma;
    return allowed;
}
