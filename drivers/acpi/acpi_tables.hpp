// ACPI static table parsing: RSDP -> RSDT/XSDT -> MADT, FADT, HPET, MCFG (plus where the
// DSDT and FACS live). The hypervisor needs these facts before it can bring up other CPUs,
// route interrupts, pick a timer, reset the machine and trap PCI Express configuration
// space. Nothing here interprets AML.
//
// The same source is built into the freestanding hypervisor and into the host unit tests,
// so physical memory is reached only through AcpiMemory: the hypervisor serves it from
// its own mappings, the tests from synthetic tables and from tables dumped from QEMU.
//
// Spec references are to the ACPI Specification 6.5 ("ACPI 5.2.x") and the IA-PC HPET
// Specification 1.0a ("HPET 3.2.4") and the PCI Firmware Specification 3.0 ("PCI FW 4.1.2").
#pragma once

#include "kernel/types.hpp"

class AcpiMemory {
public:
    // Returns a pointer to `length` bytes of physical memory starting at `phys`, or nullptr
    // if that range is not accessible. The pointer only has to stay valid until the next
    // call to map(), so an implementation may reuse one temporary mapping window; the
    // parser never holds two mappings at once. No alignment is promised: firmware places
    // tables at any byte address, and the parser reads every multi-byte field with memcpy.
    virtual const u8* map(PhysAddr phys, u64 length) = 0;

protected:
    ~AcpiMemory() = default;
};

// ACPI 5.2.3.2 Generic Address Structure (GAS), decoded.
struct AcpiGenericAddress {
    static constexpr u8 kSystemMemory = 0;
    static constexpr u8 kSystemIo = 1;
    static constexpr u8 kPciConfig = 2;

    u8 space_id;  // kSystemMemory, kSystemIo, kPciConfig, ...
    u8 bit_width;
    u8 bit_offset;
    u8 access_size;  // 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword
    u64 address;
};

// One table found through the RSDT/XSDT (or through the FADT, for the DSDT and FACS).
struct AcpiTableRef {
    char signature[5];  // NUL-terminated; bytes outside printable ASCII (and spaces) shown as '?'
    PhysAddr address;
    u32 length;
    u8 revision;     // header Revision; for the FACS, its Version field (ACPI 5.2.10)
    char oem_id[7];  // NUL-terminated, trailing spaces removed; empty for the FACS
};

// A processor from a MADT Processor Local APIC (type 0) or Processor Local x2APIC (type 9)
// structure. Only usable processors are kept (ACPI 5.2.12.2: Enabled or Online Capable).
struct AcpiCpu {
    u32 apic_id;          // local APIC id (xAPIC: 8 bits; x2APIC: 32 bits)
    u32 acpi_uid;         // matches the processor's _UID in the namespace
    bool enabled;         // flags bit 0: usable now
    bool online_capable;  // flags bit 1: not enabled now, but may be brought online later
    bool x2apic;          // described by a type 9 structure
};

// MADT type 1: I/O APIC (ACPI 5.2.12.3).
struct AcpiIoApic {
    u8 id;
    PhysAddr address;
    u32 gsi_base;  // first global system interrupt this I/O APIC's input 0 delivers
};

// MADT type 2: Interrupt Source Override (ACPI 5.2.12.5): ISA IRQ `source` arrives on GSI `gsi`.
struct AcpiInterruptOverride {
    static constexpr u16 kPolarityMask = 0x3;  // MPS INTI flags (ACPI Table 5.50)
    static constexpr u16 kPolarityActiveHigh = 0x1;
    static constexpr u16 kPolarityActiveLow = 0x3;
    static constexpr u16 kTriggerMask = 0xc;
    static constexpr u16 kTriggerEdge = 0x4;
    static constexpr u16 kTriggerLevel = 0xc;

    u8 bus;     // always 0 (ISA)
    u8 source;  // ISA IRQ
    u32 gsi;
    u16 flags;  // MPS INTI flags; 0 in a field means "conforms to the bus" (ISA: edge, active high)
};

// MADT type 4 (Local APIC NMI, 5.2.12.7) and type 0xA (Local x2APIC NMI, 5.2.12.13).
struct AcpiLocalApicNmi {
    u32 acpi_uid;         // processor UID, meaningless when all_processors
    bool all_processors;  // UID 0xFF (type 4) or 0xFFFFFFFF (type 0xA)
    u16 flags;            // MPS INTI flags
    u8 lint;              // LINT0 or LINT1
};

