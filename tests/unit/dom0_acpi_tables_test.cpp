// dom0's ACPI tables (kernel/vm/firmware/dom0_acpi_tables.hpp): built from host tables (a
// QEMU q35 capture and synthetic firmware), then parsed back by drivers/acpi through a
// memory that serves the host's tables where they are and dom0's new ones from guest RAM,
// as an identity-mapped dom0 sees them.
#include "kernel/vm/firmware/dom0_acpi_tables.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_tables.hpp"
#include "tests/unit/acpi_builders.hpp"
#include "tests/unit/acpi_fixture.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using namespace acpi_test;
using guest_firmware_test::GuestAcpiMemory;
using guest_firmware_test::SparseGuestRam;

constexpr u64 kArea = 0x100000;  // where the tests put dom0's tables (RAM of SparseGuestRam)
constexpr u64 kAreaSize = 0x10000;

// What dom0 sees: the host's tables at their own addresses, everything else from its RAM.
class Dom0View final : public AcpiMemory {
public:
    Dom0View(FixtureMemory& host, SparseGuestRam& ram) : host_(host), ram_(ram) {}
    const u8* map(PhysAddr phys, u64 length) override {
        if (const u8* p = host_.map(phys, length)) return p;
        return ram_.map(phys, length);
    }

private:
    FixtureMemory& host_;
    GuestAcpiMemory ram_;
};

struct Host {
    FixtureMemory mem;
    Bytes rsdp;
    std::unique_ptr<AcpiInfo> info = std::make_unique<AcpiInfo>();
};

void load_q35(Host& h) {
    std::string error;
    const std::string path = std::string(VIREO_FIXTURES_DIR) + "/acpi/qemu-q35-smp4-4g.dump";
    ASSERT_TRUE(h.mem.load_dump_file(path, &error)) << path << ": " << error;
    h.rsdp = h.mem.rsdp();
    const char* parse_error = nullptr;
    ASSERT_TRUE(parse_acpi(h.mem, h.rsdp.data(), h.rsdp.size(), *h.info, &parse_error)) << parse_error;
}

void load_firmware(Host& h, Firmware& fw) {
    ASSERT_TRUE(fw.install_and_parse()) << fw.error;
    h.mem = fw.mem;
    h.rsdp = fw.rsdp;
    *h.info = *fw.info;
}

struct Dom0 {
    SparseGuestRam ram{64 * MiB};
    Dom0AcpiBuildResult result;
    std::unique_ptr<AcpiInfo> info = std::make_unique<AcpiInfo>();
    bool parsed = false;
    const char* parse_error = nullptr;
};

Dom0AcpiConfig config_for(const AcpiInfo& host, u32 vcpus) {
    Dom0AcpiConfig c;
    c.vcpu_count = vcpus;
    c.ioapic_address = u32(host.madt.ioapics[0].address);
    c.ioapic_id = u8(vcpus);
    return c;
}

// Builds dom0's tables and parses them from the new RSDP, as dom0's Linux would (rsdp_bytes
// 20: an ACPI 1.0 reader, through the RSDT).
void build_and_parse(Host& h, Dom0& d, const Dom0AcpiConfig& c, usize rsdp_bytes = 36) {
    d.result = build_dom0_acpi_tables(d.ram, kArea, kAreaSize, *h.info, c);
    ASSERT_TRUE(d.result.ok) << d.result.error;
    Bytes rsdp = d.ram.bytes(d.result.rsdp_gpa, 36);
    rsdp.resize(rsdp_bytes);
    Dom0View view(h.mem, d.ram);
    d.parsed = parse_acpi(view, rsdp.data(), rsdp.size(), *d.info, &d.parse_error);
    ASSERT_TRUE(d.parsed) << d.parse_error;
}

std::vector<std::string> signatures(const AcpiInfo& info) {
    std::vector<std::string> s;
    for (usize i = 0; i < info.table_count; ++i) s.emplace_back(info.tables[i].signature);
    return s;
}

