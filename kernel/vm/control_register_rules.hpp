// The architectural rules for a guest's writes to CR0, CR4 and EFER: which writes raise
// #GP(0), what the CPU changes by itself (EFER.LMA when paging turns on or off with
// EFER.LME set), and when cached translations or PAE's PDPTEs must be reloaded. Sources:
// Intel SDM vol. 2B "MOV - Move to/from Control Registers", "LMSW", "CLTS", vol. 3A 2.5
// (control registers), 4.1.1-4.1.2 (paging modes and their changes), 4.4.1 (PDPTEs),
// 9.8.5 (entering and leaving IA-32e mode); AMD APM vol. 2 3.1 and 14.6.
//
// Why Vireo checks these itself: a state the architecture forbids is refused by VMRUN
// or VM entry (the domain would die for an instruction a CPU answers with #GP), and under
// QEMU's TCG some of them hang the physical CPU. Both backends therefore see every write
// that could break a rule (kernel/vm/control_register_writes.cpp). Pure; unit-tested.
#pragma once

#include "kernel/types.hpp"

namespace cr_bits {
// CR0 (SDM vol. 3A 2.5).
inline constexpr u64 kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr0Et = 1ull << 4,
                     kCr0Ne = 1ull << 5, kCr0Wp = 1ull << 16, kCr0Am = 1ull << 18, kCr0Nw = 1ull << 29,
                     kCr0Cd = 1ull << 30, kCr0Pg = 1ull << 31;
inline constexpr u64 kCr0Defined =
    kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Nw | kCr0Cd | kCr0Pg;
// CR4 (SDM vol. 3A 2.5, figure 2-7).
inline constexpr u64 kCr4Vme = 1ull << 0, kCr4Pvi = 1ull << 1, kCr4Tsd = 1ull << 2, kCr4De = 1ull << 3,
                     kCr4Pse = 1ull << 4, kCr4Pae = 1ull << 5, kCr4Mce = 1ull << 6, kCr4Pge = 1ull << 7,
                     kCr4Pce = 1ull << 8, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10, kCr4Umip = 1ull << 11,
                     kCr4La57 = 1ull << 12, kCr4Vmxe = 1ull << 13, kCr4Smxe = 1ull << 14, kCr4Fsgsbase = 1ull << 16,
                     kCr4Pcide = 1ull << 17, kCr4Osxsave = 1ull << 18, kCr4Smep = 1ull << 20, kCr4Smap = 1ull << 21,
                     kCr4Pke = 1ull << 22;
// Bits every x86-64 CPU has (CPUID.1:EDX VME, DE, PSE, PAE, MCE, PGE, FXSR, SSE and the
// TSD/PCE controls of RDTSC/RDPMC): a guest may always set them.
inline constexpr u64 kCr4Baseline = kCr4Vme | kCr4Pvi | kCr4Tsd | kCr4De | kCr4Pse | kCr4Pae | kCr4Mce | kCr4Pge |
                                    kCr4Pce | kCr4Osfxsr | kCr4Osxmmexcpt;
// EFER (AMD APM vol. 2 3.1.7).
inline constexpr u64 kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
}  // namespace cr_bits

// The guest's control state a write is judged against.
struct ControlRegisterState {
    u64 cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    bool cs_long = false;  // CS.L: with EFER.LMA, the guest is in 64-bit mode
};

// The outcome of one write.
struct ControlRegisterWrite {
    bool fault = false;  // #GP(0): nothing changes and the instruction does not complete
    u64 cr0 = 0, cr4 = 0, efer = 0;
    // Translations cached under the old values no longer hold (SDM vol. 3A 4.10.4.1:
    // changes of CR0.PG/WP/CD, CR4.PAE/PSE/PGE/PCIDE/SMEP/SMAP/PKE, ...).
    bool flush_tlb = false;
    // PAE paging without long mode is in force afterwards and the write is one after
    // which the CPU loads the four PDPTEs from CR3 (SDM vol. 3A 4.4.1): a CPU that caches
    // them (VT-x with EPT takes them from the VMCS, SDM vol. 3C 26.3.2.4) needs them now,
    // and a PDPTE with reserved bits set makes the write #GP (pae_pdptes_valid).
    bool load_pdptes = false;
};

// MOV to CR0 (with the value the instruction writes: a 32-bit register's, zero-extended,
// outside 64-bit mode), and the same for LMSW and CLTS once lmsw_value / clts_value made
// their CR0 value. Bits 63:32 set, NW without CD, PG without PE, PG turning on with
// EFER.LME but without CR4.PAE or with CS.L set, and PG turning off in 64-bit mode or
// with CR4.PCIDE set are #GP; undefined bits 31:0 are ignored and ET reads as 1.
ControlRegisterWrite write_cr0(const ControlRegisterState& now, u64 value);
// MOV to CR4: a bit outside `allowed` (what the guest's CPUID offers, guest_cr4_allowed),
// clearing PAE in IA-32e mode, changing LA57 in IA-32e mode, and setting PCIDE outside
// IA-32e mode or with CR3[11:0] != 0 are #GP.
ControlRegisterWrite write_cr4(const ControlRegisterState& now, u64 value, u64 allowed);
// WRMSR to EFER: a bit outside `allowed` (SVME included: the extensions are hidden), and
// changing LME while paging is on, are #GP; LMA is the CPU's and keeps its value.
ControlRegisterWrite write_efer(const ControlRegisterState& now, u64 value, u64 allowed);

// LMSW changes CR0 bits 3:0 only, and cannot clear PE (SDM vol. 2A, LMSW).
u64 lmsw_value(u64 cr0, u16 source);
// CLTS clears CR0.TS.
inline u64 clts_value(u64 cr0) { return cr0 & ~cr_bits::kCr0Ts; }

// The four PDPTEs of PAE paging (SDM vol. 3A 4.4.1, table 4-8): a present one must have
// bits 2:1, 8:5 and those at and above MAXPHYADDR clear.
bool pae_pdptes_valid(const u64 (&pdptes)[4], u8 max_physical_bits);

// The CR4 bits a guest may set: the baseline and those of features its CPUID leaves
// offer (leaf 1 ECX, leaf 7.0 EBX and ECX as the guest sees them).
u64 guest_cr4_allowed(u32 leaf1_ecx, u32 leaf7_ebx, u32 leaf7_ecx);
// The EFER bits a guest may set: SCE, LME/LMA, NXE as CPUID 8000_0001h EDX offers
// SYSCALL, long mode and NX.
u64 guest_efer_allowed(u32 ext1_edx);
