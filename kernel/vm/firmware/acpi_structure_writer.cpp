#include "kernel/vm/firmware/acpi_structure_writer.hpp"

namespace {

// Identification in every header (ACPI 5.2.6): OEMID (6 bytes), OEM Revision, Creator ID
// (4), Creator Revision. Space padded, no NUL.
constexpr char kOemId[6] = {'V', 'I', 'R', 'E', 'O', ' '};
constexpr u32 kOemRevision = 1;
constexpr char kCreatorId[4] = {'V', 'R', 'E', 'O'};
constexpr u32 kCreatorRevision = 1;

constexpr u8 kRsdpRevision = 2;  // ACPI 2.0+: Length, XsdtAddress and the extended checksum exist
constexpr u32 kLocalApicEnabled = 1u << 0;

}  // namespace

void write_acpi_sdt_header(GuestMemoryWriter& w, const char* signature, u8 revision, const char* oem_table_id) {
    w.reset_sum();
    w.bytes(signature, 4);
    w.u32_le(0);  // Length: patched by finish_acpi_sdt
    w.u8_le(revision);
    w.u8_le(0);  // Checksum: patched by finish_acpi_sdt
    w.bytes(kOemId, sizeof kOemId);
    w.bytes(oem_table_id, 8);
    w.u32_le(kOemRevision);
    w.bytes(kCreatorId, sizeof kCreatorId);
    w.u32_le(kCreatorRevision);
}

void finish_acpi_sdt(GuestMemoryWriter& w, u64 start) {
    const u32 length = u32(w.position() - start);
    w.patch(start + 4, &length, 4);
    const u8 checksum = u8(0 - w.sum());
    w.patch(start + 9, &checksum, 1);
}

// ACPI 5.2.5.3: Signature, Checksum over the first 20 bytes (the ACPI 1.0 part), OEMID,
// Revision, RsdtAddress, Length, XsdtAddress, Extended Checksum over all 36, Reserved.
void write_acpi_rsdp(GuestMemoryWriter& w, u32 rsdt, u64 xsdt) {
    const u64 start = w.position();
    w.reset_sum();
    w.bytes("RSD PTR ", 8);
    w.u8_le(0);  // Checksum
    w.bytes(kOemId, sizeof kOemId);
    w.u8_le(kRsdpRevision);
    w.u32_le(rsdt);
    const u8 checksum = u8(0 - w.sum());
    w.patch(start + 8, &checksum, 1);  // the first 20 bytes now sum to 0
    w.u32_le(u32(kAcpiRsdpLength));
    w.u64_le(xsdt);
    w.u8_le(0);  // Extended Checksum
    w.zeros(3);
    const u8 extended = u8(0 - w.sum());
    w.patch(start + 32, &extended, 1);
}

// 5.2.12.2 Processor Local APIC: Type 0, Length, ACPI Processor UID, APIC ID, Flags.
void write_madt_local_apic(GuestMemoryWriter& w, u8 acpi_uid, u8 apic_id) {
    w.u8_le(0);
    w.u8_le(u8(kMadtLocalApicLength));
    w.u8_le(acpi_uid);
    w.u8_le(apic_id);
    w.u32_le(kLocalApicEnabled);
}

// 5.2.12.3 I/O APIC: Type 1, Length, I/O APIC ID, Reserved, Address, GSI Base.
void write_madt_ioapic(GuestMemoryWriter& w, u8 id, u32 address, u32 gsi_base) {
    w.u8_le(1);
    w.u8_le(u8(kMadtIoApicLength));
    w.u8_le(id);
    w.u8_le(0);
    w.u32_le(address);
    w.u32_le(gsi_base);
}

// 5.2.12.5 Interrupt Source Override: Type 2, Length, Bus, Source, GSI, MPS INTI Flags.
void write_madt_override(GuestMemoryWriter& w, u8 bus, u8 source, u32 gsi, u16 flags) {
    w.u8_le(2);
    w.u8_le(u8(kMadtOverrideLength));
    w.u8_le(bus);
    w.u8_le(source);
    w.u32_le(gsi);
    w.u16_le(flags);
}

// 5.2.12.7 Local APIC NMI: Type 4, Length, ACPI Processor UID, MPS INTI Flags, LINT#.
void write_madt_local_apic_nmi(GuestMemoryWriter& w, u8 acpi_uid, u16 flags, u8 lint) {
    w.u8_le(4);
    w.u8_le(u8(kMadtNmiLength));
    w.u8_le(acpi_uid);
    w.u16_le(flags);
    w.u8_le(lint);
}
