#include "kernel/vm/firmware/guest_dsdt.hpp"

#include "kernel/vm/firmware/guest_acpi_tables.hpp"

namespace {

// AML encodings used below (ACPI 6.5 20.2):
//   NameOp 0x08 NameSeg DataRefObject          DefName       (20.2.5.1)
//   ScopeOp 0x10 PkgLength NameString TermList  DefScope      (20.2.5.1)
//   ExtOpPrefix 0x5B, DeviceOp 0x82             DefDevice     (20.2.5.2)
//   PackageOp 0x12 PkgLength NumElements PackageElementList   (20.2.5.4)
//   BytePrefix 0x0A ByteData; DWordPrefix 0x0C DWordData; ZeroOp 0x00  (20.2.3)
//   RootChar 0x5C '\'                                         (20.2.2)
// PkgLength (20.2.4) counts itself plus everything up to the end of its object. With bits
// 7:6 of the lead byte clear it is that single byte (0..63); with them = 1 it is two bytes.

// Name(_S5_, Package(4) {5, 5, 0, 0}) at the root; ACPI 7.4.2: element 0 is SLP_TYPa,
// element 1 SLP_TYPb, the rest reserved.
// clang-format off
constexpr u8 kS5Package[] = {
    0x08, '_', 'S', '5', '_',  // Name(\_S5_, ...)
    0x12, 0x08,                // Package, PkgLength 8 = this byte + NumElements + 6 element bytes
    0x04,                      // NumElements 4
    0x0A, kAcpiSlpTypS5,       // SLP_TYPa (BytePrefix: 5 has no ZeroOp/OneOp form)
    0x0A, kAcpiSlpTypS5,       // SLP_TYPb
    0x00,                      // reserved (ZeroOp)
    0x00,                      // reserved (ZeroOp)
};
// clang-format on
static_assert(sizeof kS5Package == 14);

// EisaId("PNP0A03") (ACPI 19.6.35): three letters in 5 bits each ('P' = 0x10, 'N' = 0x0E,
// 'P' = 0x10 -> 0b0_10000_01110_10000 = 0x41D0), then the product id 0x0A03, stored as
// the bytes 41 D0 0A 03 (the DWord 0x030AD041).
//
// The _CRS (ACPI 6.2.2; resource descriptors of 6.4) says what the bridge decodes and
// passes on to bus 0. Without a bus range there Linux logs "[Firmware Bug]: no secondary
// bus range in _CRS" (drivers/acpi/pci_root.c). The windows are those of QEMU's i440fx:
// every I/O port but the configuration ports 0xCF8-0xCFF, which the bridge consumes, and
// the 32-bit MMIO hole up to the I/O APIC, [3 GiB, 0xFEBFFFFF]. Address space descriptors
// have General Flags 0x0C (6.4.3.5.3, Table 6.44): producer, positive decode, min and max
// fixed. Objects longer than 63 bytes take a 2-byte PkgLength (20.2.4): lead byte 0x40 |
// length bits 3:0, then length bits 11:4.
// clang-format off
constexpr u8 kPciHostBridge[] = {
    0x10, 0x4D, 0x08,               // Scope, PkgLength 0x8D = 141 = the 142 bytes of the object - ScopeOp
    0x5C, '_', 'S', 'B', '_',       //   \_SB_
    0x5B, 0x82, 0x44, 0x08,         //   Device, PkgLength 0x84 = 132 = the 134 bytes of the object - DeviceOp
    'P', 'C', 'I', '0',             //     PCI0
    0x08, '_', 'H', 'I', 'D',       //     Name(_HID,
    0x0C, 0x41, 0xD0, 0x0A, 0x03,   //          EisaId("PNP0A03"))  PCI bus (ACPI 6.1.5)
    0x08, '_', 'C', 'I', 'D',       //     Name(_CID,
    0x0C, 0x41, 0xD0, 0x0A, 0x03,   //          EisaId("PNP0A03"))
    0x08, '_', 'U', 'I', 'D', 0x00, //     Name(_UID, Zero)  the first (only) host bridge
    0x08, '_', 'B', 'B', 'N', 0x00, //     Name(_BBN, Zero)  its bus number (ACPI 6.5.5)
    0x08, '_', 'C', 'R', 'S',       //     Name(_CRS,
    0x11, 0x48, 0x05,               //       Buffer, PkgLength 0x58 = 88 = 2 + BufferSize 2 + 84 bytes
    0x0A, 0x54,                     //       BufferSize 84
    // WordBusNumber (6.4.3.5.3): large item 0x88, length 13, type 2; granularity 0,
    // min 0, max 0xFF, translation 0, length 0x100.
    0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01,
    // IO (6.4.2.5): small item 0x47, 16-bit decode, min = max = 0xCF8, alignment 1, length 8.
    0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08,
    // WordIO: type 1, type flags 3 = entire range (ISA and non-ISA); 0x0000-0x0CF7, length 0x0CF8.
    0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03,
    0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C,
    // WordIO: 0x0D00-0xFFFF, length 0xF300.
    0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03,
    0x00, 0x00, 0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3,
    // DWordMemory (6.4.3.5.2): large item 0x87, length 23, type 0, type flags 1 = read/write,
    // non-cacheable; granularity 0, min 0xC0000000, max 0xFEBFFFFF, translation 0, length 0x3EC00000.
    0x87, 0x17, 0x00, 0x00, 0x0C, 0x01,
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xC0,
    0xFF, 0xFF, 0xBF, 0xFE,
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xC0, 0x3E,
    // End Tag (6.4.2.9): checksum 0 means "the resource data is correct".
    0x79, 0x00,
};
// clang-format on
static_assert(sizeof kPciHostBridge == 142);

}  // namespace

AmlFragment guest_dsdt_s5_package() { return {kS5Package, sizeof kS5Package}; }

AmlFragment guest_dsdt_pci_host_bridge() { return {kPciHostBridge, sizeof kPciHostBridge}; }
