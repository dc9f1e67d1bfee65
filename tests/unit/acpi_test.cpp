// ACPI table parsing: synthetic tables (checksums computed here), malformed tables, and
// real tables captured from QEMU (tests/fixtures/acpi/*.dump, see tools/capture-acpi-fixtures).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_dump.hpp"
#include "drivers/acpi/acpi_tables.hpp"
#include "tests/unit/acpi_builders.hpp"
#include "tests/unit/acpi_fixture.hpp"

namespace {

using namespace acpi_test;

// ---------------------------------------------------------------------------------------
// Synthetic platforms

TEST(AcpiSynthetic, ParsesACompletePlatformThroughTheXsdt) {
    Firmware fw;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiInfo& info = *fw.info;
    EXPECT_EQ(fw.error, nullptr);
    EXPECT_EQ(info.warning_count, 0u) << all_warnings(info);
    EXPECT_EQ(info.rsdp_revision, 2);
    EXPECT_STREQ(info.rsdp_oem_id, "VIREO");
    EXPECT_EQ(info.rsdp_length, 36u);
    EXPECT_TRUE(info.using_xsdt);
    EXPECT_EQ(info.xsdt_address, Firmware::kXsdt);
    EXPECT_EQ(info.rsdt_address, Firmware::kRsdt);

    // Root first, then the listed tables in order, then DSDT, FACS, then the unused RSDT.
    const char* expected[] = {"XSDT", "FACP", "APIC", "HPET", "SSDT", "DSDT", "FACS", "RSDT"};
    ASSERT_EQ(info.table_count, std::size(expected));
    for (usize i = 0; i < std::size(expected); ++i) EXPECT_STREQ(info.tables[i].signature, expected[i]) << i;
    EXPECT_EQ(info.tables[1].address, Firmware::kFacp);
    EXPECT_EQ(info.tables[1].length, 276u);
    EXPECT_EQ(info.tables[1].revision, 6);
    EXPECT_STREQ(info.tables[1].oem_id, "VIREO");
    EXPECT_EQ(info.tables[6].revision, 1);  // FACS Version
    EXPECT_STREQ(info.tables[6].oem_id, "");
    ASSERT_NE(find_acpi_table(info, "SSDT"), nullptr);
    EXPECT_EQ(find_acpi_table(info, "SSDT")->address, Firmware::kSsdt);
    EXPECT_EQ(find_acpi_table(info, "MCFG"), nullptr);

    const AcpiMadt& madt = info.madt;
    ASSERT_TRUE(madt.present);
    EXPECT_EQ(madt.table_address, Firmware::kApic);
    EXPECT_EQ(madt.local_apic_address, 0xfee00000u);
    EXPECT_FALSE(madt.local_apic_address_overridden);
    EXPECT_TRUE(madt.pcat_compat);
    ASSERT_EQ(madt.cpu_count, 4u);
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(madt.cpus[i].apic_id, i);
        EXPECT_EQ(madt.cpus[i].acpi_uid, i);
        EXPECT_TRUE(madt.cpus[i].enabled);
        EXPECT_FALSE(madt.cpus[i].online_capable);
        EXPECT_FALSE(madt.cpus[i].x2apic);
    }
    ASSERT_EQ(madt.ioapic_count, 1u);
    EXPECT_EQ(madt.ioapics[0].id, 0);
    EXPECT_EQ(madt.ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(madt.ioapics[0].gsi_base, 0u);
    ASSERT_EQ(madt.override_count, 2u);
    EXPECT_EQ(madt.overrides[0].source, 0);
    EXPECT_EQ(madt.overrides[0].gsi, 2u);
    EXPECT_EQ(madt.overrides[1].source, 9);
    EXPECT_EQ(madt.overrides[1].flags & AcpiInterruptOverride::kTriggerMask, AcpiInterruptOverride::kTriggerLevel);
    EXPECT_EQ(madt.overrides[1].flags & AcpiInterruptOverride::kPolarityMask,
              AcpiInterruptOverride::kPolarityActiveHigh);
    ASSERT_EQ(madt.local_apic_nmi_count, 1u);
    EXPECT_TRUE(madt.local_apic_nmis[0].all_processors);
    EXPECT_EQ(madt.local_apic_nmis[0].lint, 1);

    const AcpiFadt& fadt = info.fadt;
    ASSERT_TRUE(fadt.present);
    EXPECT_EQ(fadt.revision, 6);
    EXPECT_EQ(fadt.length, 276u);
    EXPECT_EQ(fadt.sci_interrupt, 9);
    EXPECT_TRUE(fadt.pm_timer_present);
    EXPECT_EQ(fadt.pm_timer_port, 0x608);
    EXPECT_EQ(fadt.pm_timer.space_id, AcpiGenericAddress::kSystemIo);
    EXPECT_EQ(fadt.pm_timer.bit_width, 32);
    EXPECT_TRUE(fadt.pm_timer_32bit);
    EXPECT_EQ(fadt.pm1a_control_port, 0x604);
    EXPECT_EQ(fadt.pm1a_control.bit_width, 16);
    EXPECT_EQ(fadt.pm1b_control_port, 0);
    EXPECT_EQ(fadt.century, 0x32);
    EXPECT_TRUE(fadt.iapc_boot_arch_valid);
    EXPECT_TRUE(fadt.legacy_devices);
    EXPECT_TRUE(fadt.has_8042);
    EXPECT_FALSE(fadt.vga_not_present);
    EXPECT_FALSE(fadt.cmos_rtc_not_present);
    EXPECT_TRUE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset_register.space_id, AcpiGenericAddress::kSystemIo);
    EXPECT_EQ(fadt.reset_register.address, 0xcf9u);
    EXPECT_EQ(fadt.reset_value, 6);
    EXPECT_FALSE(fadt.hardware_reduced);
    EXPECT_EQ(fadt.dsdt_address, Firmware::kDsdt);
    EXPECT_EQ(fadt.facs_address, Firmware::kFacs);

    EXPECT_TRUE(info.has_dsdt);
    EXPECT_EQ(info.dsdt_address, Firmware::kDsdt);
    EXPECT_TRUE(info.has_facs);
    EXPECT_EQ(info.facs_address, Firmware::kFacs);

    const AcpiHpet& hpet = info.hpet;
    ASSERT_TRUE(hpet.present);
    EXPECT_EQ(hpet.base_address, 0xfed00000u);
    EXPECT_EQ(hpet.vendor_id, 0x8086);
    EXPECT_EQ(hpet.comparator_count, 3);
    EXPECT_TRUE(hpet.counter_64bit);
    EXPECT_TRUE(hpet.legacy_replacement);
    EXPECT_EQ(hpet.hardware_revision, 1);
    EXPECT_EQ(hpet.minimum_tick, 0x80);
}

TEST(AcpiSynthetic, Revision0RsdpUsesTheRsdt) {
    Firmware fw;
    fw.rsdp_revision = 0;
    fw.with_xsdt = false;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->using_xsdt);
    EXPECT_EQ(fw.info->rsdp_length, 20u);
    EXPECT_STREQ(fw.info->tables[0].signature, "RSDT");
    EXPECT_EQ(fw.info->madt.cpu_count, 4u);
    EXPECT_TRUE(fw.info->fadt.present);
    EXPECT_TRUE(fw.info->hpet.present);
}