PhysAddr address_of(const AcpiInfo& info, const char* signature) {
    const AcpiTableRef* t = find_acpi_table(info, signature);
    return t != nullptr ? t->address : 0;
}

u8 byte_sum(const Bytes& b) { return sum(b, b.size()); }
Bytes table_at(SparseGuestRam& ram, u64 gpa) { return ram.bytes(gpa, ram.at<u32>(gpa + 4)); }

// ---------------------------------------------------------------------------------------
// A real host: QEMU q35 (SeaBIOS: an ACPI 1.0 RSDP, RSDT only)

TEST(Dom0AcpiTables, Q35HostTablesAreListedInPlaceWithoutHpetAndWithANewMadt) {
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_q35(h));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 2)));
    const AcpiInfo& info = *d.info;
    EXPECT_EQ(info.warning_count, 0u) << all_warnings(info);

    // A revision 2 RSDP at the base, the XSDT used, and the unused RSDT found too.
    EXPECT_EQ(d.result.rsdp_gpa, kArea);
    EXPECT_EQ(info.rsdp_revision, 2);
    EXPECT_TRUE(info.using_xsdt);
    EXPECT_EQ(info.xsdt_address, d.result.xsdt_gpa);
    EXPECT_EQ(info.rsdt_address, d.result.rsdt_gpa);
    EXPECT_NE(d.result.rsdt_gpa, 0u);
    EXPECT_EQ(signatures(info),
              (std::vector<std::string>{"XSDT", "FACP", "APIC", "MCFG", "WAET", "DSDT", "FACS", "RSDT"}));
    EXPECT_EQ(d.result.host_tables_listed, 3u);   // FACP, MCFG, WAET
    EXPECT_EQ(d.result.host_tables_dropped, 2u);  // APIC (replaced), HPET

    // The host's tables are read where they are: identity mapping, nothing copied.
    for (const char* sig : {"FACP", "MCFG", "WAET", "DSDT", "FACS"}) {
        EXPECT_EQ(address_of(info, sig), address_of(*h.info, sig)) << sig;
    }
    EXPECT_EQ(address_of(info, "APIC"), d.result.madt_gpa);
    EXPECT_GE(d.result.madt_gpa, kArea);
    EXPECT_LE(d.result.bytes_used, kAreaSize);
    EXPECT_FALSE(info.hpet.present);
    EXPECT_EQ(info.fadt.sci_interrupt, 9);
    ASSERT_TRUE(info.mcfg.present);
    EXPECT_EQ(info.mcfg.allocations[0].base_address, 0xb0000000u);

    // The MADT: dom0's 2 vCPUs, the virtual I/O APIC where the host's is, the host's overrides.
    const AcpiMadt& madt = info.madt;
    const AcpiMadt& host = h.info->madt;
    ASSERT_EQ(madt.cpu_count, 2u);
    for (u32 i = 0; i < 2; ++i) {
        EXPECT_EQ(madt.cpus[i].apic_id, i);
        EXPECT_EQ(madt.cpus[i].acpi_uid, i);
        EXPECT_TRUE(madt.cpus[i].enabled);
        EXPECT_FALSE(madt.cpus[i].x2apic);
    }
    EXPECT_EQ(madt.unusable_cpu_count, 0u);
    EXPECT_EQ(madt.local_apic_address, 0xfee00000u);
    EXPECT_TRUE(madt.pcat_compat);
    ASSERT_EQ(madt.ioapic_count, 1u);
    EXPECT_EQ(madt.ioapics[0].id, 2);
    EXPECT_EQ(madt.ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(madt.ioapics[0].gsi_base, 0u);
    ASSERT_EQ(madt.override_count, host.override_count);
    ASSERT_EQ(madt.override_count, 5u);
    for (usize i = 0; i < madt.override_count; ++i) {
        EXPECT_EQ(madt.overrides[i].bus, host.overrides[i].bus) << i;
        EXPECT_EQ(madt.overrides[i].source, host.overrides[i].source) << i;
        EXPECT_EQ(madt.overrides[i].gsi, host.overrides[i].gsi) << i;
        EXPECT_EQ(madt.overrides[i].flags, host.overrides[i].flags) << i;
    }
    EXPECT_EQ(madt.overrides[0].gsi, 2u);  // the PIT's IRQ 0 on pin 2
    ASSERT_EQ(madt.local_apic_nmi_count, 1u);
    EXPECT_TRUE(madt.local_apic_nmis[0].all_processors);
    EXPECT_EQ(madt.local_apic_nmis[0].lint, 1);
}

