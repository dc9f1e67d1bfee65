// The guest's ACPI tables (kernel/vm/firmware/guest_acpi_tables.hpp), checked by feeding
// them back through Vireo's own ACPI parser (drivers/acpi), which was written against the
// specification and real firmware, plus byte-level checks of what the parser does not
// decode (checksums, raw FADT fields, the DSDT's AML).
#include "kernel/vm/firmware/guest_acpi_tables.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/vm/devices/pc/acpi_pm_block.hpp"
#include "kernel/vm/firmware/guest_dsdt.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using guest_firmware_test::GuestAcpiMemory;
using guest_firmware_test::SparseGuestRam;

constexpr u64 kRam = 64 * MiB;

u8 byte_sum(const std::vector<u8>& bytes) {
    u8 s = 0;
    for (u8 b : bytes) s = u8(s + b);
    return s;
}

template <typename T>
T load(const std::vector<u8>& bytes, usize offset) {
    T v{};
    EXPECT_LE(offset + sizeof v, bytes.size());
    if (offset + sizeof v <= bytes.size()) std::memcpy(&v, bytes.data() + offset, sizeof v);
    return v;
}

// The table at `gpa`, its length taken from its header.
std::vector<u8> table_at(SparseGuestRam& ram, u64 gpa) { return ram.bytes(gpa, ram.at<u32>(gpa + 4)); }

struct Built {
    AcpiBuildResult result;
    AcpiInfo info;
    bool parsed = false;
    const char* parse_error = nullptr;
};

// Builds the tables at the layout's address and parses them from the RSDP, as Linux would
// find them (the RSDP copy handed to the parser is read from guest memory).
Built build_and_parse(SparseGuestRam& ram, const AcpiPlatform& platform) {
    Built b;
    b.result = build_acpi_tables(ram, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform);
    EXPECT_TRUE(b.result.ok) << b.result.error;
    if (!b.result.ok) return b;
    const std::vector<u8> rsdp = ram.bytes(b.result.rsdp_gpa, 36);
    GuestAcpiMemory acpi(ram);
    b.parsed = parse_acpi(acpi, rsdp.data(), rsdp.size(), b.info, &b.parse_error);
    EXPECT_TRUE(b.parsed) << b.parse_error;
    return b;
}

AcpiPlatform platform_with(u32 vcpus) {
    AcpiPlatform p;
    p.vcpu_count = vcpus;
    return p;
}

TEST(GuestAcpiTables, RsdpIsWhereTheLegacyScanLooksWithBothChecksums) {
    SparseGuestRam ram(kRam);
    Built b = build_and_parse(ram, platform_with(1));
    ASSERT_TRUE(b.parsed);
    EXPECT_EQ(b.result.rsdp_gpa, kGuestAcpiTablesGpa);
    EXPECT_EQ(b.result.rsdp_gpa % 16, 0u);
    EXPECT_GE(b.result.rsdp_gpa, 0xE0000u);
    EXPECT_LT(b.result.rsdp_gpa + 36, 0x100000u);
    const std::vector<u8> rsdp = ram.bytes(b.result.rsdp_gpa, 36);
    EXPECT_EQ(std::string(rsdp.begin(), rsdp.begin() + 8), "RSD PTR ");
    EXPECT_EQ(rsdp[15], 2);  // revision
    EXPECT_EQ(byte_sum(std::vector<u8>(rsdp.begin(), rsdp.begin() + 20)), 0);
    EXPECT_EQ(byte_sum(rsdp), 0);
    EXPECT_EQ(load<u32>(rsdp, 20), 36u);
    EXPECT_EQ(load<u32>(rsdp, 16), b.result.rsdt_gpa);
    EXPECT_EQ(load<u64>(rsdp, 24), b.result.xsdt_gpa);
    EXPECT_EQ(b.info.rsdp_revision, 2);
    EXPECT_TRUE(b.info.using_xsdt);
    EXPECT_EQ(b.info.xsdt_address, b.result.xsdt_gpa);
    EXPECT_EQ(b.info.rsdt_address, b.result.rsdt_gpa);
}

