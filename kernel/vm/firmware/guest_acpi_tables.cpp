#include "kernel/vm/firmware/guest_acpi_tables.hpp"

#include "kernel/vm/firmware/acpi_structure_writer.hpp"
#include "kernel/vm/firmware/guest_dsdt.hpp"
#include "kernel/vm/firmware/guest_memory_writer.hpp"

namespace {

// OEM Table ID of every table here (ACPI 5.2.6): 8 characters, space padded, no NUL.
constexpr char kOemTableId[8] = {'V', 'I', 'R', 'E', 'O', 'P', 'C', ' '};

constexpr u64 kSdtHeaderLength = kAcpiSdtHeaderLength;
constexpr u64 kRootTableEntries = 2;   // FADT and MADT (the DSDT and FACS hang off the FADT)
constexpr u64 kFadtLength = 276;       // ACPI 5.2.9 Table 5.9, revision 6
constexpr u64 kFacsLength = 64;        // ACPI 5.2.10 Table 5.14
constexpr u64 kMadtOverrideCount = 2;  // IRQ0 -> GSI2, IRQ9 (SCI)

constexpr u8 kRsdtRevision = 1, kXsdtRevision = 1, kFadtRevision = 6, kFadtMinorVersion = 5;
constexpr u8 kMadtRevision = 5, kDsdtRevision = 2, kFacsVersion = 2;  // DSDT 2: 64-bit AML integers

// FADT Flags (ACPI 5.2.9 Table 5.10).
constexpr u32 kFadtWbinvd = 1u << 0;        // WBINVD works (no FLUSH_SIZE/STRIDE needed)
constexpr u32 kFadtProcC1 = 1u << 2;        // C1 (HLT) on every processor
constexpr u32 kFadtSlpButton = 1u << 5;     // no fixed-feature sleep button
constexpr u32 kFadtTmrValExt = 1u << 8;     // 32-bit PM timer
constexpr u32 kFadtResetRegSup = 1u << 10;  // RESET_REG works
// IA-PC Boot Architecture Flags (ACPI 5.2.9.3 Table 5.11): ISA devices the OS may probe
// without ACPI descriptions (serial ports, PIT, RTC, PICs), and an 8042.
constexpr u16 kBootArchLegacyDevices = 1u << 0;
constexpr u16 kBootArch8042 = 1u << 1;
// P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 mean "C2/C3 not supported" (Table 5.9).
constexpr u16 kCStateNotSupported = 0x0FFF;

// MPS INTI flags of the MADT's overrides (ACPI 5.2.12.5 Table 5.26): polarity bits 1:0,
// trigger mode bits 3:2.
constexpr u16 kIntiActiveHigh = 0x1, kIntiEdge = 0x1 << 2, kIntiLevel = 0x3 << 2;

// Generic Address Structure (ACPI 5.2.3.2) address space ids and access sizes.
constexpr u8 kSpaceSystemIo = 1;
constexpr u8 kAccessByte = 1, kAccessWord = 2, kAccessDword = 3;

struct TableLayout {
    u64 rsdp, rsdt, xsdt, fadt, facs, madt, dsdt, end;
};

u64 madt_length(u32 vcpus) {
    return kMadtFixedLength + vcpus * kMadtLocalApicLength + kMadtIoApicLength +
           kMadtOverrideCount * kMadtOverrideLength + kMadtNmiLength;
}

u64 dsdt_length(const AcpiPlatform& platform) {
    return kSdtHeaderLength + guest_dsdt_s5_package().length +
           (platform.pci_host_bridge ? guest_dsdt_pci_host_bridge().length : 0);
}

// The RSDP first, at the base; every SDT 16-byte aligned (none needs more, but it keeps
// hex dumps readable); the FACS 64-byte aligned as ACPI 5.2.10 requires.
TableLayout lay_out(u64 base, const AcpiPlatform& platform) {
    TableLayout l{};
    u64 next = base;
    auto place = [&next](u64 length, u64 alignment) {
        const u64 at = align_up(next, alignment);
        next = at + length;
        return at;
    };
    l.rsdp = place(kAcpiRsdpLength, 16);
    l.rsdt = place(kSdtHeaderLength + 4 * kRootTableEntries, 16);
    l.xsdt = place(kSdtHeaderLength + 8 * kRootTableEntries, 16);
    l.fadt = place(kFadtLength, 16);
    l.facs = place(kFacsLength, 64);
    l.madt = place(madt_length(platform.vcpu_count), 16);
    l.dsdt = place(dsdt_length(platform), 16);
    l.end = next;
    return l;
}

const char* check_platform(const AcpiPlatform& p) {
    if (p.vcpu_count == 0) return "ACPI: a guest needs at least one vCPU";
    if (p.vcpu_count > kAcpiMaxVcpus) return "ACPI: more vCPUs than xAPIC ids (255)";
    if (p.ioapic_id < p.vcpu_count) return "ACPI: the I/O APIC id collides with a local APIC id";
    if (p.ioapic_address == 0 || p.local_apic_address == 0) return "ACPI: interrupt controller address is 0";
    if (p.pm.pm1a_event == 0 || p.pm.pm1a_control == 0) {
        return "ACPI: PM1a event and control blocks are required (ACPI 4.8.3)";
    }
    auto past_io_space = [](u16 port, u8 length) { return port != 0 && u32(port) + length > 0x10000; };
    if (past_io_space(p.pm.pm1a_event, kAcpiPm1EventLength) ||
        past_io_space(p.pm.pm1a_control, kAcpiPm1ControlLength) || past_io_space(p.pm.pm_timer, kAcpiPmTimerLength)) {
        return "ACPI: a PM register block runs past I/O port 0xFFFF";
    }
    return nullptr;
}

void write_sdt_header(GuestMemoryWriter& w, const char* signature, u8 revision) {
    write_acpi_sdt_header(w, signature, revision, kOemTableId);
}

void finish_sdt(GuestMemoryWriter& w, u64 start) { finish_acpi_sdt(w, start); }

void write_gas(GuestMemoryWriter& w, u8 space, u8 bit_width, u8 access_size, u64 address) {
    w.u8_le(space);
    w.u8_le(bit_width);
    w.u8_le(0);  // Register Bit Offset
    w.u8_le(access_size);
    w.u64_le(address);
}

// A system-I/O GAS for a fixed-hardware block, or all zeros when the block is absent.
void write_io_block_gas(GuestMemoryWriter& w, u16 port, u8 length, u8 access_size) {
    if (port == 0) {
        w.zeros(12);
        return;
    }
    write_gas(w, kSpaceSystemIo, u8(length * 8), access_size, port);
}

// ACPI 5.2.7 RSDT (32-bit entries) and 5.2.8 XSDT (64-bit entries): the same two tables.
// Linux uses the XSDT; the RSDT is there for "acpi=rsdt" and ACPI 1.0 readers.
void write_root_tables(GuestMemoryWriter& w, const TableLayout& l) {
    write_sdt_header(w, "RSDT", kRsdtRevision);
    w.u32_le(u32(l.fadt));
    w.u32_le(u32(l.madt));
    finish_sdt(w, l.rsdt);

    w.zeros(l.xsdt - w.position());
    write_sdt_header(w, "XSDT", kXsdtRevision);
    w.u64_le(l.fadt);
    w.u64_le(l.madt);
    finish_sdt(w, l.xsdt);
}

// ACPI 5.2.9 FADT, Table 5.9 field by field (byte offsets in the comments). Both the
// 32-bit and the X_ forms of each address hold the same value, so an OS reading either
// agrees (ACPICA warns only when they differ).
void write_fadt(GuestMemoryWriter& w, const TableLayout& l, const AcpiPlatform& p) {
    const AcpiPmPorts& pm = p.pm;
    write_sdt_header(w, "FACP", kFadtRevision);
    w.u32_le(u32(l.facs));                               // 36 FIRMWARE_CTRL
    w.u32_le(u32(l.dsdt));                               // 40 DSDT
    w.u8_le(0);                                          // 44 reserved (ACPI 1.0 INT_MODEL)
    w.u8_le(0);                                          // 45 Preferred_PM_Profile: unspecified
    w.u16_le(kAcpiSciIrq);                               // 46 SCI_INT
    w.u32_le(0);                                         // 48 SMI_CMD: 0 = no SMM; the platform is always in ACPI mode
    w.u8_le(0);                                          // 52 ACPI_ENABLE
    w.u8_le(0);                                          // 53 ACPI_DISABLE
    w.u8_le(0);                                          // 54 S4BIOS_REQ
    w.u8_le(0);                                          // 55 PSTATE_CNT
    w.u32_le(pm.pm1a_event);                             // 56 PM1a_EVT_BLK
    w.u32_le(0);                                         // 60 PM1b_EVT_BLK
    w.u32_le(pm.pm1a_control);                           // 64 PM1a_CNT_BLK
    w.u32_le(0);                                         // 68 PM1b_CNT_BLK
    w.u32_le(0);                                         // 72 PM2_CNT_BLK
    w.u32_le(pm.pm_timer);                               // 76 PM_TMR_BLK
    w.u32_le(0);                                         // 80 GPE0_BLK: no general-purpose events
    w.u32_le(0);                                         // 84 GPE1_BLK
    w.u8_le(kAcpiPm1EventLength);                        // 88 PM1_EVT_LEN
    w.u8_le(kAcpiPm1ControlLength);                      // 89 PM1_CNT_LEN
    w.u8_le(0);                                          // 90 PM2_CNT_LEN
    w.u8_le(pm.pm_timer != 0 ? kAcpiPmTimerLength : 0);  // 91 PM_TMR_LEN
    w.u8_le(0);                                          // 92 GPE0_BLK_LEN
    w.u8_le(0);                                          // 93 GPE1_BLK_LEN
    w.u8_le(0);                                          // 94 GPE1_BASE
    w.u8_le(0);                                          // 95 CST_CNT
    w.u16_le(kCStateNotSupported);                       // 96 P_LVL2_LAT
    w.u16_le(kCStateNotSupported);                       // 98 P_LVL3_LAT
    w.u16_le(0);                                         // 100 FLUSH_SIZE (WBINVD is set)
    w.u16_le(0);                                         // 102 FLUSH_STRIDE
    w.u8_le(0);                                          // 104 DUTY_OFFSET
    w.u8_le(0);                                          // 105 DUTY_WIDTH
    w.u8_le(0);                                          // 106 DAY_ALRM: no RTC day alarm
    w.u8_le(0);                                          // 107 MON_ALRM
    w.u8_le(kAcpiCmosCenturyIndex);                      // 108 CENTURY
    w.u16_le(kBootArchLegacyDevices | kBootArch8042);    // 109 IAPC_BOOT_ARCH
    w.u8_le(0);                                          // 111 reserved
    w.u32_le(kFadtWbinvd | kFadtProcC1 | kFadtSlpButton | kFadtResetRegSup |
             (pm.pm_timer_32bit ? kFadtTmrValExt : 0));            // 112 Flags
    write_gas(w, kSpaceSystemIo, 8, kAccessByte, kAcpiResetPort);  // 116 RESET_REG
    w.u8_le(kAcpiResetValue);                                      // 128 RESET_VALUE
    w.u16_le(0);                                                   // 129 ARM_BOOT_ARCH
    w.u8_le(kFadtMinorVersion);                                    // 131 FADT Minor Version
    w.u64_le(l.facs);                                              // 132 X_FIRMWARE_CTRL
    w.u64_le(l.dsdt);                                              // 140 X_DSDT
    // PM1 event blocks are a status and an enable register of 16 bits each (4.8.3.1).
    write_io_block_gas(w, pm.pm1a_event, kAcpiPm1EventLength, kAccessWord);      // 148 X_PM1a_EVT_BLK
    w.zeros(12);                                                                 // 160 X_PM1b_EVT_BLK
    write_io_block_gas(w, pm.pm1a_control, kAcpiPm1ControlLength, kAccessWord);  // 172 X_PM1a_CNT_BLK
    w.zeros(12);                                                                 // 184 X_PM1b_CNT_BLK
    w.zeros(12);                                                                 // 196 X_PM2_CNT_BLK
    write_io_block_gas(w, pm.pm_timer, kAcpiPmTimerLength, kAccessDword);        // 208 X_PM_TMR_BLK
    w.zeros(12);                                                                 // 220 X_GPE0_BLK
    w.zeros(12);                                                                 // 232 X_GPE1_BLK
    w.zeros(12);  // 244 SLEEP_CONTROL_REG: only for hardware-reduced ACPI
    w.zeros(12);  // 256 SLEEP_STATUS_REG
    w.u64_le(0);  // 268 Hypervisor Vendor Identity
    finish_sdt(w, l.fadt);
}

// ACPI 5.2.10 FACS: no checksum. The waking vectors stay 0 (no S3 resume), the global
// lock unused (the DSDT has no _GLK), no flags.
void write_facs(GuestMemoryWriter& w) {
    w.bytes("FACS", 4);
    w.u32_le(u32(kFacsLength));  // 4 Length
    w.u32_le(0);                 // 8 Hardware Signature
    w.u32_le(0);                 // 12 Firmware Waking Vector
    w.u32_le(0);                 // 16 Global Lock
    w.u32_le(0);                 // 20 Flags
    w.u64_le(0);                 // 24 X_Firmware_Waking_Vector
    w.u8_le(kFacsVersion);       // 32 Version
    w.zeros(3);                  // 33 Reserved
    w.u32_le(0);                 // 36 OSPM Flags
    w.zeros(24);                 // 40 Reserved
}

// ACPI 5.2.12 MADT: one enabled Processor Local APIC per vCPU (UID = APIC id = index),
// the I/O APIC with GSIs from 0, the PC/AT overrides, and LINT1 as NMI on every CPU.
void write_madt(GuestMemoryWriter& w, const TableLayout& l, const AcpiPlatform& p) {
    write_sdt_header(w, "APIC", kMadtRevision);
    w.u32_le(p.local_apic_address);  // 36 Local Interrupt Controller Address
    w.u32_le(kMadtPcAtCompat);       // 40 Flags
    for (u32 cpu = 0; cpu < p.vcpu_count; ++cpu) write_madt_local_apic(w, u8(cpu), u8(cpu));
    write_madt_ioapic(w, p.ioapic_id, p.ioapic_address, 0);
    // Interrupt Source Overrides (5.2.12.5), on bus 0 (ISA). The PIT's IRQ 0 is wired to
    // I/O APIC pin 2 on PCs (pin 0 is the 8259's INTR); edge, active high as on the ISA bus.
    write_madt_override(w, 0, 0, 2, kIntiActiveHigh | kIntiEdge);
    // The SCI is a shareable, level-triggered interrupt (ACPI 5.2.9 SCI_INT); active high
    // here, as the PM model drives it.
    write_madt_override(w, 0, kAcpiSciIrq, kAcpiSciIrq, kIntiActiveHigh | kIntiLevel);
    // Flags 0: conforming to the bus (edge, active high).
    write_madt_local_apic_nmi(w, kMadtAllProcessors, 0, kMadtLint1);
    finish_sdt(w, l.madt);
}

// ACPI 5.2.11.1 DSDT: the AML fragments of guest_dsdt.cpp under a standard header.
void write_dsdt(GuestMemoryWriter& w, const TableLayout& l, const AcpiPlatform& p) {
    write_sdt_header(w, "DSDT", kDsdtRevision);
    const AmlFragment s5 = guest_dsdt_s5_package();
    w.bytes(s5.bytes, s5.length);
    if (p.pci_host_bridge) {
        const AmlFragment pci = guest_dsdt_pci_host_bridge();
        w.bytes(pci.bytes, pci.length);
    }
    finish_sdt(w, l.dsdt);
}

AcpiBuildResult failure(const char* error) {
    AcpiBuildResult r;
    r.error = error;
    return r;
}

}  // namespace