TEST(Dom0AcpiTables, EveryNewTableSumsToZeroAndNamesVireo) {
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_q35(h));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 4)));
    const Bytes rsdp = d.ram.bytes(d.result.rsdp_gpa, 36);
    EXPECT_EQ(std::string(rsdp.begin(), rsdp.begin() + 8), "RSD PTR ");
    EXPECT_EQ(sum(rsdp, 20), 0);
    EXPECT_EQ(byte_sum(rsdp), 0);
    for (u64 gpa : {d.result.xsdt_gpa, d.result.rsdt_gpa, d.result.madt_gpa}) {
        const Bytes t = table_at(d.ram, gpa);
        EXPECT_EQ(byte_sum(t), 0) << std::string(t.begin(), t.begin() + 4);
        EXPECT_EQ(std::string(t.begin() + 10, t.begin() + 24), "VIREO VIREODM0");
    }
    // 44 + 4 local APICs + I/O APIC + 5 overrides + NMI.
    EXPECT_EQ(table_at(d.ram, d.result.madt_gpa).size(), 44u + 4 * 8 + 12 + 5 * 10 + 6);
    // The MADT keeps the host's revision.
    EXPECT_EQ(table_at(d.ram, d.result.madt_gpa)[8], find_acpi_table(*h.info, "APIC")->revision);
}

TEST(Dom0AcpiTables, AnAcpi1ReaderFindsTheSameTablesThroughTheRsdt) {
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_q35(h));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 2), 20));
    EXPECT_FALSE(d.info->using_xsdt);
    ASSERT_EQ(d.info->warning_count, 1u) << all_warnings(*d.info);
    EXPECT_STREQ(d.info->warnings[0], "RSDP: revision 2 but only 20 bytes given; using the RSDT");
    EXPECT_EQ(signatures(*d.info), (std::vector<std::string>{"RSDT", "FACP", "APIC", "MCFG", "WAET", "DSDT", "FACS"}));
    EXPECT_EQ(d.info->madt.cpu_count, 2u);
    EXPECT_EQ(address_of(*d.info, "APIC"), d.result.madt_gpa);
}

// ---------------------------------------------------------------------------------------
// Synthetic hosts

// Firmware (acpi_builders.hpp) with the tables Vireo keeps for itself, twice where it can.
Firmware busy_firmware() {
    Firmware fw;
    fw.tables[0x7fea000] = make_sdt("DMAR", 1, Bytes(16, 0x22));
    fw.tables[0x7feb000] = make_sdt("IVRS", 2, Bytes(16, 0x33));
    fw.tables[0x7fec000] = make_hpet(0x8086a201, 0, 0xfed01000);  // a second timer block
    fw.tables[0x7fed000] = make_sdt("SSDT", 2, Bytes(20, 0x44));
    fw.tables[Firmware::kMcfg] = make_mcfg({{0xe0000000, 0, 0, 0xff}});
    fw.listed = {Firmware::kFacp, 0x7fea000, Firmware::kApic, Firmware::kHpet, Firmware::kSsdt,
                 0x7feb000,       0x7fec000, 0x7fed000,       Firmware::kMcfg};
    return fw;
}

