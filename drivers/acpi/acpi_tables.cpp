#include "drivers/acpi/acpi_tables.hpp"

#include <stdio.h>
#include <string.h>

#include "drivers/acpi/table_bytes.hpp"

namespace {

using table_bytes::read_u16;
using table_bytes::read_u32;
using table_bytes::read_u64;

// ACPI 5.2.6 System Description Table Header: Signature[4], Length u32, Revision u8,
// Checksum u8, OEMID[6], OEM Table ID[8], OEM Revision u32, Creator ID u32, Creator Revision u32.
constexpr u32 kSdtHeaderLength = 36;
constexpr u32 kSdtLengthOffset = 4;
constexpr u32 kSdtRevisionOffset = 8;
constexpr u32 kSdtOemIdOffset = 10;
// No real table comes near this (a large DSDT is some hundreds of KiB); a bigger Length is
// corruption, and refusing it keeps a bad header from making us map and sum gigabytes.
constexpr u32 kMaxTableLength = 1 * MiB;

// ACPI 5.2.5.3 RSDP: Signature[8], Checksum u8 (first 20 bytes), OEMID[6], Revision u8,
// RsdtAddress u32 -- the ACPI 1.0 part ends here -- Length u32, XsdtAddress u64,
// Extended Checksum u8 (whole structure), Reserved[3].
constexpr usize kRsdpV1Length = 20;
constexpr usize kRsdpV2Length = 36;
constexpr usize kRsdpOemIdOffset = 9;
constexpr usize kRsdpRevisionOffset = 15;
constexpr usize kRsdpRsdtOffset = 16;
constexpr usize kRsdpLengthOffset = 20;
constexpr usize kRsdpXsdtOffset = 24;

// ACPI 5.2.10 FACS: Signature[4], Length u32, ..., Version u8 at 32; at least 64 bytes.
constexpr u32 kFacsMinLength = 64;
constexpr u32 kFacsVersionOffset = 32;

// ACPI 5.2.3.2 Generic Address Structure: Space ID, Bit Width, Bit Offset, Access Size, Address u64.
constexpr u32 kGasLength = 12;

AcpiGenericAddress read_gas(const u8* p) {
    AcpiGenericAddress gas;
    gas.space_id = p[0];
    gas.bit_width = p[1];
    gas.bit_offset = p[2];
    gas.access_size = p[3];
    gas.address = read_u64(p + 4);
    return gas;
}

AcpiGenericAddress legacy_io_block(u32 port, u8 length_bytes) {
    AcpiGenericAddress gas;
    gas.space_id = AcpiGenericAddress::kSystemIo;
    gas.bit_width = u8(length_bytes * 8);
    gas.bit_offset = 0;
    gas.access_size = 0;
    gas.address = port;
    return gas;
}

u16 io_port_of(const AcpiGenericAddress& gas) {
    return gas.space_id == AcpiGenericAddress::kSystemIo && gas.address <= 0xffff ? u16(gas.address) : 0;
}

using table_bytes::byte_sum;

// Signatures are meant to be four uppercase characters; anything else is shown as '?'
// so that a corrupt table cannot inject control characters or spaces into log lines.
void copy_signature(char (&out)[5], const u8* p) {
    for (usize i = 0; i < 4; ++i) out[i] = (p[i] > 0x20 && p[i] < 0x7f) ? char(p[i]) : '?';
    out[4] = '\0';
}

// OEM IDs are space-padded (QEMU: "BOCHS "); some firmware pads with NULs instead.
void copy_oem_id(char (&out)[7], const u8* p) {
    for (usize i = 0; i < 6; ++i) out[i] = p[i] == 0 ? ' ' : (p[i] >= 0x20 && p[i] < 0x7f) ? char(p[i]) : '?';
    out[6] = '\0';
    for (usize i = 6; i > 0 && out[i - 1] == ' '; --i) out[i - 1] = '\0';
}

// Formats use %lu/%llx with explicit casts, never %zu: the hypervisor's newlib printf is
// not relied on to support C99 length modifiers such as 'z'.
using ul = unsigned long;
using ull = unsigned long long;

__attribute__((format(printf, 3, 4))) void format_message(char* buf, usize size, const char* fmt, ...) {
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    vsnprintf(buf, size, fmt, args);
    __builtin_va_end(args);
}

#define ACPI_FAIL(info, ...) (format_message((info).error_message, AcpiInfo::kMessageLength, __VA_ARGS__), false)

__attribute__((format(printf, 2, 3))) void warn(AcpiInfo& info, const char* fmt, ...) {
    if (info.warning_count == AcpiInfo::kMaxWarnings) {
        ++info.warnings_dropped;
        return;
    }
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    vsnprintf(info.warnings[info.warning_count++], AcpiInfo::kMessageLength, fmt, args);
    __builtin_va_end(args);
}

class Parser {
public:
    Parser(AcpiMemory& mem, AcpiInfo& info) : mem_(mem), info_(info) {}

