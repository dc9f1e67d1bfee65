#include "kernel/virtualization_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "tests/unit/fake_cpu.hpp"

namespace {

constexpr CpuidResult vendor(const char (&name)[13], u32 max_leaf) {
    auto dword = [&](int i) {
        return u32(u8(name[i])) | u32(u8(name[i + 1])) << 8 | u32(u8(name[i + 2])) << 16 | u32(u8(name[i + 3])) << 24;
    };
    return {max_leaf, dword(0), dword(8), dword(4)};
}

FakeCpu amd_epyc_under_qemu() {  // what QEMU TCG -cpu EPYC-Milan reports
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = vendor("AuthenticAMD", 0xd);
    cpu.leaves[{0x80000000, 0}] = {0x80000023, 0, 0, 0};
    cpu.leaves[{0x80000001, 0}] = {0, 0, 1u << 2, 1u << 26};  // SVM; Page1GB
    cpu.leaves[{0x8000000a, 0}] = {1, 16, 0, 0x10000001};
    cpu.msrs[Msr::VmCr] = 0;
    return cpu;
}

FakeCpu intel_with_vmx(u64 feature_control) {
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = vendor("GenuineIntel", 0x16);
    cpu.leaves[{1, 0}] = {0, 0, 1u << 5, 0};
    cpu.leaves[{0x80000000, 0}] = {0x80000008, 0, 0, 0};
    cpu.msrs[Msr::FeatureControl] = feature_control;
    // What Bochs' corei7_haswell_4770 reports (shared/research/vmx-under-bochs.md).
    cpu.msrs[Msr::VmxProcbasedCtls] = 0xf7f9fffe0401e172ull;
    cpu.msrs[Msr::VmxProcbasedCtls2] = 0x00047fff00000000ull;
    cpu.msrs[Msr::VmxEptVpidCap] = 0x00000f0106334141ull;  // 2M and 1G EPT pages among others
    return cpu;
}

TEST(VirtualizationSupport, OneGigabyteNestedPagesWhereTheCpuHasThem) {
    EXPECT_TRUE(detect_virtualization(amd_epyc_under_qemu()).nested_1gib_pages) << "Page1GB";
    EXPECT_TRUE(detect_virtualization(intel_with_vmx(0)).nested_1gib_pages) << "EPT_VPID_CAP bit 17";
    FakeCpu amd = amd_epyc_under_qemu();
    amd.leaves[{0x80000001, 0}] = {0, 0, 1u << 2, 0};
    EXPECT_FALSE(detect_virtualization(amd).nested_1gib_pages);
    FakeCpu intel = intel_with_vmx(0);
    intel.msrs[Msr::VmxEptVpidCap] = 0x00000f0106314141ull;  // bit 17 clear
    EXPECT_FALSE(detect_virtualization(intel).nested_1gib_pages);
}

TEST(VirtualizationSupport, AmdSvmUsableWithFeatures) {
    const VirtualizationSupport s = detect_virtualization(amd_epyc_under_qemu());
    EXPECT_EQ(s.vendor, VirtualizationVendor::AmdSvm);
    EXPECT_EQ(s.status, VirtualizationStatus::Usable);
    EXPECT_EQ(s.svm.revision, 1u);
    EXPECT_EQ(s.svm.asid_count, 16u);
    EXPECT_TRUE(s.svm.nested_paging);
    EXPECT_FALSE(s.svm.nrip_save);
    EXPECT_FALSE(s.svm.decode_assists);
    EXPECT_STREQ(virtualization_mode_name(s.vendor), "SVM");
}

TEST(VirtualizationSupport, AmdSvmDisabledByFirmware) {
    FakeCpu cpu = amd_epyc_under_qemu();
    cpu.msrs[Msr::VmCr] = msr_bits::kVmCrSvmDisable | msr_bits::kVmCrLock;
    const VirtualizationSupport s = detect_virtualization(cpu);
    EXPECT_EQ(s.status, VirtualizationStatus::DisabledByFirmware);
    EXPECT_TRUE(s.firmware_lock);
    EXPECT_NE(std::string(describe_virtualization(s)).find("disabled by the firmware (VM_CR.SVMDIS=1, locked)"),
              std::string::npos);
}

TEST(VirtualizationSupport, AmdSvmDisabledButNotLocked) {
    FakeCpu cpu = amd_epyc_under_qemu();
    cpu.msrs[Msr::VmCr] = msr_bits::kVmCrSvmDisable;
    const VirtualizationSupport s = detect_virtualization(cpu);
    EXPECT_EQ(s.status, VirtualizationStatus::DisabledByFirmware);
    EXPECT_FALSE(s.firmware_lock);
}

TEST(VirtualizationSupport, IntelVmxUnlockedIsUsable) {
    const VirtualizationSupport s = detect_virtualization(intel_with_vmx(0));
    EXPECT_EQ(s.vendor, VirtualizationVendor::IntelVmx);
    EXPECT_EQ(s.status, VirtualizationStatus::Usable);
    EXPECT_FALSE(s.firmware_lock);
}

TEST(VirtualizationSupport, IntelVmxLockedAndEnabledIsUsable) {  // Bochs' BIOS leaves 0x5
    const VirtualizationSupport s =
        detect_virtualization(intel_with_vmx(msr_bits::kFeatureControlLock | msr_bits::kFeatureControlVmxOutsideSmx));
    EXPECT_EQ(s.status, VirtualizationStatus::Usable);
    EXPECT_STREQ(virtualization_mode_name(s.vendor), "VMX");
}

TEST(VirtualizationSupport, IntelVmxLockedWithoutEnableIsDisabledByFirmware) {
    const VirtualizationSupport s = detect_virtualization(intel_with_vmx(msr_bits::kFeatureControlLock));
    EXPECT_EQ(s.status, VirtualizationStatus::DisabledByFirmware);
    EXPECT_NE(std::string(describe_virtualization(s)).find("Intel VT-x (VMX) is disabled by the firmware"),
              std::string::npos);
}

TEST(VirtualizationSupport, AmdSvmWithoutNestedPagingCannotRunGuests) {  // QEMU 7.2 -cpu qemu64
    FakeCpu cpu = amd_epyc_under_qemu();
    cpu.leaves[{0x8000000a, 0}] = {1, 16, 0, 0};
    const VirtualizationSupport s = detect_virtualization(cpu);
    EXPECT_EQ(s.status, VirtualizationStatus::NoNestedPaging);
    EXPECT_STREQ(describe_virtualization(s),
                 "AMD-V (SVM) is present but without nested paging (NPT), which Vireo needs to run guests");
}

TEST(VirtualizationSupport, IntelVmxFeaturesFromCapabilityMsrs) {
    const VirtualizationSupport s = detect_virtualization(intel_with_vmx(0));
    EXPECT_TRUE(s.vmx_ept);
    EXPECT_TRUE(s.vmx_unrestricted_guest);
}

TEST(VirtualizationSupport, IntelVmxWithoutSecondaryControlsHasNoEpt) {  // e.g. Bochs core2_penryn
    FakeCpu cpu = intel_with_vmx(0);
    cpu.msrs[Msr::VmxProcbasedCtls] = 0x7ff9fffe0401e172ull;  // bit 63 clear
    cpu.msrs.erase(Msr::VmxProcbasedCtls2);                   // reading it would #GP
    const VirtualizationSupport s = detect_virtualization(cpu);
    EXPECT_EQ(s.status, VirtualizationStatus::NoNestedPaging);
    EXPECT_STREQ(describe_virtualization(s),
                 "Intel VT-x (VMX) is present but without EPT, which Vireo needs to run guests");
}

TEST(VirtualizationSupport, NeitherExtension) {  // QEMU -cpu qemu64,-svm
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = vendor("AuthenticAMD", 0xd);
    cpu.leaves[{0x80000000, 0}] = {0x8000000a, 0, 0, 0};
    const VirtualizationSupport s = detect_virtualization(cpu);
    EXPECT_EQ(s.vendor, VirtualizationVendor::None);
    EXPECT_EQ(s.status, VirtualizationStatus::NotSupported);
    EXPECT_NE(std::string(describe_virtualization(s)).find("neither AMD-V (SVM) nor Intel VT-x (VMX)"),
              std::string::npos);
}

TEST(VirtualizationSupport, OldCpuWithoutExtendedLeavesDoesNotReadThem) {
    FakeCpu cpu;
    cpu.leaves[{0, 0}] = vendor("AuthenticAMD", 1);
    cpu.leaves[{0x80000000, 0}] = {0x80000000, 0, 0, 0};
    cpu.leaves[{0x80000001, 0}] = {0, 0, 1u << 2, 1u << 26};  // SVM; Page1GB  // would claim SVM, but is out of range
    EXPECT_EQ(detect_virtualization(cpu).status, VirtualizationStatus::NotSupported);
}

TEST(VirtualizationSupport, BothAdvertisedFollowsVendor) {
    FakeCpu cpu = intel_with_vmx(0);
    cpu.leaves[{0x80000001, 0}] = {0, 0, 1u << 2, 1u << 26};  // SVM; Page1GB
    cpu.msrs[Msr::VmCr] = 0;
    EXPECT_EQ(detect_virtualization(cpu).vendor, VirtualizationVendor::IntelVmx);
}

}  // namespace