TEST(Dom0AcpiTables, EveryTableOfADroppedSignatureGoesAndTheOrderIsKept) {
    Firmware fw = busy_firmware();
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 3)));
    EXPECT_EQ(d.info->warning_count, 0u) << all_warnings(*d.info);
    EXPECT_EQ(signatures(*d.info),
              (std::vector<std::string>{"XSDT", "FACP", "APIC", "SSDT", "SSDT", "MCFG", "DSDT", "FACS", "RSDT"}));
    EXPECT_EQ(d.info->tables[3].address, Firmware::kSsdt);
    EXPECT_EQ(d.info->tables[4].address, 0x7fed000u);
    EXPECT_EQ(d.result.host_tables_listed, 4u);
    EXPECT_EQ(d.result.host_tables_dropped, 5u);  // APIC, DMAR, HPET twice, IVRS
    EXPECT_EQ(d.info->madt.cpu_count, 3u);
    // The host's tables keep their addresses in the RSDT too.
    const Bytes rsdt = table_at(d.ram, d.result.rsdt_gpa);
    ASSERT_EQ(rsdt.size(), 36u + 5 * 4);
    u32 second;
    std::memcpy(&second, &rsdt[40], 4);
    EXPECT_EQ(second, d.result.madt_gpa);
}

TEST(Dom0AcpiTables, TheDropListIsTheCallers) {
    Firmware fw = busy_firmware();
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0AcpiConfig c = config_for(*h.info, 1);
    std::strcpy(c.dropped[0], "SSDT");  // "APIC" not listed: the host's MADT is still replaced
    c.dropped_count = 1;
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, c));
    EXPECT_EQ(signatures(*d.info), (std::vector<std::string>{"XSDT", "FACP", "DMAR", "APIC", "HPET", "IVRS", "HPET",
                                                             "MCFG", "DSDT", "FACS", "RSDT"}));
    EXPECT_EQ(address_of(*d.info, "APIC"), d.result.madt_gpa);
}

TEST(Dom0AcpiTables, HostX2apicProcessorsAndSecondMadtAreNotDom0s) {
    Firmware fw;
    fw.tables[Firmware::kApic] =
        make_madt(0xfee00000, 0,
                  {lapic(0, 0, 1), x2apic(0x100, 1, 1), x2apic(0x101, 2, 1), ioapic(1, 0xfec00000, 0),
                   ioapic(2, 0xfec01000, 24), iso(0, 2, 0), x2apic_nmi(0xffffffff, 0x5, 1)});
    fw.tables[0x7fea000] = make_madt(0xfee00000, 1, {lapic(7, 7, 1)});
    fw.listed.push_back(0x7fea000);
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 2)));
    EXPECT_EQ(d.info->warning_count, 0u) << all_warnings(*d.info);  // no second MADT any more
    const AcpiMadt& madt = d.info->madt;
    ASSERT_EQ(madt.cpu_count, 2u);
    EXPECT_FALSE(madt.cpus[1].x2apic);
    EXPECT_EQ(madt.cpus[1].apic_id, 1u);
    EXPECT_FALSE(madt.pcat_compat);  // as the host's
    ASSERT_EQ(madt.ioapic_count, 1u);
    ASSERT_EQ(madt.override_count, 1u);
    // The host's NMI polarity and trigger, on LINT1 of every processor, in an xAPIC entry.
    ASSERT_EQ(madt.local_apic_nmi_count, 1u);
    EXPECT_EQ(madt.local_apic_nmis[0].acpi_uid, 0xffu);
    EXPECT_EQ(madt.local_apic_nmis[0].flags, 0x5);
    EXPECT_EQ(madt.local_apic_nmis[0].lint, 1);
    EXPECT_EQ(d.result.host_tables_dropped, 3u);  // both MADTs and the HPET
}

TEST(Dom0AcpiTables, NoRsdtWhenAListedTableIsAbove4GiB) {
    Firmware fw;
    fw.tables[0x123400000000ull] = make_sdt("SSDT", 2, Bytes(8, 1));
    fw.listed.push_back(0x123400000000ull);
    fw.with_rsdt = false;
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 1)));
    EXPECT_EQ(d.result.rsdt_gpa, 0u);
    EXPECT_EQ(d.info->rsdt_address, 0u);
    EXPECT_EQ(address_of(*d.info, "RSDT"), 0u);
    bool high_ssdt_listed = false;
    for (usize i = 0; i < d.info->table_count; ++i) high_ssdt_listed |= d.info->tables[i].address == 0x123400000000ull;
    EXPECT_TRUE(high_ssdt_listed);
    // The RSDT's place is not left empty: the tables end with the MADT.
    EXPECT_EQ(d.result.bytes_used, d.result.madt_gpa + table_at(d.ram, d.result.madt_gpa).size() - kArea);
}