TEST(AcpiSynthetic, PrefersTheXsdtWhenBothExist) {
    // The RSDT lists only the FADT; if the parser used it there would be no MADT.
    Firmware fw;
    fw.install();
    Bytes rsdt_body;
    append32(rsdt_body, u32(Firmware::kFacp));
    fw.mem.add(Firmware::kRsdt, make_sdt("RSDT", 1, rsdt_body));
    ASSERT_TRUE(fw.parse()) << fw.error;
    EXPECT_TRUE(fw.info->using_xsdt);
    EXPECT_TRUE(fw.info->madt.present);
}

TEST(AcpiSynthetic, Revision2WithZeroXsdtAddressUsesTheRsdt) {
    Firmware fw;
    fw.with_xsdt = false;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->using_xsdt);
    EXPECT_EQ(fw.info->xsdt_address, 0u);
    EXPECT_TRUE(fw.info->madt.present);
}

TEST(AcpiSynthetic, Revision2RsdpGivenAsOnly20BytesFallsBackToTheRsdtWithAWarning) {
    Firmware fw;
    fw.install();
    ASSERT_TRUE(parse_acpi(fw.mem, fw.rsdp.data(), 20, *fw.info, &fw.error)) << fw.error;
    EXPECT_FALSE(fw.info->using_xsdt);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_NE(std::string(fw.info->warnings[0]).find("using the RSDT"), std::string::npos);
}

TEST(AcpiSynthetic, ThirtyTwoBitAndSixtyFourBitFieldsOfTheFadt) {
    // X_DSDT wins over DSDT; X_PM_TMR_BLK wins over PM_TMR_BLK.
    Firmware fw;
    Bytes fadt = make_fadt(6, 276, 0x1234, u32(Firmware::kFacs), Firmware::kDsdt);
    put_gas(fadt, 208, 1, 32, 0, 3, 0xb008);
    reseal(fadt);
    fw.tables[Firmware::kFacp] = fadt;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_EQ(fw.info->fadt.dsdt_address, Firmware::kDsdt);
    EXPECT_TRUE(fw.info->has_dsdt);
    EXPECT_EQ(fw.info->fadt.pm_timer_port, 0xb008);
    EXPECT_EQ(fw.info->fadt.pm_timer.access_size, 3);
}

TEST(AcpiSynthetic, OldRevision1FadtReadsOnlyFieldsInsideItsLength) {
    Firmware fw;
    Bytes fadt = make_fadt(1, 116, u32(Firmware::kDsdt), u32(Firmware::kFacs));
    // Flags says RESET_REG_SUP (as make_fadt sets it), but the table ends before RESET_REG.
    fw.tables[Firmware::kFacp] = fadt;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiFadt& f = fw.info->fadt;
    ASSERT_TRUE(f.present);
    EXPECT_EQ(f.revision, 1);
    EXPECT_EQ(f.length, 116u);
    EXPECT_EQ(f.pm_timer_port, 0x608);
    EXPECT_TRUE(f.pm_timer_32bit);
    EXPECT_EQ(f.pm1a_control_port, 0x604);
    EXPECT_EQ(f.sci_interrupt, 9);
    EXPECT_EQ(f.century, 0x32);
    EXPECT_FALSE(f.reset_supported);
    EXPECT_EQ(f.reset_register.address, 0u);
    // ACPI 1.0 had no IA-PC boot architecture flags: a PC/AT with legacy devices and an 8042 is assumed.
    EXPECT_FALSE(f.iapc_boot_arch_valid);
    EXPECT_TRUE(f.legacy_devices);
    EXPECT_TRUE(f.has_8042);
    EXPECT_EQ(f.dsdt_address, Firmware::kDsdt);
    EXPECT_TRUE(fw.info->has_dsdt);
    EXPECT_TRUE(fw.info->has_facs);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_NE(std::string(fw.info->warnings[0]).find("RESET_REG_SUP"), std::string::npos);
}

TEST(AcpiSynthetic, TinyFadtIsAcceptedAndReadsNothingBeyondItsHeader) {
    Firmware fw;
    fw.tables[Firmware::kFacp] = make_fadt(1, 36, u32(Firmware::kDsdt), u32(Firmware::kFacs));
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_TRUE(fw.info->fadt.present);
    EXPECT_EQ(fw.info->fadt.dsdt_address, 0u);
    EXPECT_FALSE(fw.info->fadt.pm_timer_present);
    EXPECT_FALSE(fw.info->has_dsdt);
    EXPECT_FALSE(fw.info->has_facs);
}

TEST(AcpiSynthetic, HardwareReducedFadtIgnoresTheFixedHardwareFields) {
    Firmware fw;
    Bytes fadt = make_fadt(6, 276, u32(Firmware::kDsdt), 0);
    put32(fadt, 112, 1u << 20);
    put16(fadt, 109, 0x0024);  // VGA not present, CMOS RTC not present
    reseal(fadt);
    fw.tables[Firmware::kFacp] = fadt;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiFadt& f = fw.info->fadt;
    EXPECT_TRUE(f.hardware_reduced);
    EXPECT_FALSE(f.pm_timer_present);
    EXPECT_EQ(f.pm1a_control_port, 0);
    EXPECT_EQ(f.sci_interrupt, 0);
    EXPECT_FALSE(f.legacy_devices);
    EXPECT_FALSE(f.has_8042);
    EXPECT_TRUE(f.vga_not_present);
    EXPECT_TRUE(f.cmos_rtc_not_present);
    EXPECT_FALSE(f.reset_supported);
    EXPECT_FALSE(fw.info->has_facs);
}

TEST(AcpiSynthetic, X2apicEntriesNmisAndTheLocalApicAddressOverride) {
    Firmware fw;
    fw.tables[Firmware::kApic] =
        make_madt(0xfee00000, 0,
                  {lapic(0, 0, 1), x2apic(300, 1, 1), x2apic(301, 2, 2), lapic(3, 3, 0), x2apic(302, 4, 0),
                   lapic_override(0x1'fee0'0000ull), lapic_nmi(0, 0x5, 1), x2apic_nmi(0xffffffff, 0, 1),
                   Bytes{0x7f, 3, 0}});  // an unknown type, skipped by its length
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiMadt& m = fw.info->madt;
    EXPECT_FALSE(m.pcat_compat);
    EXPECT_TRUE(m.local_apic_address_overridden);
    EXPECT_EQ(m.local_apic_address, 0x1'fee0'0000ull);
    ASSERT_EQ(m.cpu_count, 3u);
    EXPECT_EQ(m.unusable_cpu_count, 2u);
    EXPECT_EQ(m.cpus[1].apic_id, 300u);
    EXPECT_EQ(m.cpus[1].acpi_uid, 1u);
    EXPECT_TRUE(m.cpus[1].x2apic);
    EXPECT_TRUE(m.cpus[1].enabled);
    EXPECT_EQ(m.cpus[2].apic_id, 301u);
    EXPECT_FALSE(m.cpus[2].enabled);
    EXPECT_TRUE(m.cpus[2].online_capable);
    ASSERT_EQ(m.local_apic_nmi_count, 2u);
    EXPECT_FALSE(m.local_apic_nmis[0].all_processors);
    EXPECT_EQ(m.local_apic_nmis[0].acpi_uid, 0u);
    EXPECT_EQ(m.local_apic_nmis[0].flags, 0x5);
    EXPECT_TRUE(m.local_apic_nmis[1].all_processors);
    EXPECT_EQ(m.local_apic_nmis[1].lint, 1);
}

