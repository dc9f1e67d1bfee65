#include "kernel/vcpu/boot_state.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "svm/svm_state_transfer.hpp"

namespace {

using vcpu_state::SegmentIndex;

TEST(BootState, MultibootIsFlatProtectedModeWithoutPaging) {
    GuestEntryState e{GuestCpuMode::Protected32, 0x100000, 0, 0x2badb002, 0x9000, 0};
    const VcpuArchState s = boot_arch_state(e);
    EXPECT_EQ(s.rip, 0x100000u);
    EXPECT_EQ(s.gpr[u8(Gpr::Rax)], 0x2badb002u) << "the Multiboot magic (Multiboot spec 3.2)";
    EXPECT_EQ(s.gpr[u8(Gpr::Rbx)], 0x9000u) << "the information structure";
    EXPECT_EQ(s.rflags, 0x2u) << "IF clear";
    EXPECT_EQ(s.control.cr0 & 0x80000001u, 1u) << "PE set, PG clear";
    EXPECT_EQ(s.control.efer, 0u);
    const auto& cs = s.seg(SegmentIndex::Cs);
    EXPECT_EQ(cs.base, 0u);
    EXPECT_EQ(cs.limit, 0xffffffffu);
    EXPECT_EQ(cs.attributes, 0xc9b) << "32-bit code, present, readable";
    for (SegmentIndex i : {SegmentIndex::Ds, SegmentIndex::Es, SegmentIndex::Ss, SegmentIndex::Fs, SegmentIndex::Gs}) {
        EXPECT_EQ(s.seg(i).attributes, 0xc93) << int(i);
        EXPECT_EQ(s.seg(i).limit, 0xffffffffu) << int(i);
    }
    EXPECT_EQ(s.seg(SegmentIndex::Tr).attributes & 0x8f, 0x8b) << "a present, busy 32-bit TSS";
    EXPECT_TRUE(s.seg(SegmentIndex::Ldtr).unusable);
    EXPECT_EQ(s.debug.dr7, 0x400u);
    EXPECT_EQ(s.msrs.pat, 0x0007040600070406ull);
}

TEST(BootState, LinuxStartsInLongModeOnItsOwnTables) {
    GuestEntryState e{GuestCpuMode::Long64, 0x1000200, 0x10, 0, 0, 0x10000};
    e.rsi = 0x7000;
    e.data_selector = 0x18;
    e.cr3 = 0x1000;
    e.gdt_base = 0x8000;
    e.gdt_limit = 0x1f;
    const VcpuArchState s = boot_arch_state(e);
    EXPECT_EQ(s.gpr[u8(Gpr::Rsi)], 0x7000u) << "boot_params (Linux boot protocol, 64-bit entry)";
    EXPECT_EQ(s.control.cr3, 0x1000u);
    EXPECT_TRUE(s.control.cr0 & (1ull << 31)) << "paging on";
    EXPECT_TRUE(s.control.cr4 & (1ull << 5)) << "PAE";
    EXPECT_EQ(s.control.efer, (1ull << 8) | (1ull << 10)) << "LME and LMA";
    EXPECT_EQ(s.seg(SegmentIndex::Cs).selector, 0x10);
    EXPECT_TRUE(s.seg(SegmentIndex::Cs).attributes & 0x200) << "CS.L";
    EXPECT_EQ(s.seg(SegmentIndex::Ds).selector, 0x18);
    EXPECT_EQ(s.seg(SegmentIndex::Ss).selector, 0x18);
    EXPECT_EQ(s.gdtr.base, 0x8000u);
    EXPECT_EQ(s.gdtr.limit, 0x1f);
}

TEST(BootState, AnI386LinuxStartsInProtectedModeOnItsGdt) {
    GuestEntryState e{GuestCpuMode::Protected32, 0x1000000, 0x10, 0, 0, 0x10000};
    e.rsi = 0x7000;
    e.data_selector = 0x18;
    e.gdt_base = 0x8000;
    e.gdt_limit = 0x1f;
    const VcpuArchState s = boot_arch_state(e);
    EXPECT_EQ(s.gpr[u8(Gpr::Rsi)], 0x7000u) << "boot_params (Linux boot protocol, 32-bit entry)";
    EXPECT_EQ(s.control.cr0 & 0x80000001u, 1u) << "PE set, PG clear";
    EXPECT_EQ(s.control.efer, 0u);
    EXPECT_EQ(s.seg(SegmentIndex::Cs).selector, 0x10) << "__BOOT_CS";
    EXPECT_EQ(s.seg(SegmentIndex::Cs).attributes, 0xc9b) << "32-bit flat code";
    EXPECT_EQ(s.seg(SegmentIndex::Ds).selector, 0x18) << "__BOOT_DS";
    EXPECT_EQ(s.seg(SegmentIndex::Ss).selector, 0x18);
    EXPECT_EQ(s.gdtr.base, 0x8000u);
    EXPECT_EQ(s.gdtr.limit, 0x1f);
}

TEST(BootState, AStartupIpiStartsInRealModeAtItsVector) {
    GuestEntryState e{GuestCpuMode::Real, 0, 0x9a00, 0, 0, 0};
    const VcpuArchState s = boot_arch_state(e);
    EXPECT_EQ(s.control.cr0 & 1u, 0u) << "PE clear";
    EXPECT_EQ(s.seg(SegmentIndex::Cs).selector, 0x9a00);
    EXPECT_EQ(s.seg(SegmentIndex::Cs).base, 0x9a000u) << "CS = vector << 8, base = CS << 4 (SDM vol. 3A 8.4.4.1)";
    EXPECT_EQ(s.seg(SegmentIndex::Cs).limit, 0xffffu);
    EXPECT_EQ(s.rip, 0u);
    EXPECT_EQ(s.idtr.limit, 0x3ff) << "the real-mode IVT";
}

TEST(BootState, SvmLoadsItAsAnyOtherState) {
    GuestEntryState e{GuestCpuMode::Long64, 0x1000200, 0x10, 0, 0, 0x10000};
    e.data_selector = 0x18;
    e.cr3 = 0x1000;
    auto vmcb = std::make_unique<svm::Vmcb>();
    std::memset(vmcb.get(), 0, sizeof(svm::Vmcb));
    vmcb->control.tsc_offset = 12345;
    GuestRegisters regs{};
    GuestDebugRegisters debug{{1, 2, 3, 4}, 0};
    svm::arch_state_to_vmcb(boot_arch_state(e), kBootStateParts, *vmcb, regs, debug, 99);
    EXPECT_EQ(debug.dr[0], 0u) << "DR0-DR3 cleared";
    EXPECT_EQ(vmcb->save.efer, (1ull << 8) | (1ull << 10) | (1ull << 12)) << "LME, LMA and SVME";
    EXPECT_EQ(vmcb->save.cpl, 0);
    EXPECT_EQ(vmcb->save.cs.attrib, 0xa9b);
    EXPECT_EQ(vmcb->save.cr3, 0x1000u);
    EXPECT_EQ(regs.rip, 0x1000200u);
    EXPECT_EQ(vmcb->control.tsc_offset, 12345u) << "a start keeps the vCPU's TSC";
}

}  // namespace