TEST(Dom0AcpiTables, AHostWithAllTheTablesItsListHoldsFitsInTheArea) {
    Firmware fw;
    // Root, FACP, APIC, HPET, SSDT, DSDT, FACS: the rest of the table list is SSDTs.
    for (PhysAddr a = 0x8000000; fw.listed.size() < AcpiInfo::kMaxTables - 3; a += 0x100) {
        fw.tables[a] = make_sdt("SSDT", 2, Bytes(8, u8(a >> 8)));
        fw.listed.push_back(a);
    }
    fw.with_rsdt = false;
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    ASSERT_EQ(h.info->table_count, AcpiInfo::kMaxTables);
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 8)));
    // Root + (kMaxTables - 3 listed, minus the HPET) + DSDT + FACS + RSDT.
    EXPECT_EQ(d.info->table_count, AcpiInfo::kMaxTables);
    EXPECT_EQ(d.result.host_tables_listed, AcpiInfo::kMaxTables - 5);
}

TEST(Dom0AcpiTables, AMalformedHostMcfgIsLeftOutAndAGoodSecondOneKept) {
    Firmware fw;
    Bytes bad = make_mcfg({{0xe0000000, 0, 0, 0xff}});
    bad.resize(bad.size() - 4);
    reseal(bad);
    fw.tables[Firmware::kMcfg] = bad;
    fw.tables[0x7fea000] = make_mcfg({{0xc0000000, 0, 0, 0x7f}});
    fw.tables[0x7feb000] = make_mcfg({{0xd0000000, 0, 0, 0x7f}});  // a third: an OS uses the first it finds
    fw.listed.insert(fw.listed.end(), {Firmware::kMcfg, 0x7fea000, 0x7feb000});
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, config_for(*h.info, 1)));
    EXPECT_EQ(d.info->warning_count, 0u) << all_warnings(*d.info);
    EXPECT_EQ(address_of(*d.info, "MCFG"), 0x7fea000u);
    EXPECT_EQ(d.info->mcfg.allocations[0].base_address, 0xc0000000u);
    EXPECT_EQ(d.result.host_tables_dropped, 4u);  // APIC, HPET, two MCFGs
}

// ---------------------------------------------------------------------------------------
// Refusals: a sentence, and nothing written

std::string refuse(Host& h, Dom0AcpiConfig c, u64 base = kArea, u64 size = kAreaSize) {
    SparseGuestRam ram(256 * MiB);
    const Dom0AcpiBuildResult r = build_dom0_acpi_tables(ram, base, size, *h.info, c);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(ram.writes, 0u) << r.error;
    return r.error;
}

TEST(Dom0AcpiTables, ConfigsThatCannotBeDescribedAreRefused) {
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_q35(h));
    const Dom0AcpiConfig good = config_for(*h.info, 2);
    Dom0AcpiConfig c = good;
    c.vcpu_count = 0;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: dom0 needs at least one vCPU");
    c = good;
    c.vcpu_count = 256;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: more vCPUs than xAPIC ids (255)");
    c = good;
    c.ioapic_id = 1;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: the I/O APIC id collides with a local APIC id");
    c = good;
    c.ioapic_address = 0;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: interrupt controller address is 0");
    c = good;
    c.ioapic_pins = 0;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: the I/O APIC pin count is outside 1..256");
    c = good;
    c.dropped_count = Dom0AcpiConfig::kMaxDroppedSignatures + 1;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: too many dropped signatures");
    EXPECT_EQ(refuse(h, good, kArea + 8), "dom0 ACPI: the RSDP must be 16-byte aligned (ACPI 5.2.5.1)");
    EXPECT_EQ(refuse(h, good, kArea, 200), "dom0 ACPI: the tables need 308 bytes, the area holds 200");
}