struct AcpiMadt {
    static constexpr usize kMaxCpus = 64;
    static constexpr usize kMaxIoApics = 8;
    static constexpr usize kMaxOverrides = 32;
    static constexpr usize kMaxLocalApicNmis = 2 * kMaxCpus;  // one per CPU, possibly of both types

    bool present;
    PhysAddr table_address;
    PhysAddr local_apic_address;  // from the header, replaced by a type 5 override if one exists
    bool local_apic_address_overridden;
    bool pcat_compat;  // flags bit 0: dual 8259s present; mask them before using I/O APICs
    AcpiCpu cpus[kMaxCpus];
    usize cpu_count;
    usize unusable_cpu_count;  // entries with neither Enabled nor Online Capable set (ignored)
    AcpiIoApic ioapics[kMaxIoApics];
    usize ioapic_count;
    AcpiInterruptOverride overrides[kMaxOverrides];
    usize override_count;
    AcpiLocalApicNmi local_apic_nmis[kMaxLocalApicNmis];
    usize local_apic_nmi_count;
};

struct AcpiFadt {
    // Flags (ACPI Table 5.10).
    static constexpr u32 kFlagTmrValExt = 1u << 8;
    static constexpr u32 kFlagResetRegSup = 1u << 10;
    static constexpr u32 kFlagHwReducedAcpi = 1u << 20;
    // IA-PC Boot Architecture Flags (ACPI Table 5.11).
    static constexpr u16 kBootLegacyDevices = 1u << 0;
    static constexpr u16 kBoot8042 = 1u << 1;
    static constexpr u16 kBootVgaNotPresent = 1u << 2;
    static constexpr u16 kBootMsiNotSupported = 1u << 3;
    static constexpr u16 kBootCmosRtcNotPresent = 1u << 5;

    bool present;
    PhysAddr table_address;
    u8 revision;
    u32 length;
    u32 flags;          // 0 when the table is too short to hold the field
    u16 sci_interrupt;  // SCI_INT: an ISA IRQ number on PC platforms (subject to MADT overrides)

    // PM timer: X_PM_TMR_BLK when it holds a nonzero address, else PM_TMR_BLK (system I/O).
    bool pm_timer_present;
    AcpiGenericAddress pm_timer;
    u16 pm_timer_port;    // pm_timer.address when in system I/O space, else 0
    bool pm_timer_32bit;  // TMR_VAL_EXT: the counter is 32 bits wide, else 24

    // PM1a/PM1b control blocks (X_ forms preferred when nonzero); PM1b is optional.
    AcpiGenericAddress pm1a_control;
    AcpiGenericAddress pm1b_control;
    u16 pm1a_control_port;  // 0 when absent or not in system I/O space
    u16 pm1b_control_port;

    u8 century;  // CMOS RAM index of the century byte; 0 = not supported

    // IA-PC boot architecture. The field exists from FADT revision 2 (ACPI 2.0); an older
    // FADT describes a plain PC/AT, so the decoded flags then say "legacy devices and 8042".
    bool iapc_boot_arch_valid;
    u16 iapc_boot_arch;
    bool legacy_devices;
    bool has_8042;
    bool vga_not_present;
    bool cmos_rtc_not_present;

    // Reset register (5.2.9 RESET_REG/RESET_VALUE): usable only with RESET_REG_SUP set and
    // both fields inside the table.
    bool reset_supported;
    AcpiGenericAddress reset_register;
    u8 reset_value;

    bool hardware_reduced;  // HW_REDUCED_ACPI: no fixed hardware (PM timer, PM1 blocks, ...)

    PhysAddr dsdt_address;  // X_DSDT when present and nonzero, else DSDT; 0 = none
    PhysAddr facs_address;  // X_FIRMWARE_CTRL when present and nonzero, else FIRMWARE_CTRL
};

struct AcpiHpet {
    bool present;  // the table was found and its base address is usable
    PhysAddr table_address;
    u32 event_timer_block_id;  // raw field (HPET 3.2.4, Table 3)
    u8 hardware_revision;      // bits 7:0
    u8 comparator_count;       // bits 12:8 hold the index of the last comparator, so count = field + 1
    bool counter_64bit;        // bit 13 COUNT_SIZE_CAP
    bool legacy_replacement;   // bit 15 LegacyReplacement IRQ routing capable
    u16 vendor_id;             // bits 31:16, PCI vendor id of the first timer block
    AcpiGenericAddress base;   // must be in system memory space
    PhysAddr base_address;
    u8 hpet_number;
    u16 minimum_tick;  // main counter minimum clock tick in periodic mode
    u8 page_protection;
};