TEST(GuestAcpiTables, ParserFindsEveryTableWithoutWarnings) {
    SparseGuestRam ram(kRam);
    Built b = build_and_parse(ram, platform_with(2));
    ASSERT_TRUE(b.parsed);
    EXPECT_EQ(b.info.warning_count, 0u) << b.info.warnings[0];
    for (const char* sig : {"XSDT", "FACP", "APIC", "DSDT", "FACS", "RSDT"}) {
        EXPECT_NE(find_acpi_table(b.info, sig), nullptr) << sig;
    }
    EXPECT_EQ(b.info.table_count, 6u);
    EXPECT_TRUE(b.info.has_dsdt);
    EXPECT_EQ(b.info.dsdt_address, b.result.dsdt_gpa);
    EXPECT_TRUE(b.info.has_facs);
    EXPECT_EQ(b.info.facs_address, b.result.facs_gpa);
    EXPECT_EQ(b.result.facs_gpa % 64, 0u);  // ACPI 5.2.10
    EXPECT_EQ(find_acpi_table(b.info, "FACS")->revision, 2);
    EXPECT_LE(b.result.bytes_used, kGuestAcpiTablesMaxSize);
}

TEST(GuestAcpiTables, EverySdtSumsToZeroAndNamesVireo) {
    SparseGuestRam ram(kRam);
    Built b = build_and_parse(ram, platform_with(4));
    ASSERT_TRUE(b.parsed);
    for (u64 gpa : {b.result.rsdt_gpa, b.result.xsdt_gpa, b.result.fadt_gpa, b.result.madt_gpa, b.result.dsdt_gpa}) {
        const std::vector<u8> t = table_at(ram, gpa);
        EXPECT_EQ(byte_sum(t), 0) << std::string(t.begin(), t.begin() + 4);
        EXPECT_EQ(std::string(t.begin() + 10, t.begin() + 16), "VIREO ");
    }
    // The root tables list the FADT and the MADT, in that order.
    const std::vector<u8> xsdt = table_at(ram, b.result.xsdt_gpa);
    ASSERT_EQ(xsdt.size(), 36u + 16);
    EXPECT_EQ(load<u64>(xsdt, 36), b.result.fadt_gpa);
    EXPECT_EQ(load<u64>(xsdt, 44), b.result.madt_gpa);
    const std::vector<u8> rsdt = table_at(ram, b.result.rsdt_gpa);
    ASSERT_EQ(rsdt.size(), 36u + 8);
    EXPECT_EQ(load<u32>(rsdt, 36), b.result.fadt_gpa);
    EXPECT_EQ(load<u32>(rsdt, 40), b.result.madt_gpa);
}

TEST(GuestAcpiTables, MadtHasOneLapicPerVcpuTheIoApicOverridesAndNmi) {
    for (u32 vcpus : {1u, 2u, 8u, 64u}) {
        SCOPED_TRACE(vcpus);
        SparseGuestRam ram(kRam);
        AcpiPlatform p = platform_with(vcpus);
        if (vcpus > kGuestIoApicId) p.ioapic_id = u8(vcpus);  // the default id is above kMaxVcpus (8) only
        Built b = build_and_parse(ram, p);
        ASSERT_TRUE(b.parsed);
        const AcpiMadt& m = b.info.madt;
        ASSERT_TRUE(m.present);
        EXPECT_EQ(m.local_apic_address, kGuestLocalApicBase);
        EXPECT_FALSE(m.local_apic_address_overridden);
        EXPECT_TRUE(m.pcat_compat);
        ASSERT_EQ(m.cpu_count, vcpus);
        EXPECT_EQ(m.unusable_cpu_count, 0u);
        for (u32 i = 0; i < vcpus; ++i) {
            EXPECT_EQ(m.cpus[i].apic_id, i);
            EXPECT_EQ(m.cpus[i].acpi_uid, i);
            EXPECT_TRUE(m.cpus[i].enabled);
            EXPECT_FALSE(m.cpus[i].x2apic);
        }
        ASSERT_EQ(m.ioapic_count, 1u);
        EXPECT_EQ(m.ioapics[0].id, p.ioapic_id);
        EXPECT_EQ(m.ioapics[0].address, kGuestIoApicBase);
        EXPECT_EQ(m.ioapics[0].gsi_base, 0u);

        ASSERT_EQ(m.override_count, 2u);
        EXPECT_EQ(m.overrides[0].bus, 0);
        EXPECT_EQ(m.overrides[0].source, 0);
        EXPECT_EQ(m.overrides[0].gsi, 2u);
        EXPECT_EQ(m.overrides[0].flags & AcpiInterruptOverride::kTriggerMask, AcpiInterruptOverride::kTriggerEdge);
        EXPECT_EQ(m.overrides[0].flags & AcpiInterruptOverride::kPolarityMask,
                  AcpiInterruptOverride::kPolarityActiveHigh);
        EXPECT_EQ(m.overrides[1].source, kAcpiSciIrq);
        EXPECT_EQ(m.overrides[1].gsi, kAcpiSciIrq);
        EXPECT_EQ(m.overrides[1].flags & AcpiInterruptOverride::kTriggerMask, AcpiInterruptOverride::kTriggerLevel);
        EXPECT_EQ(m.overrides[1].flags & AcpiInterruptOverride::kPolarityMask,
                  AcpiInterruptOverride::kPolarityActiveHigh);

        ASSERT_EQ(m.local_apic_nmi_count, 1u);
        EXPECT_TRUE(m.local_apic_nmis[0].all_processors);
        EXPECT_EQ(m.local_apic_nmis[0].lint, 1);

        EXPECT_EQ(table_at(ram, b.result.madt_gpa).size(), 44u + 8 * vcpus + 12 + 2 * 10 + 6);
    }
}

