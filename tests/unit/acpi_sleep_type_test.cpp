// \_S5 found in AML: QEMU's DSDTs (tests/fixtures/acpi) and synthetic definition blocks.
#include "drivers/acpi/acpi_sleep_type.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/unit/acpi_fixture.hpp"

namespace {

AcpiSleepType find(const std::vector<u8>& aml) { return acpi_find_s5_in_aml(aml.data(), aml.size()); }

void expect_types(const AcpiSleepType& t, u8 a, u8 b) {
    EXPECT_TRUE(t.found);
    EXPECT_EQ(t.slp_typ_a, a);
    EXPECT_EQ(t.slp_typ_b, b);
}

// Name(_S3, Package(4){1, 1, 0, 0}) and Name(_S5, Package(4){a, b, 0, 0}), as QEMU writes them.
std::vector<u8> qemu_like(u8 a, u8 b) {
    return {0x10, 0x05, 0x5c, 0x00,                                                 // Scope(\)
            0x08, '_',  'S',  '3',  '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00,  // _S3
            0x08, '_',  'S',  '5',  '_', 0x12, 0x08, 0x04, 0x0a, a,    0x0a, b,    0x00, 0x00};
}

TEST(AcpiSleepType, QemuDsdtsSayS5IsZero) {
    for (const char* name : {"qemu-pc-smp1-512m.dump", "qemu-pc-smp2-4g.dump", "qemu-q35-smp4-4g.dump"}) {
        SCOPED_TRACE(name);
        FixtureMemory mem;
        std::string error;
        ASSERT_TRUE(mem.load_dump_file(std::string(VIREO_FIXTURES_DIR) + "/acpi/" + name, &error)) << error;
        auto info = std::make_unique<AcpiInfo>();
        const char* parse_error = nullptr;
        ASSERT_TRUE(parse_acpi(mem, mem.rsdp().data(), mem.rsdp().size(), *info, &parse_error)) << parse_error;
        ASSERT_TRUE(info->has_dsdt);
        // QEMU: Name(_S5, Package(4){Zero, Zero, Zero, Zero}); its _S3 says 1, which
        // must not be taken for S5.
        expect_types(acpi_read_s5(mem, info->dsdt_address), 0, 0);
        // Not a DSDT: nothing.
        EXPECT_FALSE(acpi_read_s5(mem, info->facs_address).found);
        EXPECT_FALSE(acpi_read_s5(mem, 0).found);
    }
}

TEST(AcpiSleepType, IntegerEncodings) {
    expect_types(find(qemu_like(7, 7)), 7, 7);
    expect_types(find(qemu_like(5, 3)), 5, 3);
    // OneOp and ZeroOp, WordPrefix and DWordPrefix.
    expect_types(find({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x01, 0x00, 0x00, 0x00}), 1, 0);
    expect_types(find({0x08, '_', 'S', '5', '_', 0x12, 0x0a, 0x02, 0x0b, 0x06, 0x00, 0x0c, 0x02, 0, 0, 0}), 6, 2);
    expect_types(find({0x08, '_', 'S', '5', '_', 0x12, 0x0c, 0x02, 0x0e, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x00}), 7, 0);
    // Only the 3 bits of the field count.
    expect_types(find({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x0f, 0x0a, 0x09}), 7, 1);
    // One integer: SLP_TYPa in the low byte, SLP_TYPb in the next (ACPICA).
    expect_types(find({0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0b, 0x07, 0x05}), 7, 5);
}

TEST(AcpiSleepType, RootAndParentPrefixes) {
    expect_types(find({0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x07, 0x0a, 0x06}), 7, 6);
    expect_types(find({0x08, 0x5e, 0x5e, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}), 5, 0);
}

TEST(AcpiSleepType, MultiBytePackageLength) {
    // PkgLength 0x41 0x01: two bytes, length 0x1 | (0x01 << 4) = 0x11 (the padding after
    // the elements stays inside the package).
    std::vector<u8> aml = {0x08, '_', 'S', '5', '_', 0x12, 0x41, 0x01, 0x04, 0x0a, 0x07, 0x0a, 0x07, 0x00, 0x00};
    aml.resize(aml.size() + 8, 0);
    expect_types(find(aml), 7, 7);
    // Bits 5:4 of a multi-byte lead byte must be clear.
    aml[6] = 0x71;
    EXPECT_FALSE(find(aml).found);
}

TEST(AcpiSleepType, OtherUsesOfTheNameAreSkipped) {
    // A method call _S5_ (no NameOp), a string holding the name, then the real object.
    const std::vector<u8> aml = {0x70, '_', 'S', '5', '_', 0x60,        // Store(_S5, Local0)
                                 0x0d, '_', 'S', '5', '_', 0x00,        // "_S5_"
                                 0x08, '_', 'S', '5', '_', 0x0a, 0x03,  // Name(_S5, 3): no package
                                 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x06, 0x0a, 0x04};
    expect_types(find(aml), 6, 4);
}

TEST(AcpiSleepType, MalformedPackagesAreNotFound) {
    EXPECT_FALSE(find({}).found);
    EXPECT_FALSE(acpi_find_s5_in_aml(nullptr, 10).found);
    // No \_S5 at all (only \_S3).
    EXPECT_FALSE(find({0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00}).found);
    // The package runs past the end of the AML.
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_', 0x12, 0x20, 0x04, 0x0a, 0x07, 0x0a, 0x07}).found);
    // Cut inside a BytePrefix constant.
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x0a, 0x07, 0x0a}).found);
    // No elements, a non-integer element, a PkgLength shorter than itself.
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_', 0x12, 0x02, 0x00}).found);
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0d, 'a', 0x00, 0x00}).found);
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_', 0x12, 0x40, 0x00}).found);
    // Name at the very end.
    EXPECT_FALSE(find({0x08, '_', 'S', '5', '_'}).found);
}

}  // namespace