TEST(Dom0AcpiTables, AHostOverrideToAGsiTheVirtualIoApicLacksIsRefused) {
    Firmware fw;
    fw.tables[Firmware::kApic] = make_madt(
        0xfee00000, 1, {lapic(0, 0, 1), ioapic(0, 0xfec00000, 0), ioapic(1, 0xfec01000, 24), iso(9, 30, 0xd)});
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    EXPECT_EQ(refuse(h, config_for(*h.info, 1)),
              "dom0 ACPI: the host routes IRQ 9 to GSI 30, outside the virtual I/O APIC's GSIs 0-23");
    Dom0AcpiConfig c = config_for(*h.info, 1);
    c.ioapic_pins = 48;  // a virtual I/O APIC as large as both of the host's
    SparseGuestRam ram(64 * MiB);
    EXPECT_TRUE(build_dom0_acpi_tables(ram, kArea, kAreaSize, *h.info, c).ok);
}

TEST(Dom0AcpiTables, AnMcfgWithWindowsVireoDidNotRecordIsRefusedUnlessDropped) {
    Firmware fw;
    std::vector<McfgWindow> windows;
    for (u16 s = 0; s < AcpiMcfg::kMaxAllocations + 1; ++s) windows.push_back({0x100000000ull * (s + 1), s, 0, 0xff});
    fw.tables[Firmware::kMcfg] = make_mcfg(windows);
    fw.listed.push_back(Firmware::kMcfg);
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    EXPECT_EQ(refuse(h, config_for(*h.info, 1)),
              "dom0 ACPI: the host's MCFG lists 1 ECAM windows Vireo did not record; dom0 would reach them untrapped");
    Dom0AcpiConfig c = config_for(*h.info, 1);
    std::strcpy(c.dropped[c.dropped_count++], "MCFG");
    Dom0 d;
    ASSERT_NO_FATAL_FAILURE(build_and_parse(h, d, c));
    EXPECT_EQ(address_of(*d.info, "MCFG"), 0u);
}

TEST(Dom0AcpiTables, AHostWithoutMadtIsRefused) {
    Firmware fw;
    fw.listed = {Firmware::kFacp, Firmware::kSsdt};
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    Dom0AcpiConfig c;
    c.ioapic_address = 0xfec00000;
    EXPECT_EQ(refuse(h, c), "dom0 ACPI: the host has no MADT to take interrupt overrides from");
}

TEST(Dom0AcpiTables, AnAreaOverAHostTableIsRefused) {
    Firmware fw;
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_firmware(h, fw));
    // The HPET is not dom0's, but it is still the host's memory.
    EXPECT_EQ(refuse(h, config_for(*h.info, 1), Firmware::kHpet - 0x80),
              "dom0 ACPI: the table area [0x7fe4f80, 0x7fe5080) overlaps the host's HPET at 0x7fe5000");
    // Up to it is fine: the tables take 0x100 bytes.
    SparseGuestRam ram(256 * MiB);
    const Dom0AcpiBuildResult r =
        build_dom0_acpi_tables(ram, Firmware::kHpet - 0x100, kAreaSize, *h.info, config_for(*h.info, 1));
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.bytes_used, 0x100u);
}

TEST(Dom0AcpiTables, ARefusedWriteIsReported) {
    Host h;
    ASSERT_NO_FATAL_FAILURE(load_q35(h));
    SparseGuestRam ram(64 * MiB);
    ram.refuse(kArea + 0x40, 1);
    const Dom0AcpiBuildResult r = build_dom0_acpi_tables(ram, kArea, kAreaSize, *h.info, config_for(*h.info, 1));
    EXPECT_FALSE(r.ok);
    EXPECT_STREQ(r.error, "dom0 ACPI: guest memory refused a write to the table area");
}

}  // namespace