TEST(GuestAcpiTables, FadtDescribesThePmBlocksResetAndDsdt) {
    SparseGuestRam ram(kRam);
    Built b = build_and_parse(ram, platform_with(1));
    ASSERT_TRUE(b.parsed);
    const AcpiFadt& f = b.info.fadt;
    ASSERT_TRUE(f.present);
    EXPECT_EQ(f.revision, 6);
    EXPECT_EQ(f.length, 276u);
    EXPECT_FALSE(f.hardware_reduced);
    EXPECT_EQ(f.sci_interrupt, 9);
    EXPECT_TRUE(f.pm_timer_present);
    EXPECT_EQ(f.pm_timer_port, 0x608);
    EXPECT_EQ(f.pm_timer.bit_width, 32);
    EXPECT_FALSE(f.pm_timer_32bit);
    EXPECT_EQ(f.pm1a_control_port, 0x604);
    EXPECT_EQ(f.pm1a_control.bit_width, 16);
    EXPECT_EQ(f.pm1b_control_port, 0);
    EXPECT_EQ(f.century, 0x32);
    EXPECT_TRUE(f.iapc_boot_arch_valid);
    EXPECT_TRUE(f.legacy_devices);
    EXPECT_TRUE(f.has_8042);
    EXPECT_FALSE(f.vga_not_present);
    EXPECT_FALSE(f.cmos_rtc_not_present);
    EXPECT_TRUE(f.reset_supported);
    EXPECT_EQ(f.reset_register.space_id, AcpiGenericAddress::kSystemIo);
    EXPECT_EQ(f.reset_register.address, 0xCF9u);
    EXPECT_EQ(f.reset_register.bit_width, 8);
    EXPECT_EQ(f.reset_value, 0x06);
    EXPECT_EQ(f.dsdt_address, b.result.dsdt_gpa);
    EXPECT_EQ(f.facs_address, b.result.facs_gpa);

    // Fields the parser does not decode (ACPI 5.2.9 Table 5.9 offsets).
    const std::vector<u8> t = table_at(ram, b.result.fadt_gpa);
    EXPECT_EQ(load<u32>(t, 36), b.result.facs_gpa);  // FIRMWARE_CTRL == X_FIRMWARE_CTRL
    EXPECT_EQ(load<u64>(t, 132), b.result.facs_gpa);
    EXPECT_EQ(load<u32>(t, 40), b.result.dsdt_gpa);  // DSDT == X_DSDT
    EXPECT_EQ(load<u64>(t, 140), b.result.dsdt_gpa);
    EXPECT_EQ(load<u32>(t, 48), 0u);  // SMI_CMD: ACPI-only platform
    EXPECT_EQ(load<u32>(t, 56), 0x600u);
    EXPECT_EQ(load<u32>(t, 64), 0x604u);
    EXPECT_EQ(load<u32>(t, 76), 0x608u);
    EXPECT_EQ(load<u32>(t, 80), 0u);    // no GPE0 block
    EXPECT_EQ(t[88], 4);                // PM1_EVT_LEN
    EXPECT_EQ(t[89], 2);                // PM1_CNT_LEN
    EXPECT_EQ(t[91], 4);                // PM_TMR_LEN
    EXPECT_GT(load<u16>(t, 96), 100);   // no C2
    EXPECT_GT(load<u16>(t, 98), 1000);  // no C3
    const u32 flags = load<u32>(t, 112);
    EXPECT_EQ(flags, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10));  // WBINVD PROC_C1 SLP_BUTTON RESET_REG_SUP
    // X_PM1a_EVT_BLK: system I/O, 32 bits, at the PM1a event port.
    EXPECT_EQ(t[148], 1);
    EXPECT_EQ(t[149], 32);
    EXPECT_EQ(load<u64>(t, 152), 0x600u);
    EXPECT_EQ(t[172], 1);
    EXPECT_EQ(t[173], 16);
    EXPECT_EQ(load<u64>(t, 176), 0x604u);
    EXPECT_EQ(t[208], 1);
    EXPECT_EQ(t[209], 32);
    EXPECT_EQ(load<u64>(t, 212), 0x608u);
}