TEST(AcpiSynthetic, DuplicateApicIdKeepsTheFirstEntryAndWarns) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {lapic(0, 0, 1), lapic(1, 1, 1), x2apic(1, 7, 1)});
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_EQ(fw.info->madt.cpu_count, 2u);
    EXPECT_EQ(fw.info->madt.cpus[1].acpi_uid, 1u);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_NE(std::string(fw.info->warnings[0]).find("APIC id 1 listed twice"), std::string::npos);
}

TEST(AcpiSynthetic, SixtyFourCpusFitAndUnusableEntriesDoNotCount) {
    Firmware fw;
    std::vector<Bytes> entries;
    for (u32 i = 0; i < 64; ++i) entries.push_back(lapic(u8(i), u8(i), 1));
    for (u32 i = 64; i < 200; ++i) entries.push_back(lapic(u8(i), u8(i), 0));  // absent sockets
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, entries);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_EQ(fw.info->madt.cpu_count, 64u);
    EXPECT_EQ(fw.info->madt.unusable_cpu_count, 136u);
    EXPECT_EQ(fw.info->madt.cpus[63].apic_id, 63u);
}

TEST(AcpiSynthetic, HpetOutsideSystemMemoryIsIgnoredWithAWarning) {
    Firmware fw;
    fw.tables[Firmware::kHpet] = make_hpet(0x8086a201, 1, 0xfed00000);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->hpet.present);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_NE(std::string(fw.info->warnings[0]).find("not system memory"), std::string::npos);
}

TEST(AcpiSynthetic, HpetWith32BitCounterAndEightComparators) {
    Firmware fw;
    fw.tables[Firmware::kHpet] = make_hpet(0x10de0701, 0, 0xfed01000, 2, 0x37ee);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiHpet& h = fw.info->hpet;
    ASSERT_TRUE(h.present);
    EXPECT_EQ(h.vendor_id, 0x10de);
    EXPECT_EQ(h.comparator_count, 8);
    EXPECT_FALSE(h.counter_64bit);
    EXPECT_FALSE(h.legacy_replacement);
    EXPECT_EQ(h.hpet_number, 2);
    EXPECT_EQ(h.minimum_tick, 0x37ee);
    EXPECT_EQ(h.base_address, 0xfed01000u);
}

// The MCFG (PCI Firmware Specification 3.0, 4.1.2): where each segment's ECAM window is.
Firmware firmware_with_mcfg(const Bytes& mcfg) {
    Firmware fw;
    fw.tables[Firmware::kMcfg] = mcfg;
    fw.listed.push_back(Firmware::kMcfg);
    return fw;
}

TEST(AcpiMcfg, TwoSegmentsAndABusRangeThatStartsAbove0) {
    Firmware fw = firmware_with_mcfg(make_mcfg({{0xe0000000, 0, 0, 0xff}, {0x3ff000000000, 1, 0x80, 0x9f}}));
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_EQ(fw.info->warning_count, 0u) << all_warnings(*fw.info);
    const AcpiMcfg& m = fw.info->mcfg;
    ASSERT_TRUE(m.present);
    EXPECT_EQ(m.table_address, Firmware::kMcfg);
    EXPECT_EQ(m.ignored_count, 0u);
    ASSERT_EQ(m.allocation_count, 2u);
    EXPECT_EQ(m.allocations[0].base_address, 0xe0000000u);
    EXPECT_EQ(m.allocations[0].segment, 0);
    EXPECT_EQ(m.allocations[0].start_bus, 0);
    EXPECT_EQ(m.allocations[0].end_bus, 0xff);
    EXPECT_EQ(m.allocations[0].window_start(), 0xe0000000u);
    EXPECT_EQ(m.allocations[0].window_end(), 0xf0000000u);  // 256 buses of 1 MiB
    EXPECT_EQ(m.allocations[1].segment, 1);
    // The base address is bus 0's, so the window of buses 0x80-0x9f starts 128 MiB in.
    EXPECT_EQ(m.allocations[1].window_start(), 0x3ff000000000u + 0x80 * MiB);
    EXPECT_EQ(m.allocations[1].window_end(), 0x3ff000000000u + 0xa0 * MiB);
    ASSERT_NE(find_acpi_table(*fw.info, "MCFG"), nullptr);
}

TEST(AcpiMcfg, AnEmptyTableIsPresentWithNoWindows) {
    Firmware fw = firmware_with_mcfg(make_mcfg({}));
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_TRUE(fw.info->mcfg.present);
    EXPECT_EQ(fw.info->mcfg.allocation_count, 0u);
    EXPECT_EQ(fw.info->warning_count, 0u);
}

TEST(AcpiMcfg, ALengthThatIsNot44Plus16NIgnoresTheWholeTable) {
    for (usize cut : {usize(1), usize(15), usize(16 + 5)}) {
        Bytes mcfg = make_mcfg({{0xe0000000, 0, 0, 0xff}});
        mcfg.resize(mcfg.size() - cut);
        reseal(mcfg);
        Firmware fw = firmware_with_mcfg(mcfg);
        ASSERT_TRUE(fw.install_and_parse()) << fw.error;
        EXPECT_FALSE(fw.info->mcfg.present) << cut;
        EXPECT_EQ(fw.info->mcfg.allocation_count, 0u);
        ASSERT_EQ(fw.info->warning_count, 1u) << all_warnings(*fw.info);
        EXPECT_EQ(std::string(fw.info->warnings[0]),
                  "MCFG at 0x7fe9000: length " + std::to_string(mcfg.size()) + " is not 44 + 16 * n; ignored");
        // Still recorded as a table: it is the MCFG the firmware lists.
        EXPECT_NE(find_acpi_table(*fw.info, "MCFG"), nullptr);
    }
}