AcpiBuildResult build_acpi_tables(GuestPhysicalMemory& memory, u64 base_gpa, u64 max_size,
                                  const AcpiPlatform& platform) {
    if (const char* problem = check_platform(platform)) return failure(problem);
    if (!is_aligned(base_gpa, 16)) return failure("ACPI: the RSDP must be 16-byte aligned (ACPI 5.2.5.1)");
    // RSDT entries, FIRMWARE_CTRL and DSDT are 32-bit addresses.
    if (base_gpa >= 4 * GiB || max_size > 4 * GiB - base_gpa) {
        return failure("ACPI: the table area must lie below 4 GiB");
    }
    const TableLayout l = lay_out(base_gpa, platform);
    if (l.end - base_gpa > max_size) return failure("ACPI: the tables do not fit in the area given");

    GuestMemoryWriter w(memory, base_gpa);
    write_acpi_rsdp(w, u32(l.rsdt), l.xsdt);
    w.zeros(l.rsdt - w.position());
    write_root_tables(w, l);
    w.zeros(l.fadt - w.position());
    write_fadt(w, l, platform);
    w.zeros(l.facs - w.position());
    write_facs(w);
    w.zeros(l.madt - w.position());
    write_madt(w, l, platform);
    w.zeros(l.dsdt - w.position());
    write_dsdt(w, l, platform);
    if (!w.ok()) return failure("ACPI: guest memory refused a write to the table area");
    if (w.position() != l.end) return failure("ACPI: internal error: table sizes disagree with the layout");

    AcpiBuildResult r;
    r.ok = true;
    r.rsdp_gpa = l.rsdp;
    r.bytes_used = l.end - base_gpa;
    r.rsdt_gpa = l.rsdt;
    r.xsdt_gpa = l.xsdt;
    r.fadt_gpa = l.fadt;
    r.facs_gpa = l.facs;
    r.madt_gpa = l.madt;
    r.dsdt_gpa = l.dsdt;
    return r;
}