TEST(GuestAcpiTables, PmPortsAndTimerWidthComeFromThePlatform) {
    SparseGuestRam ram(kRam);
    AcpiPlatform p = platform_with(1);
    p.pm.pm1a_event = 0xB000;
    p.pm.pm1a_control = 0xB004;
    p.pm.pm_timer = 0xB008;
    p.pm.pm_timer_32bit = true;
    Built b = build_and_parse(ram, p);
    ASSERT_TRUE(b.parsed);
    EXPECT_EQ(b.info.fadt.pm_timer_port, 0xB008);
    EXPECT_TRUE(b.info.fadt.pm_timer_32bit);
    EXPECT_EQ(b.info.fadt.pm1a_control_port, 0xB004);
    const std::vector<u8> t = table_at(ram, b.result.fadt_gpa);
    EXPECT_EQ(load<u32>(t, 56), 0xB000u);
    EXPECT_EQ(load<u64>(t, 152), 0xB000u);
}

TEST(GuestAcpiTables, WithoutAPmTimerTheFadtHasNone) {
    SparseGuestRam ram(kRam);
    AcpiPlatform p = platform_with(1);
    p.pm.pm_timer = 0;
    Built b = build_and_parse(ram, p);
    ASSERT_TRUE(b.parsed);
    EXPECT_FALSE(b.info.fadt.pm_timer_present);
    const std::vector<u8> t = table_at(ram, b.result.fadt_gpa);
    EXPECT_EQ(t[91], 0);  // PM_TMR_LEN
}

// A small AML reader for what the DSDT holds (ACPI 20.2): enough to walk the objects and
// check every PkgLength against the bytes it covers.
class AmlReader {
public:
    AmlReader(const std::vector<u8>& aml, usize start, usize end) : aml_(aml), at_(start), end_(end) {}
    bool done() const { return at_ >= end_; }
    usize position() const { return at_; }
    u8 byte() { return at_ < end_ ? aml_[at_++] : (failed_ = true, 0); }
    std::string name_seg() {
        std::string s;
        for (int i = 0; i < 4; ++i) s += char(byte());
        return s;
    }
    // Returns the end (exclusive) of the object whose PkgLength starts here (20.2.4).
    usize pkg_end() {
        const usize start = at_;
        const u8 lead = byte();
        const unsigned follow = lead >> 6;
        u64 length = follow == 0 ? (lead & 0x3F) : (lead & 0x0F);
        for (unsigned i = 0; i < follow; ++i) length |= u64(byte()) << (4 + 8 * i);
        return start + length;
    }
    // ByteConst, WordConst, DWordConst, ZeroOp, OneOp.
    u64 integer() {
        const u8 op = byte();
        switch (op) {
            case 0x00: return 0;
            case 0x01: return 1;
            case 0x0A: return byte();
            case 0x0B: return byte() | u64(byte()) << 8;
            case 0x0C: {
                u64 v = 0;
                for (int i = 0; i < 4; ++i) v |= u64(byte()) << (8 * i);
                return v;
            }
            default: failed_ = true; return ~0ull;
        }
    }
    bool failed() const { return failed_; }

private:
    const std::vector<u8>& aml_;
    usize at_, end_;
    bool failed_ = false;
};