TEST(AcpiMcfg, InvalidWindowsAreSkippedAndCounted) {
    Firmware fw = firmware_with_mcfg(make_mcfg(
        {{0xe0000000, 0, 0x10, 0x0f}, {0, 1, 0, 0xff}, {0xfffffffff0000000ull, 2, 0, 0xff}, {0xd0000000, 3, 0, 0x3f}}));
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiMcfg& m = fw.info->mcfg;
    ASSERT_TRUE(m.present);
    ASSERT_EQ(m.allocation_count, 1u);
    EXPECT_EQ(m.allocations[0].segment, 3);
    EXPECT_EQ(m.allocations[0].window_end(), 0xd4000000u);
    EXPECT_EQ(m.ignored_count, 3u);
    ASSERT_EQ(fw.info->warning_count, 3u) << all_warnings(*fw.info);
    EXPECT_STREQ(fw.info->warnings[0], "MCFG: segment 0 buses 16-15 at 0xe0000000 is not a valid window; ignored");
    EXPECT_STREQ(fw.info->warnings[1], "MCFG: segment 1 buses 0-255 at 0x0 is not a valid window; ignored");
    EXPECT_STREQ(fw.info->warnings[2],
                 "MCFG: segment 2 buses 0-255 at 0xfffffffff0000000 is not a valid window; ignored");
}

TEST(AcpiMcfg, MoreWindowsThanTheTableHoldsAreCountedNotLost) {
    std::vector<McfgWindow> windows;
    for (u16 s = 0; s < AcpiMcfg::kMaxAllocations + 2; ++s) windows.push_back({0x100000000ull * (s + 1), s, 0, 0xff});
    Firmware fw = firmware_with_mcfg(make_mcfg(windows));
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const AcpiMcfg& m = fw.info->mcfg;
    EXPECT_EQ(m.allocation_count, AcpiMcfg::kMaxAllocations);
    EXPECT_EQ(m.allocations[AcpiMcfg::kMaxAllocations - 1].segment, AcpiMcfg::kMaxAllocations - 1);
    EXPECT_EQ(m.ignored_count, 2u);
    ASSERT_EQ(fw.info->warning_count, 2u);
    EXPECT_STREQ(fw.info->warnings[0], "MCFG: more than 16 windows; segment 16 buses 0-255 ignored");
}

TEST(AcpiMcfg, ASecondMcfgIsIgnored) {
    Firmware fw = firmware_with_mcfg(make_mcfg({{0xe0000000, 0, 0, 0xff}}));
    fw.tables[0x7fea000] = make_mcfg({{0xc0000000, 0, 0, 0xff}});
    fw.listed.push_back(0x7fea000);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    ASSERT_EQ(fw.info->mcfg.allocation_count, 1u);
    EXPECT_EQ(fw.info->mcfg.allocations[0].base_address, 0xe0000000u);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_STREQ(fw.info->warnings[0], "MCFG at 0x7fea000: a second MCFG; ignored");
}

TEST(AcpiMcfg, NoMcfgLeavesItAbsent) {
    Firmware fw;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->mcfg.present);
    EXPECT_EQ(fw.info->mcfg.allocation_count, 0u);
}

// ---------------------------------------------------------------------------------------
// Malformed tables

TEST(AcpiMalformed, NoRsdpOrTooShort) {
    Firmware fw;
    fw.install();
    EXPECT_FALSE(parse_acpi(fw.mem, nullptr, 0, *fw.info, &fw.error));
    EXPECT_STREQ(fw.error, "RSDP: none given");
    EXPECT_FALSE(parse_acpi(fw.mem, fw.rsdp.data(), 19, *fw.info, &fw.error));
    EXPECT_NE(std::string(fw.error).find("need at least 20"), std::string::npos);
}

TEST(AcpiMalformed, BadRsdpSignature) {
    Firmware fw;
    fw.install();
    fw.rsdp[3] = 'X';
    EXPECT_FALSE(fw.parse());
    EXPECT_NE(std::string(fw.error).find("signature"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, BadRsdpChecksum) {
    Firmware fw;
    fw.install();
    fw.rsdp[8] ^= 1;
    EXPECT_FALSE(fw.parse());
    EXPECT_STREQ(fw.error, "RSDP: bad checksum over the first 20 bytes");
    EXPECT_EQ(fw.error, fw.info->error_message);
}

TEST(AcpiMalformed, BadRsdpExtendedChecksum) {
    Firmware fw;
    fw.install();
    fw.rsdp[32] ^= 1;
    EXPECT_FALSE(fw.parse());
    EXPECT_STREQ(fw.error, "RSDP: bad extended checksum");
}

TEST(AcpiMalformed, RsdpLengthLargerThanTheBytesGiven) {
    Firmware fw;
    fw.install();
    put32(fw.rsdp, 20, 40);
    fix_checksum(fw.rsdp, 32, 36);
    EXPECT_FALSE(fw.parse());
    EXPECT_NE(std::string(fw.error).find("Length 40 outside 36..36"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, NoRootTableAddressAtAll) {
    Firmware fw;
    fw.with_rsdt = false;
    fw.with_xsdt = false;
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_STREQ(fw.error, "RSDP: neither an RSDT nor an XSDT address");
}

TEST(AcpiMalformed, XsdtLengthPastTheEndOfAccessibleMemory) {
    Firmware fw;
    fw.install();
    Bytes xsdt = fw.mem.find(Firmware::kXsdt)->storage;
    xsdt.erase(xsdt.begin());
    put32(xsdt, 4, u32(xsdt.size() + 64));  // claims 8 more entries than exist
    fix_checksum(xsdt, 9, xsdt.size());
    fw.mem.add(Firmware::kXsdt, xsdt);
    EXPECT_FALSE(fw.parse());
    EXPECT_NE(std::string(fw.error).find("XSDT at 0x7fe2000: length 132 runs into inaccessible memory"),
              std::string::npos)
        << fw.error;
}

TEST(AcpiMalformed, XsdtLengthsOutsideTheSaneRange) {
    for (u32 length : {0u, 35u, 2u * 1024 * 1024}) {
        Firmware fw;
        fw.install();
        Bytes xsdt = fw.mem.find(Firmware::kXsdt)->storage;
        xsdt.erase(xsdt.begin());
        put32(xsdt, 4, length);
        fw.mem.add(Firmware::kXsdt, xsdt);
        EXPECT_FALSE(fw.parse()) << length;
        EXPECT_NE(std::string(fw.error).find("outside 36..1048576"), std::string::npos) << fw.error;
    }
}

TEST(AcpiMalformed, XsdtWithPartialEntry) {
    Firmware fw;
    fw.install();
    Bytes xsdt = fw.mem.find(Firmware::kXsdt)->storage;
    xsdt.erase(xsdt.begin());
    xsdt.resize(xsdt.size() + 4);
    reseal(xsdt);
    fw.mem.add(Firmware::kXsdt, xsdt);
    EXPECT_FALSE(fw.parse());
    EXPECT_NE(std::string(fw.error).find("partial 8-byte entry"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, BadXsdtChecksumOrSignatureIsFatal) {
    {
        Firmware fw;
        fw.install();
        Bytes xsdt = fw.mem.find(Firmware::kXsdt)->storage;
        xsdt.erase(xsdt.begin());
        xsdt[9] ^= 0x40;
        fw.mem.add(Firmware::kXsdt, xsdt);
        EXPECT_FALSE(fw.parse());
        EXPECT_STREQ(fw.error, "XSDT at 0x7fe2000: bad checksum");
    }
    {
        Firmware fw;
        fw.install();
        fw.mem.add(Firmware::kXsdt, make_sdt("RSDT", 1, Bytes(8, 0)));
        EXPECT_FALSE(fw.parse());
        EXPECT_STREQ(fw.error, "XSDT at 0x7fe2000: signature is 'RSDT'");
    }
    {
        Firmware fw;
        fw.with_xsdt = false;
        fw.install();
        fw.rsdp = make_rsdp(2, u32(Firmware::kRsdt), 0x5000000);  // nothing there
        EXPECT_FALSE(fw.parse());
        EXPECT_STREQ(fw.error, "XSDT at 0x5000000: not accessible");
    }
}

TEST(AcpiMalformed, TableWithBadChecksumIsSkippedWithAWarning) {
    Firmware fw;
    fw.tables[Firmware::kHpet][20] ^= 0xff;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->hpet.present);
    EXPECT_EQ(find_acpi_table(*fw.info, "HPET"), nullptr);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_STREQ(fw.info->warnings[0], "HPET at 0x7fe5000: bad checksum; skipped");
    // Everything else is still there.
    EXPECT_TRUE(fw.info->madt.present);
    EXPECT_TRUE(fw.info->fadt.present);
    EXPECT_NE(find_acpi_table(*fw.info, "SSDT"), nullptr);
}

TEST(AcpiMalformed, BadMadtChecksumSkipsTheMadt) {
    Firmware fw;
    fw.tables[Firmware::kApic][40] ^= 0x1;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->madt.present);
    EXPECT_EQ(fw.info->warning_count, 1u);
}

TEST(AcpiMalformed, UnreachableNullAndOversizedTablesAreWarnings) {
    Firmware fw;
    fw.listed = {Firmware::kFacp, 0, 0x9990000, Firmware::kApic, Firmware::kSsdt};
    Bytes& ssdt = fw.tables[Firmware::kSsdt];
    put32(ssdt, 4, 2 * 1024 * 1024);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    ASSERT_EQ(fw.info->warning_count, 3u) << all_warnings(*fw.info);
    EXPECT_STREQ(fw.info->warnings[0], "XSDT entry 1 is a null address; skipped");
    EXPECT_STREQ(fw.info->warnings[1], "table at 0x9990000: not accessible; skipped");
    EXPECT_STREQ(fw.info->warnings[2], "SSDT at 0x7fe8000: length 2097152 outside 36..1048576; skipped");
    EXPECT_TRUE(fw.info->madt.present);
}

TEST(AcpiMalformed, MoreThanEightWarningsAreCountedNotLost) {
    Firmware fw;
    fw.listed.clear();
    for (int i = 0; i < 11; ++i) fw.listed.push_back(0);
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_EQ(fw.info->warning_count, 8u);
    EXPECT_EQ(fw.info->warnings_dropped, 3u);
}

TEST(AcpiMalformed, FadtPointingAtSomethingThatIsNotADsdt) {
    Firmware fw;
    fw.tables[Firmware::kFacp] = make_fadt(6, 276, u32(Firmware::kSsdt), u32(Firmware::kFacs));
    fw.listed = {Firmware::kFacp, Firmware::kApic};
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    EXPECT_FALSE(fw.info->has_dsdt);
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_STREQ(fw.info->warnings[0], "DSDT at 0x7fe8000: signature is 'SSDT'; skipped");
}

TEST(AcpiMalformed, MadtEntryWithLengthZero) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {lapic(0, 0, 1), Bytes{0, 0, 0, 0, 0, 0, 0, 0}});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_STREQ(fw.error, "MADT: entry type 0 at offset 0x34 has length 0");
}

TEST(AcpiMalformed, MadtEntryWithLengthOne) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {Bytes{0x7f, 1}});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_STREQ(fw.error, "MADT: entry type 127 at offset 0x2c has length 1");
}

