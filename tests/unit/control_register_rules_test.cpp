#include "kernel/vm/control_register_rules.hpp"

#include <gtest/gtest.h>

#include "kernel/vm/instruction_length.hpp"

using namespace cr_bits;

namespace {

// A 32-bit protected-mode guest, paging off: Multiboot's entry state.
ControlRegisterState protected_mode() {
    ControlRegisterState s;
    s.cr0 = kCr0Pe | kCr0Et | kCr0Ne;
    return s;
}

// A 64-bit guest: paging, PAE, LME and LMA, CS.L.
ControlRegisterState long_mode() {
    ControlRegisterState s;
    s.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg | kCr0Wp;
    s.cr4 = kCr4Pae | kCr4Pge;
    s.efer = kEferLme | kEferLma | kEferNxe | kEferSce;
    s.cs_long = true;
    s.cr3 = 0x1000;
    return s;
}

// What an EPYC-class CPU offers a guest once Vireo filtered it: leaf 1 ECX with XSAVE
// (bit 26), leaf 7 EBX with FSGSBASE, SMEP, SMAP; no PCID, UMIP, PKU, LA57, VMX, SMX.
const u64 kAllowed = guest_cr4_allowed(1u << 26, (1u << 0) | (1u << 7) | (1u << 20), 0);
const u64 kEferAllowed = guest_efer_allowed((1u << 11) | (1u << 20) | (1u << 29));

TEST(ControlRegisterRules, Cr0HighBitsAndBadCombinationsFault) {
    const ControlRegisterState s = protected_mode();
    EXPECT_TRUE(write_cr0(s, s.cr0 | (1ull << 32)).fault);
    EXPECT_TRUE(write_cr0(s, s.cr0 | (1ull << 63)).fault);
    EXPECT_TRUE(write_cr0(s, s.cr0 | kCr0Nw).fault) << "NW without CD";
    EXPECT_FALSE(write_cr0(s, s.cr0 | kCr0Nw | kCr0Cd).fault);
    EXPECT_TRUE(write_cr0(s, kCr0Pg).fault) << "PG without PE";
    const ControlRegisterWrite w = write_cr0(s, s.cr0 | kCr0Cd);
    EXPECT_FALSE(w.fault);
    EXPECT_EQ(w.cr0, s.cr0 | kCr0Cd);
    EXPECT_TRUE(w.flush_tlb);
}

TEST(ControlRegisterRules, Cr0UndefinedLowBitsAreIgnoredAndEtReadsOne) {
    const ControlRegisterState s = protected_mode();
    const ControlRegisterWrite w = write_cr0(s, kCr0Pe | (1ull << 7) | (1ull << 20));
    EXPECT_FALSE(w.fault);
    EXPECT_EQ(w.cr0, kCr0Pe | kCr0Et);
}

TEST(ControlRegisterRules, Cr0NeMayBeCleared) {
    const ControlRegisterState s = protected_mode();
    const ControlRegisterWrite w = write_cr0(s, s.cr0 & ~kCr0Ne);
    EXPECT_FALSE(w.fault);
    EXPECT_EQ(w.cr0 & kCr0Ne, 0u);
    EXPECT_FALSE(w.flush_tlb);
}

TEST(ControlRegisterRules, PagingWithLmeNeedsPaeAndSetsLma) {
    ControlRegisterState s = protected_mode();
    s.efer = kEferLme;
    EXPECT_TRUE(write_cr0(s, s.cr0 | kCr0Pg).fault) << "LME and PG without PAE";
    s.cr4 = kCr4Pae;
    s.cs_long = true;
    EXPECT_TRUE(write_cr0(s, s.cr0 | kCr0Pg).fault) << "activating IA-32e mode with CS.L set";
    s.cs_long = false;
    const ControlRegisterWrite w = write_cr0(s, s.cr0 | kCr0Pg);
    EXPECT_FALSE(w.fault);
    EXPECT_EQ(w.efer, kEferLme | kEferLma);
    EXPECT_TRUE(w.flush_tlb);
    EXPECT_FALSE(w.load_pdptes) << "long mode has no PDPTE registers";
}

TEST(ControlRegisterRules, LeavingLongModeOnlyFromCompatibilityMode) {
    ControlRegisterState s = long_mode();
    EXPECT_TRUE(write_cr0(s, s.cr0 & ~kCr0Pg).fault) << "from 64-bit mode";
    s.cs_long = false;  // compatibility mode
    const ControlRegisterWrite w = write_cr0(s, s.cr0 & ~kCr0Pg);
    EXPECT_FALSE(w.fault);
    EXPECT_EQ(w.efer & kEferLma, 0u);
    EXPECT_EQ(w.efer & kEferLme, kEferLme);
    s.cr4 |= kCr4Pcide;
    EXPECT_TRUE(write_cr0(s, s.cr0 & ~kCr0Pg).fault) << "with PCIDE";
}

TEST(ControlRegisterRules, PaePagingLoadsPdptes) {
    ControlRegisterState s = protected_mode();
    s.cr4 = kCr4Pae;
    const ControlRegisterWrite on = write_cr0(s, s.cr0 | kCr0Pg);
    EXPECT_FALSE(on.fault);
    EXPECT_TRUE(on.load_pdptes);
    EXPECT_EQ(on.efer & kEferLma, 0u);
    // Under PAE paging, CR4.PGE changes reload them; MP does not.
    s.cr0 |= kCr0Pg;
    EXPECT_TRUE(write_cr4(s, s.cr4 | kCr4Pge, kAllowed).load_pdptes);
    EXPECT_FALSE(write_cr0(s, s.cr0 | kCr0Mp).load_pdptes);
    // Turning PAE on while 32-bit paging runs switches to PAE paging.
    ControlRegisterState legacy = protected_mode();
    legacy.cr0 |= kCr0Pg;
    const ControlRegisterWrite pae = write_cr4(legacy, kCr4Pae, kAllowed);
    EXPECT_FALSE(pae.fault);
    EXPECT_TRUE(pae.load_pdptes);
    EXPECT_TRUE(pae.flush_tlb);
    // 32-bit paging has none.
    EXPECT_FALSE(write_cr0(protected_mode(), protected_mode().cr0 | kCr0Pg).load_pdptes);
}

TEST(ControlRegisterRules, Cr4BitsTheGuestIsNotOfferedFault) {
    const ControlRegisterState s = protected_mode();
    for (u64 bit : {kCr4Vmxe, kCr4Smxe, kCr4Pke, kCr4La57, kCr4Umip, kCr4Pcide, u64(1) << 15, u64(1) << 19,
                    u64(1) << 23, u64(1) << 31, u64(1) << 32, u64(1) << 63})
        EXPECT_TRUE(write_cr4(s, bit, kAllowed).fault) << std::hex << bit;
    for (u64 bit : {kCr4Vme, kCr4Pvi, kCr4Tsd, kCr4De, kCr4Pse, kCr4Pae, kCr4Mce, kCr4Pge, kCr4Pce, kCr4Osfxsr,
                    kCr4Osxmmexcpt, kCr4Fsgsbase, kCr4Osxsave, kCr4Smep, kCr4Smap})
        EXPECT_FALSE(write_cr4(s, bit, kAllowed).fault) << std::hex << bit;
}

TEST(ControlRegisterRules, Cr4AllowedFollowsCpuid) {
    EXPECT_EQ(guest_cr4_allowed(0, 0, 0), kCr4Baseline);
    EXPECT_TRUE(guest_cr4_allowed(0, 0, 1u << 3) & kCr4Pke);
    EXPECT_TRUE(guest_cr4_allowed(1u << 17, 0, 0) & kCr4Pcide);
    EXPECT_TRUE(guest_cr4_allowed(1u << 5, 0, 0) & kCr4Vmxe);
    EXPECT_TRUE(guest_cr4_allowed(0, 0, 1u << 16) & kCr4La57);
    EXPECT_TRUE(guest_cr4_allowed(0, 0, 1u << 2) & kCr4Umip);
}

TEST(ControlRegisterRules, Cr4InLongMode) {
    const u64 with_pcid = kAllowed | kCr4Pcide | kCr4La57;
    ControlRegisterState s = long_mode();
    EXPECT_TRUE(write_cr4(s, s.cr4 & ~kCr4Pae, with_pcid).fault) << "PAE cannot go in IA-32e mode";
    EXPECT_TRUE(write_cr4(s, s.cr4 | kCr4La57, with_pcid).fault) << "LA57 cannot change in IA-32e mode";
    s.cr3 = 0x1001;
    EXPECT_TRUE(write_cr4(s, s.cr4 | kCr4Pcide, with_pcid).fault) << "PCIDE with CR3[11:0] != 0";
    s.cr3 = 0x1000;
    EXPECT_FALSE(write_cr4(s, s.cr4 | kCr4Pcide, with_pcid).fault);
    EXPECT_TRUE(write_cr4(protected_mode(), kCr4Pcide, with_pcid).fault) << "PCIDE outside IA-32e mode";
    const ControlRegisterWrite flush = write_cr4(s, s.cr4 & ~kCr4Pge, with_pcid);
    EXPECT_FALSE(flush.fault);
    EXPECT_TRUE(flush.flush_tlb);
    EXPECT_FALSE(flush.load_pdptes);
    EXPECT_FALSE(write_cr4(s, s.cr4 | kCr4Tsd, with_pcid).flush_tlb);
}

TEST(ControlRegisterRules, EferReservedBitsAndSvmeFault) {
    const ControlRegisterState s = protected_mode();
    for (int n = 0; n < 64; ++n) {
        const bool allowed = n == 0 || n == 8 || n == 10 || n == 11;
        EXPECT_EQ(write_efer(s, 1ull << n, kEferAllowed).fault, !allowed) << "bit " << n;
    }
    EXPECT_TRUE(write_efer(s, 1ull << 12, kEferAllowed).fault) << "SVME: the extensions are hidden";
    // Without long mode in CPUID, LME is reserved.
    EXPECT_TRUE(write_efer(s, kEferLme, guest_efer_allowed(1u << 20)).fault);
}

TEST(ControlRegisterRules, EferLmeChangesOnlyWithPagingOff) {
    ControlRegisterState s = protected_mode();
    const ControlRegisterWrite on = write_efer(s, kEferLme, kEferAllowed);
    EXPECT_FALSE(on.fault);
    EXPECT_EQ(on.efer, kEferLme);
    s.cr0 |= kCr0Pg;
    EXPECT_TRUE(write_efer(s, kEferLme, kEferAllowed).fault) << "LME set while paging";
    const ControlRegisterState l = long_mode();
    EXPECT_TRUE(write_efer(l, kEferLma | kEferNxe, kEferAllowed).fault) << "LME cleared while paging";
    EXPECT_FALSE(write_efer(l, l.efer & ~kEferNxe, kEferAllowed).fault);
}

TEST(ControlRegisterRules, EferLmaIsTheCpus) {
    ControlRegisterState s = protected_mode();
    EXPECT_EQ(write_efer(s, kEferLma | kEferLme, kEferAllowed).efer, kEferLme) << "set: ignored";
    const ControlRegisterState l = long_mode();
    EXPECT_EQ(write_efer(l, kEferLme | kEferSce, kEferAllowed).efer, kEferLme | kEferLma | kEferSce) << "cleared: kept";
}

TEST(ControlRegisterRules, LmswAndClts) {
    const u64 cr0 = kCr0Pe | kCr0Et | kCr0Pg | kCr0Ts;
    EXPECT_EQ(lmsw_value(cr0, 0), cr0 & ~kCr0Ts) << "PE cannot be cleared";
    EXPECT_EQ(lmsw_value(kCr0Et, 0xffff), kCr0Et | kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts) << "only bits 3:0";
    EXPECT_EQ(clts_value(cr0), cr0 & ~kCr0Ts);
}

TEST(ControlRegisterRules, PdptesReservedBits) {
    u64 good[4] = {0x1001, 0x2001 | (1ull << 3) | (1ull << 4), 0, 0xfffff000};  // PWT, PCD allowed; absent ones free
    EXPECT_TRUE(pae_pdptes_valid(good, 40));
    for (int bit : {1, 2, 5, 6, 7, 8, 40, 51, 63}) {
        u64 bad[4] = {0x1001 | (1ull << bit), 0, 0, 0};
        EXPECT_FALSE(pae_pdptes_valid(bad, 40)) << "bit " << bit;
    }
    u64 absent[4] = {0x1000 | (1ull << 5) | (1ull << 63), 0, 0, 0};
    EXPECT_TRUE(pae_pdptes_valid(absent, 40)) << "an absent entry is not checked";
}

TEST(ControlRegisterRules, DecodesTheAccessesThatExit) {
    DecodedCrAccess d;
    const u8 mov_cr0_eax[] = {0x0f, 0x22, 0xc0};
    ASSERT_TRUE(decode_control_register_access(mov_cr0_eax, sizeof(mov_cr0_eax), GuestCpuMode::Protected32, d));
    EXPECT_EQ(d.form, CrAccessForm::MovToCr);
    EXPECT_EQ(d.cr, 0);
    EXPECT_EQ(d.gpr, 0);
    EXPECT_EQ(d.length, 3);
    const u8 mov_cr4_r9[] = {0x41, 0x0f, 0x22, 0xe1};  // REX.B: R9
    ASSERT_TRUE(decode_control_register_access(mov_cr4_r9, sizeof(mov_cr4_r9), GuestCpuMode::Long64, d));
    EXPECT_EQ(d.cr, 4);
    EXPECT_EQ(d.gpr, 9);
    EXPECT_EQ(d.length, 4);
    const u8 clts[] = {0x0f, 0x06};
    ASSERT_TRUE(decode_control_register_access(clts, sizeof(clts), GuestCpuMode::Real, d));
    EXPECT_EQ(d.form, CrAccessForm::Clts);
    EXPECT_EQ(d.length, 2);
    const u8 lmsw_ax[] = {0x0f, 0x01, 0xf0};
    ASSERT_TRUE(decode_control_register_access(lmsw_ax, sizeof(lmsw_ax), GuestCpuMode::Protected32, d));
    EXPECT_EQ(d.form, CrAccessForm::Lmsw);
    EXPECT_FALSE(d.lmsw_memory);
    EXPECT_EQ(d.gpr, 0);
    const u8 lmsw_mem[] = {0x0f, 0x01, 0x33};  // LMSW [ebx]
    ASSERT_TRUE(decode_control_register_access(lmsw_mem, sizeof(lmsw_mem), GuestCpuMode::Protected32, d));
    EXPECT_TRUE(d.lmsw_memory);
    EXPECT_EQ(d.insn.memory.base, 3);
    const u8 smsw[] = {0x0f, 0x01, 0xe0};  // SMSW: not a write
    EXPECT_FALSE(decode_control_register_access(smsw, sizeof(smsw), GuestCpuMode::Protected32, d));
    const u8 mov_rax_cr8[] = {0x44, 0x0f, 0x20, 0xc0};  // REX.R: CR8
    ASSERT_TRUE(decode_control_register_access(mov_rax_cr8, sizeof(mov_rax_cr8), GuestCpuMode::Long64, d));
    EXPECT_EQ(d.form, CrAccessForm::MovFromCr);
    EXPECT_EQ(d.cr, 8);
    EXPECT_EQ(d.gpr, 0);
    const u8 locked[] = {0xf0, 0x0f, 0x22, 0xc0};  // AMD's MOV CR8
    ASSERT_TRUE(decode_control_register_access(locked, sizeof(locked), GuestCpuMode::Protected32, d));
    EXPECT_EQ(d.cr, 8);
    EXPECT_TRUE(d.insn.prefixes.lock);
}

}  // namespace