TEST(GuestAcpiTables, DsdtHoldsTheS5PackageAtTheRoot) {
    SparseGuestRam ram(kRam);
    Built b = build_and_parse(ram, platform_with(1));
    ASSERT_TRUE(b.parsed);
    const std::vector<u8> dsdt = table_at(ram, b.result.dsdt_gpa);
    ASSERT_EQ(dsdt.size(), 36u + 14);
    EXPECT_EQ(std::string(dsdt.begin(), dsdt.begin() + 4), "DSDT");
    EXPECT_EQ(dsdt[8], 2);  // revision 2: 64-bit integers
    EXPECT_EQ(byte_sum(dsdt), 0);

    AmlReader r(dsdt, 36, dsdt.size());
    EXPECT_EQ(r.byte(), 0x08);  // NameOp
    EXPECT_EQ(r.name_seg(), "_S5_");
    EXPECT_EQ(r.byte(), 0x12);  // PackageOp
    const usize package_end = r.pkg_end();
    EXPECT_EQ(package_end, dsdt.size());
    EXPECT_EQ(r.byte(), 4);                 // NumElements
    EXPECT_EQ(r.integer(), kAcpiSlpTypS5);  // SLP_TYPa
    EXPECT_EQ(r.integer(), kAcpiSlpTypS5);  // SLP_TYPb
    EXPECT_EQ(r.integer(), 0u);
    EXPECT_EQ(r.integer(), 0u);
    EXPECT_TRUE(r.done());
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(kAcpiSlpTypS5, 5);
}

// One resource descriptor of a ResourceTemplate (ACPI 6.4): small items have the type in
// bits 6:3 and the length in bits 2:0 of the tag; large items (bit 7) a 7-bit type and a
// 16-bit length after the tag.
struct ResourceDescriptor {
    bool large;
    u8 type;
    std::vector<u8> body;
};

std::vector<ResourceDescriptor> parse_resources(const std::vector<u8>& buffer) {
    std::vector<ResourceDescriptor> out;
    usize at = 0;
    while (at < buffer.size()) {
        const u8 tag = buffer[at];
        ResourceDescriptor d{};
        usize length, header;
        if (tag & 0x80) {
            d.large = true;
            d.type = tag & 0x7F;
            EXPECT_LE(at + 3, buffer.size());
            length = buffer[at + 1] | usize(buffer[at + 2]) << 8;
            header = 3;
        } else {
            d.type = (tag >> 3) & 0xF;
            length = tag & 7;
            header = 1;
        }
        EXPECT_LE(at + header + length, buffer.size()) << "descriptor runs past the buffer";
        if (at + header + length > buffer.size()) break;
        d.body.assign(buffer.begin() + long(at + header), buffer.begin() + long(at + header + length));
        out.push_back(d);
        at += header + length;
        if (!d.large && d.type == 0xF) break;  // End Tag
    }
    EXPECT_EQ(at, buffer.size()) << "bytes after the End Tag";
    return out;
}

// Word (large type 8) and DWord (type 7) Address Space Descriptors: resource type,
// general flags, then granularity/min/max/translation/length of 2 or 4 bytes each.
struct AddressSpace {
    u8 resource_type, general_flags, type_flags;
    u64 min, max, length;
};
AddressSpace address_space(const ResourceDescriptor& d) {
    const usize width = d.type == 8 ? 2 : 4;
    auto field = [&](usize index) {
        u64 v = 0;
        std::memcpy(&v, &d.body[3 + index * width], width);
        return v;
    };
    EXPECT_EQ(d.body.size(), 3 + 5 * width);
    return {d.body[0], d.body[1], d.body[2], field(1), field(2), field(4)};
}