TEST(AcpiMalformed, MadtEntryRunningPastTheTable) {
    Firmware fw;
    Bytes entry = lapic(0, 0, 1);
    entry[1] = 20;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {entry});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_NE(std::string(fw.error).find("runs past the table end"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, MadtEntryShorterThanItsType) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {Bytes{1, 8, 0, 0, 0, 0, 0xc0, 0xfe}});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_STREQ(fw.error, "MADT: entry type 1 at offset 0x2c has length 8, expected 12");
}

TEST(AcpiMalformed, MadtTruncatedEntryHeader) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, {lapic(0, 0, 1), Bytes{0}});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_NE(std::string(fw.error).find("truncated entry header"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, MadtShorterThanItsFixedFields) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_sdt("APIC", 5, Bytes{0, 0, 0xe0, 0xfe});
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_STREQ(fw.error, "MADT at 0x7fe4000: length 40 too short");
}

TEST(AcpiMalformed, TooManyCpus) {
    Firmware fw;
    std::vector<Bytes> entries;
    for (u32 i = 0; i < 65; ++i) entries.push_back(x2apic(i, i, 1));
    fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, entries);
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_NE(std::string(fw.error).find("more than 64 processors"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, TooManyIoApicsAndOverrides) {
    {
        Firmware fw;
        std::vector<Bytes> entries;
        for (u32 i = 0; i < 9; ++i) entries.push_back(ioapic(u8(i), 0xfec00000 + i * 0x1000, i * 24));
        fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, entries);
        EXPECT_FALSE(fw.install_and_parse());
        EXPECT_STREQ(fw.error, "MADT: more than 8 I/O APICs");
    }
    {
        Firmware fw;
        std::vector<Bytes> entries;
        for (u32 i = 0; i < 33; ++i) entries.push_back(iso(u8(i % 16), i, 0));
        fw.tables[Firmware::kApic] = make_madt(0xfee00000, 1, entries);
        EXPECT_FALSE(fw.install_and_parse());
        EXPECT_STREQ(fw.error, "MADT: more than 32 interrupt source overrides");
    }
}

TEST(AcpiMalformed, TooManyTables) {
    Firmware fw;
    fw.listed.clear();
    for (u32 i = 0; i < AcpiInfo::kMaxTables + 6; ++i) {
        const PhysAddr a = 0x100000 + i * 0x100;
        fw.tables[a] = make_sdt("SSDT", 2, Bytes(8, u8(i)));
        fw.listed.push_back(a);
    }
    EXPECT_FALSE(fw.install_and_parse());
    EXPECT_NE(std::string(fw.error).find("more than 128 ACPI tables"), std::string::npos) << fw.error;
}

TEST(AcpiMalformed, AddressRangesThatWrapAroundAreNeverMapped) {
    Firmware fw;
    fw.listed = {0xffffffffffffffe0ull};
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    ASSERT_EQ(fw.info->warning_count, 1u);
    EXPECT_STREQ(fw.info->warnings[0], "table at 0xffffffffffffffe0: not accessible; skipped");
}

// ---------------------------------------------------------------------------------------
// The acpidump format and its loader

void collect_line(const char* line, void* ctx) { static_cast<std::vector<std::string>*>(ctx)->push_back(line); }

std::vector<std::string> dump_lines(AcpiMemory& mem, const AcpiInfo& info) {
    std::vector<std::string> lines;
    dump_acpi_tables(mem, info, collect_line, &lines);
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
}

