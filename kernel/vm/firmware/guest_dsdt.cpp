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
// PkgLength (20.2.4): with bits 7:6 of the lead byte clear it is that single byte, 0..63,
// and counts itself plus everything up to the end of the object. Every object here is
// shorter than 64 bytes, so every PkgLength is one byte.

// Name(_S5_, Package(4) {5, 5, 0, 0}) at the root; ACPI 7.4.2: element 0 is SLP_TYPa,
// element 1 SLP_TYPb, the rest reserved.
constexpr u8 kS5Package[] = {
    0x08, '_',           'S', '5', '_',  // Name(\_S5_, ...)
    0x12, 0x08,                          // Package, PkgLength 8 = this byte + NumElements + 6 element bytes
    0x04,                                // NumElements 4
    0x0A, kAcpiSlpTypS5,                 // SLP_TYPa (BytePrefix: 5 is no ZeroOp/OneOp)
    0x0A, kAcpiSlpTypS5,                 // SLP_TYPb
    0x00,                                // reserved (ZeroOp)
    0x00,                                // reserved (ZeroOp)
};
static_assert(sizeof kS5Package == 14);

// EisaId("PNP0A03") (ACPI 19.6.35): three letters in 5 bits each ('P' = 0x10, 'N' = 0x0E,
// 'P' = 0x10 -> 0b0_10000_01110_10000 = 0x41D0), then the product id 0x0A03, stored as
// these four bytes in this order (the DWord 0x030AD041).
#define VIREO_EISA_PNP0A03 0x41, 0xD0, 0x0A, 0x03

constexpr u8 kPciHostBridge[] = {
    0x10, 0x2D,  // Scope, PkgLength 45 = 46 bytes of the object - ScopeOp
    0x5C, '_',
    'S',  'B',
    '_',  //   \_SB_
    0x5B, 0x82,
    0x25,  //   Device, PkgLength 37 = 39 bytes of the object - 2-byte DeviceOp
    'P',  'C',
    'I',  '0',  //     PCI0
    0x08, '_',
    'H',  'I',
    'D',                       //     Name(_HID,
    0x0C, VIREO_EISA_PNP0A03,  //          EisaId("PNP0A03"))  PCI bus (ACPI 6.1.5)
    0x08, '_',
    'C',  'I',
    'D',                       //     Name(_CID,
    0x0C, VIREO_EISA_PNP0A03,  //          EisaId("PNP0A03"))
    0x08, '_',
    'U',  'I',
    'D',  0x00,  //     Name(_UID, Zero)  the first (only) host bridge
    0x08, '_',
    'B',  'B',
    'N',  0x00,  //     Name(_BBN, Zero)  its bus number (ACPI 6.5.5)
};
static_assert(sizeof kPciHostBridge == 46);

#undef VIREO_EISA_PNP0A03

}  // namespace

AmlFragment guest_dsdt_s5_package() { return {kS5Package, sizeof kS5Package}; }

AmlFragment guest_dsdt_pci_host_bridge() { return {kPciHostBridge, sizeof kPciHostBridge}; }