TEST(GuestAcpiTables, DsdtPciHostBridgeHasExactPackageLengthsAndResources) {
    SparseGuestRam ram(kRam);
    AcpiPlatform p = platform_with(1);
    p.pci_host_bridge = true;
    Built b = build_and_parse(ram, p);
    ASSERT_TRUE(b.parsed);
    const std::vector<u8> dsdt = table_at(ram, b.result.dsdt_gpa);
    ASSERT_EQ(dsdt.size(), 36u + 14 + 142);
    EXPECT_EQ(byte_sum(dsdt), 0);

    const usize scope_at = 36 + 14;  // after Name(_S5_, ...)
    AmlReader r(dsdt, scope_at, dsdt.size());
    EXPECT_EQ(r.byte(), 0x10);  // ScopeOp
    EXPECT_EQ(r.pkg_end(), dsdt.size());
    EXPECT_EQ(r.byte(), '\\');
    EXPECT_EQ(r.name_seg(), "_SB_");
    EXPECT_EQ(r.byte(), 0x5B);  // ExtOpPrefix
    EXPECT_EQ(r.byte(), 0x82);  // DeviceOp
    EXPECT_EQ(r.pkg_end(), dsdt.size());
    EXPECT_EQ(r.name_seg(), "PCI0");
    const std::vector<std::pair<std::string, u64>> expected = {
        {"_HID", 0x030AD041}, {"_CID", 0x030AD041}, {"_UID", 0}, {"_BBN", 0}};
    for (const auto& [name, value] : expected) {
        EXPECT_EQ(r.byte(), 0x08) << name;
        EXPECT_EQ(r.name_seg(), name);
        EXPECT_EQ(r.integer(), value) << name;
    }
    EXPECT_EQ(r.byte(), 0x08);
    EXPECT_EQ(r.name_seg(), "_CRS");
    EXPECT_EQ(r.byte(), 0x11);  // BufferOp
    const usize buffer_end = r.pkg_end();
    EXPECT_EQ(buffer_end, dsdt.size());  // the _CRS closes the Device and the Scope too
    const u64 buffer_size = r.integer();
    ASSERT_EQ(r.position() + buffer_size, buffer_end);
    ASSERT_FALSE(r.failed());
    const std::vector<u8> crs(dsdt.begin() + long(r.position()), dsdt.begin() + long(buffer_end));

    const std::vector<ResourceDescriptor> d = parse_resources(crs);
    ASSERT_EQ(d.size(), 6u);
    // Bus numbers 0-0xFF.
    ASSERT_TRUE(d[0].large && d[0].type == 8);
    AddressSpace a = address_space(d[0]);
    EXPECT_EQ(a.resource_type, 2);
    EXPECT_EQ(a.general_flags, 0x0C);  // producer, MinFixed, MaxFixed
    EXPECT_EQ(a.min, 0u);
    EXPECT_EQ(a.max, 0xFFu);
    EXPECT_EQ(a.length, 0x100u);
    // The configuration ports, consumed: IO(Decode16, 0xCF8, 0xCF8, 1, 8).
    ASSERT_TRUE(!d[1].large && d[1].type == 0x8);
    EXPECT_EQ(d[1].body, (std::vector<u8>{0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08}));
    // I/O windows around them.
    for (usize i : {usize(2), usize(3)}) {
        ASSERT_TRUE(d[i].large && d[i].type == 8);
        a = address_space(d[i]);
        EXPECT_EQ(a.resource_type, 1);
        EXPECT_EQ(a.general_flags, 0x0C);
        EXPECT_EQ(a.type_flags, 0x03);  // entire range
        EXPECT_EQ(a.max - a.min + 1, a.length);
    }
    EXPECT_EQ(address_space(d[2]).min, 0u);
    EXPECT_EQ(address_space(d[2]).max, 0xCF7u);
    EXPECT_EQ(address_space(d[3]).min, 0xD00u);
    EXPECT_EQ(address_space(d[3]).max, 0xFFFFu);
    // The MMIO window: the hole below the I/O APIC.
    ASSERT_TRUE(d[4].large && d[4].type == 7);
    a = address_space(d[4]);
    EXPECT_EQ(a.resource_type, 0);
    EXPECT_EQ(a.type_flags & 1, 1);  // read/write
    EXPECT_EQ(a.min, kGuestMmioHoleStart);
    EXPECT_EQ(a.max, kGuestIoApicBase - 1);
    EXPECT_EQ(a.max - a.min + 1, a.length);
    EXPECT_LT(a.max, kGuestIoApicBase);
    // End Tag.
    ASSERT_TRUE(!d[5].large && d[5].type == 0xF);
    EXPECT_EQ(d[5].body.size(), 1u);
}