TEST(AcpiDump, ExactFormatOfASmallDump) {
    FixtureMemory mem;
    Bytes rsdt = make_sdt("RSDT", 1, {});
    mem.add(0xe0000, rsdt);
    Bytes rsdp = make_rsdp(0, 0xe0000, 0);
    auto info = std::make_unique<AcpiInfo>();
    const char* error = nullptr;
    ASSERT_TRUE(parse_acpi(mem, rsdp.data(), rsdp.size(), *info, &error)) << error;
    const std::vector<std::string> lines = dump_lines(mem, *info);
    char hex[80] = {};
    for (usize i = 0; i < 20; ++i) std::snprintf(hex + 2 * i, 3, "%02x", rsdp[i]);
    ASSERT_EQ(lines.size(), 8u);
    EXPECT_EQ(lines[0], "acpidump: table RSDP addr=0x0 len=20");
    EXPECT_EQ(lines[1], std::string("acpidump: RSDP 0000: ") + hex);
    EXPECT_EQ(lines[2], "acpidump: end RSDP");
    EXPECT_EQ(lines[3], "acpidump: table RSDT addr=0xe0000 len=36");
    EXPECT_EQ(lines[4].substr(0, 31), "acpidump: RSDT 0000: 5253445424");
    EXPECT_EQ(lines[4].size(), 21u + 64);
    EXPECT_EQ(lines[5].size(), 21u + 8);
    EXPECT_EQ(lines[5].substr(0, 21), "acpidump: RSDT 0020: ");
    EXPECT_EQ(lines[6], "acpidump: end RSDT");
    EXPECT_EQ(lines[7], "acpidump: done");
}

TEST(AcpiDump, RoundTripThroughTheLoaderGivesTheSameTablesAndTheSameParse) {
    Firmware fw;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    const std::vector<std::string> lines = dump_lines(fw.mem, *fw.info);

    // What a serial capture looks like: a log prefix, CRLF line ends, other output mixed in.
    std::string capture = "GRUB loading...\r\n";
    for (const std::string& l : lines) capture += "[vireo] " + l + "\r\n";
    capture += "vireo: halting\r\n";

    FixtureMemory loaded;
    std::string error;
    ASSERT_TRUE(loaded.load_dump_text(capture, &error)) << error;
    EXPECT_EQ(loaded.rsdp(), fw.rsdp);
    ASSERT_EQ(loaded.tables().size(), fw.info->table_count);
    for (const FixtureMemory::Table& t : loaded.tables()) {
        const FixtureMemory::Table* original = fw.mem.find(t.address);
        ASSERT_NE(original, nullptr) << t.signature;
        EXPECT_EQ(t.storage, original->storage) << t.signature;
    }
    auto again = std::make_unique<AcpiInfo>();
    const char* parse_error = nullptr;
    ASSERT_TRUE(parse_acpi(loaded, loaded.rsdp().data(), loaded.rsdp().size(), *again, &parse_error)) << parse_error;
    EXPECT_EQ(std::memcmp(again.get(), fw.info.get(), sizeof(AcpiInfo)), 0);
    EXPECT_EQ(dump_lines(loaded, *again), lines);
}

TEST(AcpiDump, UnmappableTableIsReportedAsMissing) {
    Firmware fw;
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    FixtureMemory partial;  // has everything but the SSDT
    for (const FixtureMemory::Table& t : fw.mem.tables()) {
        if (t.address != Firmware::kSsdt) partial.add(t.address, Bytes(t.data(), t.data() + t.size()));
    }
    const std::vector<std::string> lines = dump_lines(partial, *fw.info);
    EXPECT_NE(std::find(lines.begin(), lines.end(), "acpidump: missing SSDT addr=0x7fe8000 len=76"), lines.end());
    FixtureMemory loaded;
    std::string error;
    ASSERT_TRUE(loaded.load_dump_text(join(lines), &error)) << error;
    ASSERT_EQ(loaded.missing().size(), 1u);
    EXPECT_EQ(loaded.missing()[0].signature, "SSDT");
    EXPECT_EQ(loaded.missing()[0].length, 76u);
}

TEST(AcpiDump, LoaderRejectsBrokenDumps) {
    const std::string good =
        "acpidump: table RSDP addr=0x0 len=4\n"
        "acpidump: RSDP 0000: 01020304\n"
        "acpidump: end RSDP\n"
        "acpidump: done\n";
    std::string error;
    {
        FixtureMemory m;
        EXPECT_TRUE(m.load_dump_text(good, &error)) << error;
        EXPECT_EQ(m.rsdp(), (Bytes{1, 2, 3, 4}));
    }
    struct Case {
        std::string text;
        std::string why;
    } cases[] = {
        {good.substr(0, good.find("acpidump: done")), "no 'acpidump: done'"},
        {"acpidump: table RSDP addr=0x0 len=5\nacpidump: RSDP 0000: 01020304\nacpidump: end RSDP\nacpidump: done\n",
         "4 bytes, header said 5"},
        {"acpidump: table RSDP addr=0x0 len=4\nacpidump: RSDP 0000: 0102030g\n", "bad hex digit"},
        {"acpidump: table RSDP addr=0x0 len=4\nacpidump: RSDP 0000: 0102030\n", "bad hex length"},
        {"acpidump: table RSDP addr=0x0 len=4\nacpidump: RSDP 0002: 01020304\n", "leaves a gap"},
        {"acpidump: table RSDP addr=0x0 len=4\nacpidump: RSDP 0000: 01020304\n", "ends inside table RSDP"},
        {"acpidump: table RSDP addr=0x0 len=4\nacpidump: RSDP 0000: 01020304\nacpidump: end APIC\n", "does not match"},
        {"acpidump: hello\n", "unexpected line"},
        {"acpidump: done\n", "no RSDP"},
        {good + "acpidump: done\n", "after 'acpidump: done'"},
    };
    for (const Case& c : cases) {
        FixtureMemory m;
        EXPECT_FALSE(m.load_dump_text(c.text, &error)) << c.text;
        EXPECT_NE(error.find(c.why), std::string::npos) << error << " -- wanted: " << c.why;
    }
}

// ---------------------------------------------------------------------------------------
// Real tables captured from QEMU 7.2 (tools/capture-acpi-fixtures). A missing fixture
// fails the test: skipping would let the most valuable checks disappear unnoticed.

struct QemuTables {
    FixtureMemory mem;
    std::unique_ptr<AcpiInfo> info = std::make_unique<AcpiInfo>();
    std::string path;
    std::string text;
};

// Loads a fixture and parses it; gtest assertion failures inside abort the caller via ASSERT_NO_FATAL_FAILURE.
void load_qemu(const char* name, QemuTables& q) {
    q.path = std::string(VIREO_FIXTURES_DIR) + "/acpi/" + name;
    std::string error;
    ASSERT_TRUE(q.mem.load_dump_file(q.path, &error))
        << q.path << ": " << error << " (recapture with tools/capture-acpi-fixtures)";
    const char* parse_error = nullptr;
    ASSERT_TRUE(parse_acpi(q.mem, q.mem.rsdp().data(), q.mem.rsdp().size(), *q.info, &parse_error)) << parse_error;
    EXPECT_EQ(q.info->warning_count, 0u) << all_warnings(*q.info);
    EXPECT_TRUE(q.mem.missing().empty());
}