// One Configuration Space Base Address Allocation Structure of the MCFG (PCI FW 4.1.2,
// Table 4-3): the enhanced configuration (ECAM) window of buses start_bus..end_bus of one
// PCI segment group. Bus b's 1 MiB of configuration space starts at base_address + (b << 20),
// so the window itself is [window_start(), window_end()) (PCI Express Base 3.0, 7.2.2).
struct AcpiMcfgAllocation {
    PhysAddr base_address;  // where bus 0 of the segment would be, even when start_bus > 0
    u16 segment;            // PCI Segment Group Number
    u8 start_bus;
    u8 end_bus;  // at least start_bus (the parser skips entries that say otherwise)

    PhysAddr window_start() const { return base_address + (u64(start_bus) << 20); }
    PhysAddr window_end() const { return base_address + ((u64(end_bus) + 1) << 20); }
};

struct AcpiMcfg {
    // A server has one segment per host bridge at most; 16 is far beyond what 2-socket
    // machines list (one or two).
    static constexpr usize kMaxAllocations = 16;

    bool present;  // a well-formed MCFG was found (its allocations may still be 0)
    PhysAddr table_address;
    AcpiMcfgAllocation allocations[kMaxAllocations];
    usize allocation_count;
    // Entries of the table that are not in `allocations`: beyond kMaxAllocations or
    // invalid (end bus before start bus, base 0, window past 2^64). Each one was warned
    // about. Whoever must trap every ECAM window (an OS reading this same MCFG would use
    // them all) has to refuse a table with any.
    usize ignored_count;
};

struct AcpiInfo {
    // Servers with an SSDT per processor package or device list several dozen tables;
    // a host with more cannot be described (parse_acpi fails), and dom0's XSDT, built from
    // this list, never needs more entries than it holds.
    static constexpr usize kMaxTables = 128;
    static constexpr usize kMaxWarnings = 8;
    static constexpr usize kMessageLength = 96;
    static constexpr usize kMaxRsdpLength = 64;  // ACPI 5.2.5.3: 36 today; room for growth

    // A copy of the RSDP as given (ACPI 5.2.5.3), for the dump: 20 bytes for revision 0,
    // else its Length field.
    u8 rsdp[kMaxRsdpLength];
    usize rsdp_length;
    u8 rsdp_revision;
    char rsdp_oem_id[7];
    PhysAddr rsdt_address;
    PhysAddr xsdt_address;  // 0 when revision < 2 or absent
    bool using_xsdt;        // the table list came from the XSDT (else from the RSDT)

    // Every valid table found: the root table first, then the tables it lists (in its
    // order), then the DSDT and FACS, then the other root table if the RSDP gave both.
    AcpiTableRef tables[kMaxTables];
    usize table_count;

    AcpiMadt madt;
    AcpiFadt fadt;
    AcpiHpet hpet;
    AcpiMcfg mcfg;
    bool has_dsdt;
    PhysAddr dsdt_address;
    bool has_facs;
    PhysAddr facs_address;

    // Problems that did not stop parsing (e.g. a table with a bad checksum was skipped).
    char warnings[kMaxWarnings][kMessageLength];
    usize warning_count;
    usize warnings_dropped;  // warnings beyond kMaxWarnings: counted, never lost silently

    // Set when parse_acpi fails; *error points here.
    char error_message[kMessageLength];
};

// Parses the ACPI tables reachable from the RSDP (a copy, e.g. from the Multiboot2 ACPI
// tag) into `out`, which is cleared first. Returns false on a fatal problem (bad RSDP, bad
// RSDT/XSDT, a malformed MADT, more entries than AcpiInfo can hold) and then sets *error
// (when `error` is not null) to a message inside `out`; `out` is otherwise unspecified.
// On success *error is set to nullptr; warnings (skipped tables) are in out.warnings.
bool parse_acpi(AcpiMemory& mem, const u8* rsdp_bytes, usize rsdp_length, AcpiInfo& out, const char** error);

// Finds a recorded table by its 4-character signature (the first one if several); nullptr if none.
const AcpiTableRef* find_acpi_table(const AcpiInfo& info, const char* signature);