TEST(GuestAcpiTables, EisaIdOfPnp0a03IsComputedAsTheSpecSays) {
    // ACPI 19.6.35 EISAID: 'P','N','P' in 5 bits each (A = 1), then the hex product id,
    // stored as the big-endian bytes 41 D0 0A 03 of the 32-bit integer.
    const u32 letters = (u32('P' - '@') << 10) | (u32('N' - '@') << 5) | u32('P' - '@');
    const u32 id = ((letters >> 8) & 0xFF) | ((letters & 0xFF) << 8) | (0x0Au << 16) | (0x03u << 24);
    EXPECT_EQ(id, 0x030AD041u);
    const AmlFragment pci = guest_dsdt_pci_host_bridge();
    EXPECT_EQ(pci.length, 142u);
}

TEST(GuestAcpiTables, MaximumVcpuCountStillFitsTheArea) {
    SparseGuestRam ram(kRam);
    const AcpiBuildResult r = build_acpi_tables(ram, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, [] {
        AcpiPlatform p;
        p.vcpu_count = kAcpiMaxVcpus;
        p.ioapic_id = 255;
        return p;
    }());
    ASSERT_TRUE(r.ok) << r.error;
    const std::vector<u8> madt = table_at(ram, r.madt_gpa);
    EXPECT_EQ(byte_sum(madt), 0);
    EXPECT_EQ(madt.size(), 44u + 8 * 255 + 12 + 20 + 6);
}

TEST(GuestAcpiTables, TablesThatDoNotFitAreAnErrorAndNothingIsWritten) {
    SparseGuestRam ram(kRam);
    const AcpiBuildResult r = build_acpi_tables(ram, kGuestAcpiTablesGpa, 256, platform_with(1));
    EXPECT_FALSE(r.ok);
    ASSERT_NE(r.error, nullptr);
    EXPECT_NE(std::string(r.error).find("do not fit"), std::string::npos) << r.error;
    EXPECT_EQ(ram.writes, 0u);

    // Exactly the size needed is enough.
    const AcpiBuildResult full = build_acpi_tables(ram, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform_with(1));
    ASSERT_TRUE(full.ok);
    SparseGuestRam again(kRam);
    EXPECT_TRUE(build_acpi_tables(again, kGuestAcpiTablesGpa, full.bytes_used, platform_with(1)).ok);
    EXPECT_FALSE(build_acpi_tables(again, kGuestAcpiTablesGpa, full.bytes_used - 1, platform_with(1)).ok);
}

TEST(GuestAcpiTables, RejectsPlatformsItCannotDescribe) {
    auto error_for = [](u64 base, u64 size, const AcpiPlatform& p) -> std::string {
        SparseGuestRam ram(kRam);
        const AcpiBuildResult r = build_acpi_tables(ram, base, size, p);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(ram.writes, 0u);
        return r.error != nullptr ? r.error : "";
    };
    EXPECT_NE(error_for(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform_with(0)).find("at least one"),
              std::string::npos);
    EXPECT_NE(error_for(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform_with(256)).find("xAPIC"),
              std::string::npos);
    AcpiPlatform collide = platform_with(9);  // APIC ids 0..8 include the I/O APIC's 8
    EXPECT_NE(error_for(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, collide).find("collides"), std::string::npos);
    EXPECT_NE(error_for(kGuestAcpiTablesGpa + 8, kGuestAcpiTablesMaxSize, platform_with(1)).find("16-byte"),
              std::string::npos);
    EXPECT_NE(error_for(4 * GiB, kGuestAcpiTablesMaxSize, platform_with(1)).find("below 4 GiB"), std::string::npos);
    AcpiPlatform no_pm = platform_with(1);
    no_pm.pm.pm1a_control = 0;
    EXPECT_NE(error_for(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, no_pm).find("PM1a"), std::string::npos);
    AcpiPlatform past_ports = platform_with(1);
    past_ports.pm.pm_timer = 0xFFFE;
    EXPECT_NE(error_for(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, past_ports).find("0xFFFF"), std::string::npos);
}

TEST(GuestAcpiTables, RefusedGuestMemoryIsAnError) {
    SparseGuestRam ram(kRam);
    ram.refuse(kGuestAcpiTablesGpa + 0x100, 0x10);
    const AcpiBuildResult r = build_acpi_tables(ram, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform_with(1));
    EXPECT_FALSE(r.ok);
    ASSERT_NE(r.error, nullptr);
    EXPECT_NE(std::string(r.error).find("refused"), std::string::npos);
}