// Facts every QEMU 7.2 x86 machine shows, pc (i440fx/PIIX4) and q35 (ICH9) alike.
void expect_common_qemu_facts(const AcpiInfo& info, u32 cpus) {
    // SeaBIOS hands over an ACPI 1.0 RSDP: no XSDT, only the RSDT.
    EXPECT_EQ(info.rsdp_revision, 0);
    EXPECT_EQ(info.rsdp_length, 20u);
    EXPECT_FALSE(info.using_xsdt);
    EXPECT_STREQ(info.rsdp_oem_id, "BOCHS");
    EXPECT_STREQ(info.tables[0].signature, "RSDT");
    for (usize i = 0; i < info.table_count; ++i) {
        if (std::strcmp(info.tables[i].signature, "FACS") != 0) EXPECT_STREQ(info.tables[i].oem_id, "BOCHS");
    }
    ASSERT_NE(find_acpi_table(info, "WAET"), nullptr);

    const AcpiMadt& madt = info.madt;
    ASSERT_TRUE(madt.present);
    EXPECT_EQ(madt.local_apic_address, 0xfee00000u);
    EXPECT_FALSE(madt.local_apic_address_overridden);
    EXPECT_TRUE(madt.pcat_compat);
    ASSERT_EQ(madt.cpu_count, cpus);
    EXPECT_EQ(madt.unusable_cpu_count, 0u);
    for (u32 i = 0; i < cpus; ++i) {
        EXPECT_EQ(madt.cpus[i].apic_id, i);
        EXPECT_EQ(madt.cpus[i].acpi_uid, i);
        EXPECT_TRUE(madt.cpus[i].enabled);
        EXPECT_FALSE(madt.cpus[i].online_capable);
        EXPECT_FALSE(madt.cpus[i].x2apic);  // APIC ids below 255 use type 0 structures
    }
    ASSERT_EQ(madt.ioapic_count, 1u);
    EXPECT_EQ(madt.ioapics[0].id, 0);
    EXPECT_EQ(madt.ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(madt.ioapics[0].gsi_base, 0u);
    // IRQ0 (PIT) -> GSI2 with bus-default flags; the PCI link IRQs 5, 9, 10, 11 and the SCI
    // (9) are level-triggered, active high (flags 0xd), on both chipsets.
    ASSERT_EQ(madt.override_count, 5u);
    EXPECT_EQ(madt.overrides[0].bus, 0);
    EXPECT_EQ(madt.overrides[0].source, 0);
    EXPECT_EQ(madt.overrides[0].gsi, 2u);
    EXPECT_EQ(madt.overrides[0].flags, 0);
    const u8 level_irqs[] = {5, 9, 10, 11};
    for (usize i = 0; i < 4; ++i) {
        EXPECT_EQ(madt.overrides[i + 1].source, level_irqs[i]);
        EXPECT_EQ(madt.overrides[i + 1].gsi, level_irqs[i]);
        EXPECT_EQ(madt.overrides[i + 1].flags,
                  AcpiInterruptOverride::kTriggerLevel | AcpiInterruptOverride::kPolarityActiveHigh);
    }
    ASSERT_EQ(madt.local_apic_nmi_count, 1u);
    EXPECT_TRUE(madt.local_apic_nmis[0].all_processors);
    EXPECT_EQ(madt.local_apic_nmis[0].acpi_uid, 0xffu);
    EXPECT_EQ(madt.local_apic_nmis[0].lint, 1);
    EXPECT_EQ(madt.local_apic_nmis[0].flags, 0);

    const AcpiFadt& fadt = info.fadt;
    ASSERT_TRUE(fadt.present);
    EXPECT_FALSE(fadt.hardware_reduced);
    EXPECT_EQ(fadt.sci_interrupt, 9);
    EXPECT_TRUE(fadt.pm_timer_present);
    EXPECT_EQ(fadt.pm_timer_port, 0x608);
    EXPECT_EQ(fadt.pm_timer.space_id, AcpiGenericAddress::kSystemIo);
    EXPECT_EQ(fadt.pm_timer.bit_width, 32);
    EXPECT_FALSE(fadt.pm_timer_32bit);  // TMR_VAL_EXT clear: a 24-bit counter
    EXPECT_EQ(fadt.pm1a_control_port, 0x604);
    EXPECT_EQ(fadt.pm1a_control.bit_width, 16);
    EXPECT_EQ(fadt.pm1b_control_port, 0);
    EXPECT_EQ(fadt.century, 0x32);
    EXPECT_FALSE(fadt.vga_not_present);
    EXPECT_FALSE(fadt.cmos_rtc_not_present);
    EXPECT_TRUE(fadt.has_8042);

    // The DSDT and FACS are found only through the FADT and sit at the start of the ACPI area.
    EXPECT_TRUE(info.has_dsdt);
    EXPECT_EQ(info.dsdt_address, fadt.dsdt_address);
    EXPECT_TRUE(info.has_facs);
    EXPECT_EQ(info.facs_address, fadt.facs_address);
    EXPECT_EQ(info.dsdt_address, info.facs_address + 0x40);
    ASSERT_NE(find_acpi_table(info, "FACS"), nullptr);
    EXPECT_EQ(find_acpi_table(info, "FACS")->length, 64u);

    const AcpiHpet& hpet = info.hpet;
    ASSERT_TRUE(hpet.present);
    EXPECT_EQ(hpet.base.space_id, AcpiGenericAddress::kSystemMemory);
    EXPECT_EQ(hpet.base_address, 0xfed00000u);
    EXPECT_EQ(hpet.event_timer_block_id, 0x8086a201u);
    EXPECT_EQ(hpet.vendor_id, 0x8086);
    EXPECT_EQ(hpet.comparator_count, 3);
    EXPECT_TRUE(hpet.counter_64bit);
    EXPECT_TRUE(hpet.legacy_replacement);
    EXPECT_EQ(hpet.hardware_revision, 1);
    EXPECT_EQ(hpet.hpet_number, 0);
    EXPECT_EQ(hpet.minimum_tick, 0);
}

std::vector<std::string> table_order(const AcpiInfo& info) {
    std::vector<std::string> order;
    for (usize i = 0; i < info.table_count; ++i) order.emplace_back(info.tables[i].signature);
    return order;
}

TEST(AcpiQemu, Q35With4CpusAnd4GiB) {
    QemuTables q;
    ASSERT_NO_FATAL_FAILURE(load_qemu("qemu-q35-smp4-4g.dump", q));
    const AcpiInfo& info = *q.info;
    ASSERT_NO_FATAL_FAILURE(expect_common_qemu_facts(info, 4));
    EXPECT_EQ(table_order(info),
              (std::vector<std::string>{"RSDT", "FACP", "APIC", "HPET", "MCFG", "WAET", "DSDT", "FACS"}));
    // q35 keeps its ACPI tables below 2 GiB (its low RAM ends there with 4 GiB).
    EXPECT_EQ(info.rsdt_address, 0x7ffe23f8u);
    EXPECT_EQ(info.facs_address, 0x7ffe0000u);
    EXPECT_EQ(find_acpi_table(info, "DSDT")->length, 8600u);

    // ICH9: an ACPI 2.0 FADT (revision 3, 244 bytes) with the reset register at port 0xcf9.
    const AcpiFadt& fadt = info.fadt;
    EXPECT_EQ(fadt.revision, 3);
    EXPECT_EQ(fadt.length, 244u);
    EXPECT_EQ(fadt.flags, 0x84a5u);
    EXPECT_TRUE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset_register.space_id, AcpiGenericAddress::kSystemIo);
    EXPECT_EQ(fadt.reset_register.bit_width, 8);
    EXPECT_EQ(fadt.reset_register.address, 0xcf9u);
    EXPECT_EQ(fadt.reset_value, 0xf);
    // IAPC_BOOT_ARCH = 0x2: an 8042, but no LEGACY_DEVICES flag.
    EXPECT_TRUE(fadt.iapc_boot_arch_valid);
    EXPECT_EQ(fadt.iapc_boot_arch, 0x2);
    EXPECT_FALSE(fadt.legacy_devices);

    // Q35's PCIe ECAM (MCH PCIEXBAR): 256 buses of segment 0 at 0xb0000000.
    const AcpiMcfg& mcfg = info.mcfg;
    ASSERT_TRUE(mcfg.present);
    EXPECT_EQ(mcfg.table_address, 0x7ffe2394u);
    ASSERT_EQ(mcfg.allocation_count, 1u);
    EXPECT_EQ(mcfg.ignored_count, 0u);
    EXPECT_EQ(mcfg.allocations[0].base_address, 0xb0000000u);
    EXPECT_EQ(mcfg.allocations[0].segment, 0);
    EXPECT_EQ(mcfg.allocations[0].start_bus, 0);
    EXPECT_EQ(mcfg.allocations[0].end_bus, 0xff);
    EXPECT_EQ(mcfg.allocations[0].window_end(), 0xc0000000u);
}