    bool run(const u8* rsdp, usize rsdp_length);

private:
    // map() that also refuses ranges wrapping around the top of the address space.
    const u8* map(PhysAddr phys, u64 length) {
        if (length == 0 || phys + length < phys) return nullptr;
        return mem_.map(phys, length);
    }

    bool parse_rsdp(const u8* rsdp, usize rsdp_length);
    bool parse_root(PhysAddr address, const char* signature, u32 entry_size);
    void check_other_root(PhysAddr address, const char* signature, u32 entry_size);
    bool visit_table(PhysAddr address, const char* expected_signature);
    bool visit_facs(PhysAddr address);
    bool record_table(PhysAddr address, const char (&signature)[5], u32 length, u8 revision, const u8* oem_id);
    bool already_recorded(PhysAddr address) const;
    bool parse_madt(PhysAddr address, const u8* table, u32 length);
    bool add_cpu(u32 apic_id, u32 acpi_uid, u32 flags, bool x2apic);
    void parse_fadt(PhysAddr address, const u8* table, u32 length);
    void parse_hpet(PhysAddr address, const u8* table, u32 length);
    void parse_mcfg(PhysAddr address, const u8* table, u32 length);

    AcpiMemory& mem_;
    AcpiInfo& info_;
};

bool Parser::run(const u8* rsdp, usize rsdp_length) {
    if (!parse_rsdp(rsdp, rsdp_length)) return false;

    // ACPI 5.2.5.3: on revision >= 2 "the XSDT must be used by OSPM" when present; the RSDT
    // is kept only for ACPI 1.0 operating systems and may list a subset, or 32-bit copies.
    if (info_.xsdt_address != 0) {
        info_.using_xsdt = true;
        if (!parse_root(info_.xsdt_address, "XSDT", 8)) return false;
    } else if (info_.rsdt_address != 0) {
        if (!parse_root(info_.rsdt_address, "RSDT", 4)) return false;
    } else {
        return ACPI_FAIL(info_, "RSDP: neither an RSDT nor an XSDT address");
    }

    // ACPI 5.2.9: the DSDT and FACS are not listed in the RSDT/XSDT, only in the FADT.
    if (info_.fadt.present && info_.fadt.dsdt_address != 0) {
        // Some firmware also lists the DSDT in the XSDT; it is then already recorded.
        if (!already_recorded(info_.fadt.dsdt_address) && !visit_table(info_.fadt.dsdt_address, "DSDT")) return false;
        if (already_recorded(info_.fadt.dsdt_address)) {
            info_.has_dsdt = true;
            info_.dsdt_address = info_.fadt.dsdt_address;
        }
    }
    if (info_.fadt.present && info_.fadt.facs_address != 0 && !visit_facs(info_.fadt.facs_address)) return false;

    // The unused root table is not needed for parsing, but recording it makes a dump of
    // these tables complete, so a fixture replays what the firmware really provided.
    if (info_.using_xsdt && info_.rsdt_address != 0) check_other_root(info_.rsdt_address, "RSDT", 4);
    return true;
}

bool Parser::parse_rsdp(const u8* rsdp, usize rsdp_length) {
    if (rsdp == nullptr) return ACPI_FAIL(info_, "RSDP: none given");
    if (rsdp_length < kRsdpV1Length)
        return ACPI_FAIL(info_, "RSDP: %lu bytes given, need at least 20", ul(rsdp_length));
    if (memcmp(rsdp, "RSD PTR ", 8) != 0) return ACPI_FAIL(info_, "RSDP: signature is not 'RSD PTR '");
    if (byte_sum(rsdp, kRsdpV1Length) != 0) return ACPI_FAIL(info_, "RSDP: bad checksum over the first 20 bytes");

    info_.rsdp_revision = rsdp[kRsdpRevisionOffset];
    copy_oem_id(info_.rsdp_oem_id, rsdp + kRsdpOemIdOffset);
    info_.rsdt_address = read_u32(rsdp + kRsdpRsdtOffset);
    usize copy_length = kRsdpV1Length;

    // Revision 0 is ACPI 1.0 (20 bytes); 2 and later add Length, the XSDT address and the
    // extended checksum (revision 1 was never assigned; larger values stay compatible).
    if (info_.rsdp_revision >= 2) {
        if (rsdp_length < kRsdpV2Length) {
            // E.g. a boot loader that passed only the ACPI 1.0 part (Multiboot2 "old RSDP" tag).
            warn(info_, "RSDP: revision %u but only %lu bytes given; using the RSDT", info_.rsdp_revision,
                 ul(rsdp_length));
        } else {
            const u32 length = read_u32(rsdp + kRsdpLengthOffset);
            if (length < kRsdpV2Length || length > rsdp_length) {
                return ACPI_FAIL(info_, "RSDP: Length %u outside 36..%lu (the bytes given)", length, ul(rsdp_length));
            }
            if (length > AcpiInfo::kMaxRsdpLength) {
                return ACPI_FAIL(info_, "RSDP: Length %u larger than the supported %lu", length,
                                 ul(AcpiInfo::kMaxRsdpLength));
            }
            if (byte_sum(rsdp, length) != 0) return ACPI_FAIL(info_, "RSDP: bad extended checksum");
            info_.xsdt_address = read_u64(rsdp + kRsdpXsdtOffset);
            copy_length = length;
        }
    }
    memcpy(info_.rsdp, rsdp, copy_length);
    info_.rsdp_length = copy_length;
    return true;
}

// ACPI 5.2.7 RSDT (32-bit entries) / 5.2.8 XSDT (64-bit entries): a header followed by
// physical addresses of the other tables. Any problem with it is fatal: without it no
// other table can be found.
bool Parser::parse_root(PhysAddr address, const char* signature, u32 entry_size) {
    const u8* header = map(address, kSdtHeaderLength);
    if (header == nullptr) return ACPI_FAIL(info_, "%s at 0x%llx: not accessible", signature, ull(address));
    char found[5];
    copy_signature(found, header);
    if (memcmp(header, signature, 4) != 0) {
        return ACPI_FAIL(info_, "%s at 0x%llx: signature is '%s'", signature, ull(address), found);
    }
    const u32 length = read_u32(header + kSdtLengthOffset);
    if (length < kSdtHeaderLength || length > kMaxTableLength) {
        return ACPI_FAIL(info_, "%s at 0x%llx: length %u outside 36..%u", signature, ull(address), length,
                         kMaxTableLength);
    }
    if ((length - kSdtHeaderLength) % entry_size != 0) {
        return ACPI_FAIL(info_, "%s at 0x%llx: length %u leaves a partial %u-byte entry", signature, ull(address),
                         length, entry_size);
    }
    const u8* table = map(address, length);
    if (table == nullptr) {
        return ACPI_FAIL(info_, "%s at 0x%llx: length %u runs into inaccessible memory", signature, ull(address),
                         length);
    }
    if (byte_sum(table, length) != 0) return ACPI_FAIL(info_, "%s at 0x%llx: bad checksum", signature, ull(address));
    if (!record_table(address, found, length, table[kSdtRevisionOffset], table + kSdtOemIdOffset)) return false;

    const u32 entries = (length - kSdtHeaderLength) / entry_size;
    for (u32 i = 0; i < entries; ++i) {
        // Re-mapped per entry: visiting a table may reuse the mapping the root came through.
        const PhysAddr entry_address = address + kSdtHeaderLength + u64(i) * entry_size;
        const u8* entry = map(entry_address, entry_size);
        if (entry == nullptr) {
            return ACPI_FAIL(info_, "%s at 0x%llx: entry %u not accessible", signature, ull(address), i);
        }
        const PhysAddr table_address = entry_size == 8 ? read_u64(entry) : read_u32(entry);
        if (table_address == 0) {
            warn(info_, "%s entry %u is a null address; skipped", signature, i);
            continue;
        }
        if (!visit_table(table_address, nullptr)) return false;
    }
    return true;
}

void Parser::check_other_root(PhysAddr address, const char* signature, u32 entry_size) {
    const u8* header = map(address, kSdtHeaderLength);
    if (header == nullptr || memcmp(header, signature, 4) != 0) {
        warn(info_, "%s at 0x%llx (unused): missing or wrong signature", signature, ull(address));
        return;
    }
    const u32 length = read_u32(header + kSdtLengthOffset);
    if (length < kSdtHeaderLength || length > kMaxTableLength || (length - kSdtHeaderLength) % entry_size != 0) {
        warn(info_, "%s at 0x%llx (unused): bad length %u", signature, ull(address), length);
        return;
    }
    const u8* table = map(address, length);
    if (table == nullptr || byte_sum(table, length) != 0) {
        warn(info_, "%s at 0x%llx (unused): not accessible or bad checksum", signature, ull(address));
        return;
    }
    char found[5];
    copy_signature(found, table);
    if (already_recorded(address)) return;
    // A full table list is not fatal here: this table is not needed for parsing.
    if (info_.table_count == AcpiInfo::kMaxTables) {
        warn(info_, "%s at 0x%llx (unused): no room in the table list", signature, ull(address));
        return;
    }
    record_table(address, found, length, table[kSdtRevisionOffset], table + kSdtOemIdOffset);
}

// A table other than the root: problems with it are warnings (the table is skipped), so
// that one corrupt table (often an OEM SSDT) does not cost us every other table.
// Returns false only for fatal problems: a malformed MADT or a full table list.
bool Parser::visit_table(PhysAddr address, const char* expected_signature) {
    const u8* header = map(address, kSdtHeaderLength);
    if (header == nullptr) {
        warn(info_, "table at 0x%llx: not accessible; skipped", ull(address));
        return true;
    }
    char signature[5];
    copy_signature(signature, header);
    if (expected_signature != nullptr && memcmp(header, expected_signature, 4) != 0) {
        warn(info_, "%s at 0x%llx: signature is '%s'; skipped", expected_signature, ull(address), signature);
        return true;
    }
    const u32 length = read_u32(header + kSdtLengthOffset);
    if (length < kSdtHeaderLength || length > kMaxTableLength) {
        warn(info_, "%s at 0x%llx: length %u outside 36..%u; skipped", signature, ull(address), length,
             kMaxTableLength);
        return true;
    }
    const u8* table = map(address, length);
    if (table == nullptr) {
        warn(info_, "%s at 0x%llx: length %u runs into inaccessible memory; skipped", signature, ull(address), length);
        return true;
    }
    if (byte_sum(table, length) != 0) {
        warn(info_, "%s at 0x%llx: bad checksum; skipped", signature, ull(address));
        return true;
    }
    if (already_recorded(address)) {
        warn(info_, "%s at 0x%llx: listed twice; second reference ignored", signature, ull(address));
        return true;
    }
    if (!record_table(address, signature, length, table[kSdtRevisionOffset], table + kSdtOemIdOffset)) return false;

    // Several MADTs, FADTs or HPETs would contradict each other; the first one wins.
    if (memcmp(signature, "APIC", 4) == 0) {
        if (info_.madt.present) {
            warn(info_, "APIC at 0x%llx: a second MADT; ignored", ull(address));
            return true;
        }
        return parse_madt(address, table, length);
    }
    if (memcmp(signature, "FACP", 4) == 0) {
        if (info_.fadt.present) {
            warn(info_, "FACP at 0x%llx: a second FADT; ignored", ull(address));
        } else {
            parse_fadt(address, table, length);
        }
    } else if (memcmp(signature, "HPET", 4) == 0) {
        if (info_.hpet.present) {
            warn(info_, "HPET at 0x%llx: a second HPET table; only the first timer block is used", ull(address));
        } else {
            parse_hpet(address, table, length);
        }
    } else if (memcmp(signature, "MCFG", 4) == 0) {
        if (info_.mcfg.present) {
            warn(info_, "MCFG at 0x%llx: a second MCFG; ignored", ull(address));
        } else {
            parse_mcfg(address, table, length);
        }
    }
    return true;
}

// ACPI 5.2.10 FACS: not an SDT (no checksum, no OEM fields); only Signature and Length
// are checked, and the table is recorded so that a dump contains it.
bool Parser::visit_facs(PhysAddr address) {
    const u8* header = map(address, 8);
    if (header == nullptr) {
        warn(info_, "FACS at 0x%llx: not accessible; skipped", ull(address));
        return true;
    }
    char signature[5];
    copy_signature(signature, header);
    const u32 length = read_u32(header + kSdtLengthOffset);
    if (memcmp(header, "FACS", 4) != 0) {
        warn(info_, "FACS at 0x%llx: signature is '%s'; skipped", ull(address), signature);
        return true;
    }
    if (length < kFacsMinLength || length > kMaxTableLength) {
        warn(info_, "FACS at 0x%llx: length %u outside 64..%u; skipped", ull(address), length, kMaxTableLength);
        return true;
    }
    const u8* table = map(address, length);
    if (table == nullptr) {
        warn(info_, "FACS at 0x%llx: length %u runs into inaccessible memory; skipped", ull(address), length);
        return true;
    }
    if (!already_recorded(address)) {
        static const u8 kNoOemId[6] = {' ', ' ', ' ', ' ', ' ', ' '};
        if (!record_table(address, signature, length, table[kFacsVersionOffset], kNoOemId)) return false;
    }
    info_.has_facs = true;
    info_.facs_address = address;
    return true;
}

bool Parser::already_recorded(PhysAddr address) const {
    for (usize i = 0; i < info_.table_count; ++i) {
        if (info_.tables[i].address == address) return true;
    }
    return false;
}

bool Parser::record_table(PhysAddr address, const char (&signature)[5], u32 length, u8 revision, const u8* oem_id) {
    if (info_.table_count == AcpiInfo::kMaxTables) {
        return ACPI_FAIL(info_, "more than %lu ACPI tables (at %s 0x%llx)", ul(AcpiInfo::kMaxTables), signature,
                         ull(address));
    }
    AcpiTableRef& ref = info_.tables[info_.table_count++];
    memcpy(ref.signature, signature, sizeof ref.signature);
    ref.address = address;
    ref.length = length;
    ref.revision = revision;
    copy_oem_id(ref.oem_id, oem_id);
    return true;
}

// ACPI 5.2.12 MADT: header, Local Interrupt Controller Address u32 at 36, Flags u32 at 40,
// then interrupt controller structures, each starting with Type u8 and Length u8.
// A malformed MADT is fatal: guessing at the CPU and interrupt topology is worse than
// stopping with a clear message.
bool Parser::parse_madt(PhysAddr address, const u8* table, u32 length) {
    constexpr u32 kEntriesOffset = 44;
    constexpr u32 kFlagPcatCompat = 1u << 0;
    AcpiMadt& madt = info_.madt;
    if (length < kEntriesOffset) return ACPI_FAIL(info_, "MADT at 0x%llx: length %u too short", ull(address), length);
    madt.present = true;
    madt.table_address = address;
    madt.local_apic_address = read_u32(table + 36);
    madt.pcat_compat = (read_u32(table + 40) & kFlagPcatCompat) != 0;

    u32 offset = kEntriesOffset;
    while (offset < length) {
        if (length - offset < 2) {
            return ACPI_FAIL(info_, "MADT: truncated entry header at offset 0x%x (table length %u)", offset, length);
        }
        const u8* entry = table + offset;
        const u8 type = entry[0];
        const u8 entry_length = entry[1];
        // A zero length would loop forever; 1 cannot even hold the Type/Length pair.
        if (entry_length < 2) {
            return ACPI_FAIL(info_, "MADT: entry type %u at offset 0x%x has length %u", type, offset, entry_length);
        }
        if (entry_length > length - offset) {
            return ACPI_FAIL(info_, "MADT: entry type %u at offset 0x%x (length %u) runs past the table end (%u)", type,
                             offset, entry_length, length);
        }
        // Minimum lengths of the structures we read (ACPI Tables 5.22 .. 5.35); firmware
        // may append fields in later revisions, so only "too short" is an error.
        u8 need = 0;
        switch (type) {
            case 0: need = 8; break;     // Processor Local APIC (5.2.12.2)
            case 1: need = 12; break;    // I/O APIC (5.2.12.3)
            case 2: need = 10; break;    // Interrupt Source Override (5.2.12.5)
            case 4: need = 6; break;     // Local APIC NMI (5.2.12.7)
            case 5: need = 12; break;    // Local APIC Address Override (5.2.12.8)
            case 9: need = 16; break;    // Processor Local x2APIC (5.2.12.12)
            case 0xa: need = 12; break;  // Local x2APIC NMI (5.2.12.13)
            default: break;              // not needed here: skipped by its length
        }
        if (entry_length < need) {
            return ACPI_FAIL(info_, "MADT: entry type %u at offset 0x%x has length %u, expected %u", type, offset,
                             entry_length, need);
        }

        switch (type) {
            case 0:
                if (!add_cpu(entry[3], entry[2], read_u32(entry + 4), false)) return false;
                break;
            case 9:
                if (!add_cpu(read_u32(entry + 4), read_u32(entry + 12), read_u32(entry + 8), true)) return false;
                break;
            case 1: {
                if (madt.ioapic_count == AcpiMadt::kMaxIoApics) {
                    return ACPI_FAIL(info_, "MADT: more than %lu I/O APICs", ul(AcpiMadt::kMaxIoApics));
                }
                AcpiIoApic& io = madt.ioapics[madt.ioapic_count++];
                io.id = entry[2];
                io.address = read_u32(entry + 4);
                io.gsi_base = read_u32(entry + 8);
                break;
            }
            case 2: {
                if (madt.override_count == AcpiMadt::kMaxOverrides) {
                    return ACPI_FAIL(info_, "MADT: more than %lu interrupt source overrides",
                                     ul(AcpiMadt::kMaxOverrides));
                }
                AcpiInterruptOverride& iso = madt.overrides[madt.override_count++];
                iso.bus = entry[2];
                iso.source = entry[3];
                iso.gsi = read_u32(entry + 4);
                iso.flags = read_u16(entry + 8);
                break;
            }
            case 4:
            case 0xa: {
                if (madt.local_apic_nmi_count == AcpiMadt::kMaxLocalApicNmis) {
                    return ACPI_FAIL(info_, "MADT: more than %lu local APIC NMI entries",
                                     ul(AcpiMadt::kMaxLocalApicNmis));
                }
                AcpiLocalApicNmi& nmi = madt.local_apic_nmis[madt.local_apic_nmi_count++];
                if (type == 4) {
                    nmi.acpi_uid = entry[2];
                    nmi.all_processors = entry[2] == 0xff;
                    nmi.flags = read_u16(entry + 3);
                    nmi.lint = entry[5];
                } else {
                    nmi.flags = read_u16(entry + 2);
                    nmi.acpi_uid = read_u32(entry + 4);
                    nmi.all_processors = nmi.acpi_uid == 0xffffffffu;
                    nmi.lint = entry[8];
                }
                break;
            }
            case 5:
                // 5.2.12.8: "If defined, OSPM must use the 64-bit address in this structure";
                // at most one may be present.
                if (madt.local_apic_address_overridden) {
                    warn(info_, "MADT: a second local APIC address override; ignored");
                } else {
                    madt.local_apic_address = read_u64(entry + 4);
                    madt.local_apic_address_overridden = true;
                }
                break;
            default: break;
        }
        offset += entry_length;
    }
    return true;
}

bool Parser::add_cpu(u32 apic_id, u32 acpi_uid, u32 flags, bool x2apic) {
    constexpr u32 kFlagEnabled = 1u << 0;
    constexpr u32 kFlagOnlineCapable = 1u << 1;
    AcpiMadt& madt = info_.madt;
    const bool enabled = (flags & kFlagEnabled) != 0;
    const bool online_capable = (flags & kFlagOnlineCapable) != 0;
    // 5.2.12.2 Table 5.23: with neither bit set "this processor is unusable, and OSPM
    // shall ignore the contents of the Processor Local APIC Structure". Firmware lists
    // such placeholders for absent sockets, so they do not count against kMaxCpus.
    if (!enabled && !online_capable) {
        ++madt.unusable_cpu_count;
        return true;
    }
    for (usize i = 0; i < madt.cpu_count; ++i) {
        if (madt.cpus[i].apic_id == apic_id) {
            // Some firmware describes a processor by both a type 0 and a type 9 structure.
            warn(info_, "MADT: APIC id %u listed twice; the second entry is ignored", apic_id);
            return true;
        }
    }
    if (madt.cpu_count == AcpiMadt::kMaxCpus) {
        return ACPI_FAIL(info_, "MADT: more than %lu processors (APIC id %u is one too many)", ul(AcpiMadt::kMaxCpus),
                         apic_id);
    }
    AcpiCpu& cpu = madt.cpus[madt.cpu_count++];
    cpu.apic_id = apic_id;
    cpu.acpi_uid = acpi_uid;
    cpu.enabled = enabled;
    cpu.online_capable = online_capable;
    cpu.x2apic = x2apic;
    return true;
}

// ACPI 5.2.9 FADT (Table 5.9). The table grew with each revision: revision 1 (ACPI 1.0)
// is 116 bytes and ends after Flags; RESET_REG arrived with revision 2 (129 bytes), the X_
// fields with revision 3 (244 bytes). Every field is read only when it lies inside the
// table's Length, whatever the revision claims.
void Parser::parse_fadt(PhysAddr address, const u8* t, u32 length) {
    AcpiFadt& f = info_.fadt;
    auto has = [length](u32 offset, u32 size) { return offset + size <= length; };
    auto u8_at = [&](u32 offset) -> u8 { return has(offset, 1) ? t[offset] : 0; };
    auto u16_at = [&](u32 offset) -> u16 { return has(offset, 2) ? read_u16(t + offset) : 0; };
    auto u32_at = [&](u32 offset) -> u32 { return has(offset, 4) ? read_u32(t + offset) : 0; };
    auto u64_at = [&](u32 offset) -> u64 { return has(offset, 8) ? read_u64(t + offset) : 0; };
    auto gas_at = [&](u32 offset) { return has(offset, kGasLength) ? read_gas(t + offset) : AcpiGenericAddress{}; };

    f.present = true;
    f.table_address = address;
    f.revision = t[kSdtRevisionOffset];
    f.length = length;
    f.flags = u32_at(112);
    f.hardware_reduced = (f.flags & AcpiFadt::kFlagHwReducedAcpi) != 0;

    // "If the X_DSDT field contains a non-zero value then this field must be zero"; the
    // 64-bit field wins (likewise X_FIRMWARE_CTRL over FIRMWARE_CTRL).
    const u64 x_dsdt = u64_at(140);
    f.dsdt_address = x_dsdt != 0 ? x_dsdt : u32_at(40);
    const u64 x_facs = u64_at(132);
    f.facs_address = x_facs != 0 ? x_facs : u32_at(36);

    // 5.2.9: "If the HW_REDUCED_ACPI flag is set, OSPM will ignore fields related to the ACPI
    // HW register interface: fields at offsets 46 through 108 and 148 through 232" -- the
    // SCI, the PM1 blocks and the PM timer do not exist there.
    if (!f.hardware_reduced) {
        f.sci_interrupt = u16_at(46);
        f.century = u8_at(108);

        // X_PM_TMR_BLK (offset 208) "if this field contains a nonzero value ... then
        // PM_TMR_BLK must be ignored"; PM_TMR_BLK (76) is a system I/O port of PM_TMR_LEN (91) bytes.
        const AcpiGenericAddress x_timer = gas_at(208);
        if (x_timer.address != 0) {
            f.pm_timer = x_timer;
        } else if (u32_at(76) != 0) {
            f.pm_timer = legacy_io_block(u32_at(76), u8_at(91));
        }
        f.pm_timer_present = f.pm_timer.address != 0;
        f.pm_timer_port = io_port_of(f.pm_timer);
        f.pm_timer_32bit = (f.flags & AcpiFadt::kFlagTmrValExt) != 0;

        // PM1a_CNT_BLK (64) / PM1b_CNT_BLK (68), PM1_CNT_LEN (89); X_ forms at 172 / 184.
        const AcpiGenericAddress x_pm1a = gas_at(172);
        const AcpiGenericAddress x_pm1b = gas_at(184);
        if (x_pm1a.address != 0)
            f.pm1a_control = x_pm1a;
        else if (u32_at(64) != 0)
            f.pm1a_control = legacy_io_block(u32_at(64), u8_at(89));
        if (x_pm1b.address != 0)
            f.pm1b_control = x_pm1b;
        else if (u32_at(68) != 0)
            f.pm1b_control = legacy_io_block(u32_at(68), u8_at(89));
        f.pm1a_control_port = io_port_of(f.pm1a_control);
        f.pm1b_control_port = io_port_of(f.pm1b_control);
    }

    // IAPC_BOOT_ARCH (109, Table 5.11) was a reserved byte in ACPI 1.0 (FADT revision 1),
    // whose platforms are plain PC/ATs: legacy devices and an 8042 are assumed there.
    if (f.revision >= 2 && has(109, 2)) {
        f.iapc_boot_arch_valid = true;
        f.iapc_boot_arch = u16_at(109);
        f.legacy_devices = (f.iapc_boot_arch & AcpiFadt::kBootLegacyDevices) != 0;
        f.has_8042 = (f.iapc_boot_arch & AcpiFadt::kBoot8042) != 0;
        f.vga_not_present = (f.iapc_boot_arch & AcpiFadt::kBootVgaNotPresent) != 0;
        f.cmos_rtc_not_present = (f.iapc_boot_arch & AcpiFadt::kBootCmosRtcNotPresent) != 0;
    } else {
        f.legacy_devices = true;
        f.has_8042 = true;
    }

    // RESET_REG (116, a GAS) and RESET_VALUE (128): meaningful only with RESET_REG_SUP. The
    // register "must be 8 bits wide" and lives in system I/O, system memory or PCI config space.
    if (has(116, kGasLength) && has(128, 1)) {
        f.reset_register = read_gas(t + 116);
        f.reset_value = t[128];
        if (f.flags & AcpiFadt::kFlagResetRegSup) {
            const u8 space = f.reset_register.space_id;
            if (f.reset_register.address == 0 && space != AcpiGenericAddress::kPciConfig) {
                warn(info_, "FADT: RESET_REG_SUP set but the reset register address is 0");
            } else if (space > AcpiGenericAddress::kPciConfig) {
                warn(info_, "FADT: reset register in unsupported address space %u", space);
            } else {
                f.reset_supported = true;
            }
        }
    } else if (f.flags & AcpiFadt::kFlagResetRegSup) {
        warn(info_, "FADT: RESET_REG_SUP set but the table (%u bytes) ends before RESET_VALUE", length);
    }
}

// IA-PC HPET Specification 1.0a, 3.2.4 "The ACPI 2.0 HPET Description Table": header,
// Event Timer Block ID u32 at 36, BASE_ADDRESS (GAS) at 40, HPET Number u8 at 52, Main
// Counter Minimum Clock_tick u16 at 53, Page Protection and OEM Attribute u8 at 55.
void Parser::parse_hpet(PhysAddr address, const u8* t, u32 length) {
    constexpr u32 kHpetTableLength = 56;
    AcpiHpet& h = info_.hpet;
    if (length < kHpetTableLength) {
        warn(info_, "HPET at 0x%llx: length %u too short; ignored", ull(address), length);
        return;
    }
    h.table_address = address;
    h.event_timer_block_id = read_u32(t + 36);
    h.hardware_revision = u8(h.event_timer_block_id & 0xff);
    // Bits 12:8 mirror NUM_TIM_CAP of the General Capabilities register (HPET 2.3.4),
    // which holds the number of the last timer, not the count.
    h.comparator_count = u8(((h.event_timer_block_id >> 8) & 0x1f) + 1);
    h.counter_64bit = (h.event_timer_block_id & (1u << 13)) != 0;
    h.legacy_replacement = (h.event_timer_block_id & (1u << 15)) != 0;
    h.vendor_id = u16(h.event_timer_block_id >> 16);
    h.base = read_gas(t + 40);
    h.base_address = h.base.address;
    h.hpet_number = t[52];
    h.minimum_tick = read_u16(t + 53);
    h.page_protection = t[55];
    // The HPET registers are memory-mapped (HPET 2.3); any other space is a firmware bug.
    if (h.base.space_id != AcpiGenericAddress::kSystemMemory) {
        warn(info_, "HPET: base address in address space %u, not system memory; ignored", h.base.space_id);
        return;
    }
    if (h.base_address == 0) {
        warn(info_, "HPET: base address is 0; ignored");
        return;
    }
    h.present = true;
}

// PCI Firmware Specification 3.0, 4.1.2 MCFG (Table 4-2): header, 8 reserved bytes, then
// Configuration Space Base Address Allocation Structures of 16 bytes (Table 4-3): Base
// Address u64, PCI Segment Group Number u16, Start Bus u8, End Bus u8, 4 reserved bytes.
// A table whose length leaves a partial structure is ignored whole, as its end cannot be
// trusted; a bad structure is skipped alone. Neither is fatal: the machine boots without
// memory-mapped configuration space (the legacy 0xCF8/0xCFC mechanism still works).
void Parser::parse_mcfg(PhysAddr address, const u8* t, u32 length) {
    constexpr u32 kAllocationsOffset = 44;
    constexpr u32 kAllocationLength = 16;
    constexpr u64 kBusShift = 20;  // 1 MiB of configuration space per bus (PCIe Base 3.0, 7.2.2)
    AcpiMcfg& m = info_.mcfg;
    if (length < kAllocationsOffset || (length - kAllocationsOffset) % kAllocationLength != 0) {
        warn(info_, "MCFG at 0x%llx: length %u is not 44 + 16 * n; ignored", ull(address), length);
        return;
    }
    m.present = true;
    m.table_address = address;
    for (u32 offset = kAllocationsOffset; offset < length; offset += kAllocationLength) {
        const u8* e = t + offset;
        AcpiMcfgAllocation a;
        a.base_address = read_u64(e);
        a.segment = read_u16(e + 8);
        a.start_bus = e[10];
        a.end_bus = e[11];
        const u64 window_bytes = (u64(a.end_bus) + 1) << kBusShift;
        if (a.end_bus < a.start_bus || a.base_address == 0 || a.base_address + window_bytes < a.base_address) {
            warn(info_, "MCFG: segment %u buses %u-%u at 0x%llx is not a valid window; ignored", a.segment, a.start_bus,
                 a.end_bus, ull(a.base_address));
            ++m.ignored_count;
        } else if (m.allocation_count == AcpiMcfg::kMaxAllocations) {
            warn(info_, "MCFG: more than %lu windows; segment %u buses %u-%u ignored", ul(AcpiMcfg::kMaxAllocations),
                 a.segment, a.start_bus, a.end_bus);
            ++m.ignored_count;
        } else {
            m.allocations[m.allocation_count++] = a;
        }
    }
}

}  // namespace

bool parse_acpi(AcpiMemory& mem, const u8* rsdp_bytes, usize rsdp_length, AcpiInfo& out, const char** error) {
    // AcpiInfo is plain data: all-zero is its empty state.
    memset(&out, 0, sizeof out);
    Parser parser(mem, out);
    const bool ok = parser.run(rsdp_bytes, rsdp_length);
    if (error != nullptr) *error = ok ? nullptr : out.error_message;
    return ok;
}

const AcpiTableRef* find_acpi_table(const AcpiInfo& info, const char* signature) {
    for (usize i = 0; i < info.table_count; ++i) {
        if (memcmp(info.tables[i].signature, signature, 4) == 0) return &info.tables[i];
    }
    return nullptr;
}
