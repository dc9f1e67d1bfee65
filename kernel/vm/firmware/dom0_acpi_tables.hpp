// The ACPI tables of Domain-0, the privileged Linux domain that owns the machine's devices
// (ACPI Specification 6.5, "ACPI 5.2.x" below). dom0's RAM is identity-mapped, so it reads
// the host's own tables in place: the DSDT and SSDTs (the real PCI buses, _PRT interrupt
// routing, power management), the FADT and FACS, the MCFG and the rest. Only the root is
// new: an RSDP and an XSDT (and an RSDT when every address fits in 32 bits) that list the
// host's tables by their physical addresses, minus those Vireo keeps for itself (the HPET;
// the IOMMUs' DMAR and IVRS), with a new MADT in place of the host's: dom0's vCPUs and
// Vireo's virtual I/O APIC, sitting where the host's first one is and delivering the same
// GSIs, so the host's interrupt source overrides and _PRT hold as they are. Pure logic;
// unit-tested by feeding the result, beside real host tables, back through drivers/acpi.
#pragma once

#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/types.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "mm/guest_page_walk.hpp"

struct Dom0AcpiConfig {
    static constexpr usize kMaxDroppedSignatures = 8;
    // An I/O APIC's version register gives its Maximum Redirection Entry (the last pin's
    // index) in 8 bits (Intel 82093AA datasheet, 3.2.2), so it has at most 256 pins.
    static constexpr u32 kMaxIoApicPins = 256;

    u32 vcpu_count = 1;  // local APIC id = ACPI processor UID = vCPU index, 0..vcpu_count-1
    u32 local_apic_address = u32(kGuestLocalApicBase);
    // The virtual I/O APIC: its id must differ from every local APIC id; its address is the
    // host's first I/O APIC's (AcpiMadt::ioapics[0].address), so that the device dom0
    // finds is where the platform's description (the DSDT's resources) says it is.
    u8 ioapic_id = kGuestIoApicId;
    u32 ioapic_address = 0;
    u32 ioapic_gsi_base = 0;
    u32 ioapic_pins = 24;  // 82093AA: 24 redirection entries
    // Host tables left out of dom0's XSDT, by signature. "APIC" is always replaced by the
    // new MADT, listed here or not; every table of a listed signature goes, not only the first.
    char dropped[kMaxDroppedSignatures][5] = {"APIC", "HPET", "DMAR", "IVRS"};
    usize dropped_count = 4;
};

struct Dom0AcpiBuildResult {
    static constexpr usize kMessageLength = 128;

    bool ok = false;
    char error[kMessageLength] = {};  // a sentence when !ok
    u64 rsdp_gpa = 0;                 // = base_gpa; for boot_params.acpi_rsdp_addr
    u64 xsdt_gpa = 0;
    u64 rsdt_gpa = 0;  // 0: no RSDT (a listed table or the area lies above 4 GiB)
    u64 madt_gpa = 0;
    u64 bytes_used = 0;             // from base_gpa, including alignment padding
    usize host_tables_listed = 0;   // host tables dom0's XSDT lists (the new MADT not counted)
    usize host_tables_dropped = 0;  // host tables left out: dropped signatures, the host's
                                    // MADTs, an ignored (malformed) MCFG or a second one
};

// Writes dom0's RSDP (at base_gpa, which must be 16-byte aligned), XSDT, RSDT when possible
// and MADT into guest memory at [base_gpa, base_gpa + max_size). `host` is parse_acpi's
// result for the host's tables (XSDT or RSDT path alike). Nothing is written, and
// result.error says why, when the config is not describable (no vCPU, more than 255, an
// I/O APIC id equal to a local APIC id, no address), when the host has no MADT, a host
// interrupt source override names a GSI the virtual I/O APIC does not have, the host's
// MCFG lists windows Vireo did not record (dom0 would reach them untrapped), the tables do
// not fit, or the area overlaps a host table (the identity map would overwrite it). A
// refused write leaves the area partly written.
Dom0AcpiBuildResult build_dom0_acpi_tables(GuestPhysicalMemory& memory, u64 base_gpa, u64 max_size,
                                           const AcpiInfo& host, const Dom0AcpiConfig& config);