TEST(GuestAcpiTables, AgreesWithThePmRegisterModel) {
    EXPECT_EQ(kAcpiSlpTypS5, AcpiPmBlock::kSlpTypS5);
    EXPECT_EQ(kAcpiSciIrq, AcpiPmBlock::kSciIrq);
    const AcpiPmPorts defaults;
    EXPECT_EQ(defaults.pm1a_event, AcpiPmBlock::kDefaultBase + AcpiPmBlock::kPm1aEvtOffset);
    EXPECT_EQ(defaults.pm1a_control, AcpiPmBlock::kDefaultBase + AcpiPmBlock::kPm1aCntOffset);
    EXPECT_EQ(defaults.pm_timer, AcpiPmBlock::kDefaultBase + AcpiPmBlock::kPmTmrOffset);
    EXPECT_EQ(kAcpiPm1EventLength, AcpiPmBlock::kPm1EvtLen);
    EXPECT_EQ(kAcpiPm1ControlLength, AcpiPmBlock::kPm1CntLen);
    EXPECT_EQ(kAcpiPmTimerLength, AcpiPmBlock::kPmTmrLen);
    EXPECT_FALSE(defaults.pm_timer_32bit);  // the model's timer is 24 bits
}

// ACPICA's own disassembler and compiler (iasl, Debian's acpica-tools), when installed:
// every table disassembles without complaint, and the DSDT recompiles with no errors,
// warnings or remarks.
std::string run(const std::string& command) {
    std::string output;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return "popen failed";
    char line[512];
    while (fgets(line, sizeof line, pipe)) output += line;
    const int status = pclose(pipe);
    if (status != 0) output += "\nexit status " + std::to_string(status);
    return output;
}

TEST(GuestAcpiTables, IaslAcceptsEveryTable) {
    if (std::system("command -v iasl >/dev/null 2>&1") != 0) GTEST_SKIP() << "iasl (acpica-tools) not installed";
    SparseGuestRam ram(kRam);
    AcpiPlatform p = platform_with(4);
    p.pci_host_bridge = true;
    const AcpiBuildResult r = build_acpi_tables(ram, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, p);
    ASSERT_TRUE(r.ok) << r.error;
    char dir_template[] = "/tmp/vireo-acpi-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const std::vector<std::pair<std::string, std::vector<u8>>> tables = {
        {"dsdt", table_at(ram, r.dsdt_gpa)}, {"facp", table_at(ram, r.fadt_gpa)}, {"apic", table_at(ram, r.madt_gpa)},
        {"xsdt", table_at(ram, r.xsdt_gpa)}, {"rsdt", table_at(ram, r.rsdt_gpa)}, {"facs", ram.bytes(r.facs_gpa, 64)}};
    for (const auto& [name, bytes] : tables) {
        const std::string file = dir + "/" + name + ".dat";
        FILE* out = fopen(file.c_str(), "wb");
        ASSERT_NE(out, nullptr);
        fwrite(bytes.data(), 1, bytes.size(), out);
        fclose(out);
        const std::string log = run("cd " + dir + " && iasl -d " + name + ".dat");
        EXPECT_EQ(log.find("exit status"), std::string::npos) << name << ":\n" << log;
        for (const char* bad : {"Warning", "Error", "Invalid", "Incorrect"}) {
            EXPECT_EQ(log.find(bad), std::string::npos) << name << ":\n" << log;
        }
    }
    const std::string compiled = run("cd " + dir + " && iasl -p recompiled dsdt.dsl");
    EXPECT_NE(compiled.find("0 Errors, 0 Warnings, 0 Remarks"), std::string::npos) << compiled;
    std::string disassembly;
    {
        std::ifstream dsl(dir + "/dsdt.dsl");
        disassembly.assign(std::istreambuf_iterator<char>(dsl), std::istreambuf_iterator<char>());
    }
    for (const char* text : {"Name (_S5, Package (0x04)", "Device (PCI0)", "EisaId (\"PNP0A03\")",
                             "WordBusNumber (ResourceProducer", "0xFEBFFFFF"}) {
        EXPECT_NE(disassembly.find(text), std::string::npos) << text << "\n" << disassembly;
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