// i440fx/PIIX4: QEMU still emits an ACPI 1.0 FADT (revision 1, 116 bytes): no reset
// register and no boot architecture flags.
void expect_pc_fadt(const AcpiFadt& fadt) {
    EXPECT_EQ(fadt.revision, 1);
    EXPECT_EQ(fadt.length, 116u);
    EXPECT_EQ(fadt.flags, 0x80a5u);
    EXPECT_FALSE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset_register.address, 0u);
    EXPECT_FALSE(fadt.iapc_boot_arch_valid);
    EXPECT_TRUE(fadt.legacy_devices);  // assumed for ACPI 1.0
}

TEST(AcpiQemu, PcWith1CpuAnd512MiB) {
    QemuTables q;
    ASSERT_NO_FATAL_FAILURE(load_qemu("qemu-pc-smp1-512m.dump", q));
    const AcpiInfo& info = *q.info;
    ASSERT_NO_FATAL_FAILURE(expect_common_qemu_facts(info, 1));
    EXPECT_EQ(table_order(info), (std::vector<std::string>{"RSDT", "FACP", "APIC", "HPET", "WAET", "DSDT", "FACS"}));
    EXPECT_EQ(find_acpi_table(info, "MCFG"), nullptr);  // no PCIe on i440fx
    EXPECT_FALSE(info.mcfg.present);
    // The ACPI area sits at the top of low RAM: 512 MiB - 128 KiB.
    EXPECT_EQ(info.facs_address, 0x1ffe0000u);
    EXPECT_EQ(info.rsdt_address, 0x1ffe1ad8u);
    expect_pc_fadt(info.fadt);
}

TEST(AcpiQemu, PcWith2CpusAnd4GiB) {
    QemuTables q;
    ASSERT_NO_FATAL_FAILURE(load_qemu("qemu-pc-smp2-4g.dump", q));
    const AcpiInfo& info = *q.info;
    ASSERT_NO_FATAL_FAILURE(expect_common_qemu_facts(info, 2));
    EXPECT_EQ(table_order(info), (std::vector<std::string>{"RSDT", "FACP", "APIC", "HPET", "WAET", "DSDT", "FACS"}));
    // With 4 GiB, i440fx ends low RAM at 3 GiB (the PCI hole above); the tables sit below it.
    EXPECT_EQ(info.facs_address, 0xbffe0000u);
    EXPECT_EQ(info.rsdt_address, 0xbffe1b33u);  // firmware does not align tables
    expect_pc_fadt(info.fadt);
}

// Dumping the tables served from a fixture must give back the fixture's own lines: the
// dump format, the loader and the parser's table list agree on real data.
TEST(AcpiQemu, RedumpingEachFixtureReproducesItExactly) {
    for (const char* name : {"qemu-q35-smp4-4g.dump", "qemu-pc-smp1-512m.dump", "qemu-pc-smp2-4g.dump"}) {
        QemuTables q;
        ASSERT_NO_FATAL_FAILURE(load_qemu(name, q));
        std::ifstream file(q.path);
        std::vector<std::string> expected;
        for (std::string line; std::getline(file, line);) {
            if (line.rfind(kAcpiDumpPrefix, 0) == 0) expected.push_back(line);
        }
        EXPECT_EQ(dump_lines(q.mem, *q.info), expected) << name;
    }
}

// Every real table passes the checks a corrupted copy must fail.
TEST(AcpiQemu, CorruptingAnyRealTableIsNoticed) {
    QemuTables q;
    ASSERT_NO_FATAL_FAILURE(load_qemu("qemu-q35-smp4-4g.dump", q));
    for (const FixtureMemory::Table& t : q.mem.tables()) {
        if (t.signature == "FACS") continue;  // the FACS has no checksum (ACPI 5.2.10)
        FixtureMemory broken = q.mem;
        Bytes bytes(t.data(), t.data() + t.size());
        bytes[bytes.size() / 2] ^= 0x01;
        broken.add(t.address, bytes);
        auto info = std::make_unique<AcpiInfo>();
        const char* error = nullptr;
        const bool ok = parse_acpi(broken, q.mem.rsdp().data(), q.mem.rsdp().size(), *info, &error);
        if (t.signature == "RSDT") {
            EXPECT_FALSE(ok);
            EXPECT_STREQ(error, "RSDT at 0x7ffe23f8: bad checksum");
        } else {
            ASSERT_TRUE(ok) << t.signature << ": " << error;
            ASSERT_EQ(info->warning_count, 1u) << t.signature;
            EXPECT_NE(std::string(info->warnings[0]).find(t.signature + " at 0x"), std::string::npos);
            EXPECT_NE(std::string(info->warnings[0]).find("bad checksum; skipped"), std::string::npos);
            EXPECT_EQ(find_acpi_table(*info, t.signature.c_str()), nullptr);
        }
    }
}

}  // namespace
