#include "kernel/vm/firmware/dom0_acpi_tables.hpp"

#include <stdio.h>
#include <string.h>

#include "kernel/vm/firmware/acpi_structure_writer.hpp"
#include "kernel/vm/firmware/guest_acpi_tables.hpp"
#include "kernel/vm/firmware/guest_memory_writer.hpp"

namespace {

// OEM Table ID of the tables written here (ACPI 5.2.6); the OEMID is Vireo's too, so that
// Linux's OEM-keyed MADT quirks (platforms recognised by the MADT's OEM ID) see a Vireo
// table, which is what it is.
constexpr char kOemTableId[8] = {'V', 'I', 'R', 'E', 'O', 'D', 'M', '0'};
constexpr u8 kRootTableRevision = 1;  // RSDT (5.2.7) and XSDT (5.2.8)

// What becomes of one table of the host's list in dom0's root tables.
enum class Listing : u8 {
    kNotAnEntry,  // the root tables themselves, and the DSDT and FACS, which the FADT points to (5.2.9)
    kHostTable,   // listed by its host-physical address: dom0 reads it in place
    kNewMadt,     // the host's MADT: the new one takes its place in the list
    kDropped,
};

bool same_signature(const char* a, const char* b) { return memcmp(a, b, 4) == 0; }

Listing listing_of(const AcpiTableRef& t, const AcpiInfo& host, const Dom0AcpiConfig& config) {
    const char* sig = t.signature;
    if (same_signature(sig, "RSDT") || same_signature(sig, "XSDT") || same_signature(sig, "DSDT") ||
        same_signature(sig, "FACS")) {
        return Listing::kNotAnEntry;
    }
    // The parser decoded the first MADT only; any other would contradict the new one.
    if (same_signature(sig, "APIC"))
        return t.address == host.madt.table_address ? Listing::kNewMadt : Listing::kDropped;
    for (usize i = 0; i < config.dropped_count; ++i) {
        if (same_signature(sig, config.dropped[i])) return Listing::kDropped;
    }
    // dom0 must see exactly the ECAM windows Vireo traps: the MCFG the parser decoded, and
    // not a malformed one it ignored or a second one (an OS uses the first it finds).
    if (same_signature(sig, "MCFG")) {
        return host.mcfg.present && t.address == host.mcfg.table_address ? Listing::kHostTable : Listing::kDropped;
    }
    return Listing::kHostTable;
}

struct Plan {
    usize entries = 0;  // XSDT entries: kept host tables and the new MADT
    usize kept = 0;
    usize dropped = 0;
    bool entries_below_4g = true;
    u64 madt_length = 0;
    u8 madt_revision = 0;
    u16 nmi_flags = 0;
};

struct Layout {
    u64 rsdp, xsdt, madt, rsdt, end;  // rsdt = 0: none
};

using ul = unsigned long;
using ull = unsigned long long;

__attribute__((format(printf, 2, 3))) Dom0AcpiBuildResult failure(Dom0AcpiBuildResult& r, const char* fmt, ...) {
    __builtin_va_list args;
    __builtin_va_start(args, fmt);
    vsnprintf(r.error, sizeof r.error, fmt, args);
    __builtin_va_end(args);
    r.ok = false;
    return r;
}

// Why the config cannot be described, or nullptr. Local APIC ids are the vCPU indexes in
// 8-bit Processor Local APIC structures (5.2.12.2), where 0xFF means "all".
const char* check_config(const Dom0AcpiConfig& c) {
    if (c.vcpu_count == 0) return "dom0 ACPI: dom0 needs at least one vCPU";
    if (c.vcpu_count > kAcpiMaxVcpus) return "dom0 ACPI: more vCPUs than xAPIC ids (255)";
    if (c.ioapic_id < c.vcpu_count) return "dom0 ACPI: the I/O APIC id collides with a local APIC id";
    if (c.ioapic_address == 0 || c.local_apic_address == 0) return "dom0 ACPI: interrupt controller address is 0";
    if (c.ioapic_pins == 0 || c.ioapic_pins > Dom0AcpiConfig::kMaxIoApicPins) {
        return "dom0 ACPI: the I/O APIC pin count is outside 1..256";
    }
    if (c.ioapic_gsi_base > ~u32(0) - c.ioapic_pins) return "dom0 ACPI: the I/O APIC's GSIs run past 2^32";
    if (c.dropped_count > Dom0AcpiConfig::kMaxDroppedSignatures) return "dom0 ACPI: too many dropped signatures";
    return nullptr;
}

// The host's own Local APIC NMI on LINT1 gives the flags (polarity, trigger) of dom0's;
// LINT1 because that is where the virtual local APICs take NMIs, whatever the host's wiring.
u16 host_lint1_nmi_flags(const AcpiMadt& madt) {
    for (usize i = 0; i < madt.local_apic_nmi_count; ++i) {
        if (madt.local_apic_nmis[i].lint == kMadtLint1) return madt.local_apic_nmis[i].flags;
    }
    return 0;  // conforming to the bus: edge, active high
}

// The tables are written to the identity-mapped dom0 memory, i.e. to host memory: an area
// over a host table would overwrite what dom0 (and Vireo) read there.
const AcpiTableRef* host_table_overlapping(const AcpiInfo& host, u64 start, u64 end) {
    for (usize i = 0; i < host.table_count; ++i) {
        const AcpiTableRef& t = host.tables[i];
        if (t.address < end && start < t.address + t.length) return &t;
    }
    return nullptr;
}

void write_root_table(GuestMemoryWriter& w, const char* signature, u64 entry_size, const AcpiInfo& host,
                      const Dom0AcpiConfig& config, u64 madt_gpa) {
    const u64 start = w.position();
    write_acpi_sdt_header(w, signature, kRootTableRevision, kOemTableId);
    auto entry = [&w, entry_size](u64 address) {
        if (entry_size == 8)
            w.u64_le(address);
        else
            w.u32_le(u32(address));
    };
    for (usize i = 0; i < host.table_count; ++i) {
        const AcpiTableRef& t = host.tables[i];
        const Listing l = listing_of(t, host, config);
        if (l == Listing::kHostTable) entry(t.address);
        if (l == Listing::kNewMadt) entry(madt_gpa);
    }
    finish_acpi_sdt(w, start);
}

// ACPI 5.2.12: dom0's processors (enabled, UID = APIC id = vCPU index; the host's own
// processors, xAPIC or x2APIC, are Vireo's and not described), the virtual I/O APIC, the
// host's interrupt source overrides unchanged, and NMI on LINT1 of every processor. The
// host's other structures are not carried over: NMI sources (type 3) are inputs of the
// real I/O APICs, which Vireo owns, and the rest describe other interrupt models.
void write_madt(GuestMemoryWriter& w, const AcpiInfo& host, const Dom0AcpiConfig& c, const Plan& plan) {
    const u64 start = w.position();
    write_acpi_sdt_header(w, "APIC", plan.madt_revision, kOemTableId);
    w.u32_le(c.local_apic_address);                         // 36 Local Interrupt Controller Address
    w.u32_le(host.madt.pcat_compat ? kMadtPcAtCompat : 0);  // 40 Flags: dom0 has virtual 8259s where the host has them
    for (u32 cpu = 0; cpu < c.vcpu_count; ++cpu) write_madt_local_apic(w, u8(cpu), u8(cpu));
    write_madt_ioapic(w, c.ioapic_id, c.ioapic_address, c.ioapic_gsi_base);
    for (usize i = 0; i < host.madt.override_count; ++i) {
        const AcpiInterruptOverride& o = host.madt.overrides[i];
        write_madt_override(w, o.bus, o.source, o.gsi, o.flags);
    }
    write_madt_local_apic_nmi(w, kMadtAllProcessors, plan.nmi_flags, kMadtLint1);
    finish_acpi_sdt(w, start);
}

}  // namespace

Dom0AcpiBuildResult build_dom0_acpi_tables(GuestPhysicalMemory& memory, u64 base_gpa, u64 max_size,
                                           const AcpiInfo& host, const Dom0AcpiConfig& config) {
    Dom0AcpiBuildResult r;
    if (const char* problem = check_config(config)) return failure(r, "%s", problem);
    if (!is_aligned(base_gpa, 16)) return failure(r, "dom0 ACPI: the RSDP must be 16-byte aligned (ACPI 5.2.5.1)");
    if (base_gpa + max_size < base_gpa) return failure(r, "dom0 ACPI: the table area wraps around 2^64");
    if (!host.madt.present) return failure(r, "dom0 ACPI: the host has no MADT to take interrupt overrides from");

    // Every host override names a GSI dom0's I/O APIC must deliver, as the real one does.
    const u64 gsi_end = u64(config.ioapic_gsi_base) + config.ioapic_pins;
    for (usize i = 0; i < host.madt.override_count; ++i) {
        const AcpiInterruptOverride& o = host.madt.overrides[i];
        if (o.gsi < config.ioapic_gsi_base || o.gsi >= gsi_end) {
            return failure(r,
                           "dom0 ACPI: the host routes IRQ %u to GSI %u, outside the virtual I/O APIC's GSIs %u-%llu",
                           o.source, o.gsi, config.ioapic_gsi_base, ull(gsi_end - 1));
        }
    }
    if (host.mcfg.present && host.mcfg.ignored_count != 0) {
        bool mcfg_dropped = false;
        for (usize i = 0; i < config.dropped_count; ++i) mcfg_dropped |= same_signature(config.dropped[i], "MCFG");
        if (!mcfg_dropped) {
            return failure(r,
                           "dom0 ACPI: the host's MCFG lists %lu ECAM windows Vireo did not record; dom0 would "
                           "reach them untrapped",
                           ul(host.mcfg.ignored_count));
        }
    }

    Plan plan;
    for (usize i = 0; i < host.table_count; ++i) {
        const AcpiTableRef& t = host.tables[i];
        switch (listing_of(t, host, config)) {
            case Listing::kHostTable:
                ++plan.entries;
                ++plan.kept;
                plan.entries_below_4g &= t.address < 4 * GiB;
                break;
            case Listing::kNewMadt:
                ++plan.entries;
                ++plan.dropped;
                plan.madt_revision = t.revision;
                break;
            case Listing::kDropped: ++plan.dropped; break;
            case Listing::kNotAnEntry: break;
        }
    }
    plan.madt_length = kMadtFixedLength + config.vcpu_count * kMadtLocalApicLength + kMadtIoApicLength +
                       host.madt.override_count * kMadtOverrideLength + kMadtNmiLength;
    plan.nmi_flags = host_lint1_nmi_flags(host.madt);

    // The RSDP first, at the base; each table 16-byte aligned; the RSDT last, so that it
    // can be left out when a 32-bit address cannot reach what it would list (5.2.7).
    Layout l{};
    u64 next = base_gpa;
    auto place = [&next](u64 length) {
        const u64 at = align_up(next, 16);
        next = at + length;
        return at;
    };
    l.rsdp = place(kAcpiRsdpLength);
    l.xsdt = place(kAcpiSdtHeaderLength + 8 * plan.entries);
    l.madt = place(plan.madt_length);
    const u64 end_without_rsdt = next;
    const u64 rsdt = place(kAcpiSdtHeaderLength + 4 * plan.entries);
    if (plan.entries_below_4g && next <= 4 * GiB) {
        l.rsdt = rsdt;
    } else {
        next = end_without_rsdt;
    }
    l.end = next;
    if (l.end - base_gpa > max_size) {
        return failure(r, "dom0 ACPI: the tables need %llu bytes, the area holds %llu", ull(l.end - base_gpa),
                       ull(max_size));
    }
    if (const AcpiTableRef* t = host_table_overlapping(host, base_gpa, l.end)) {
        return failure(r, "dom0 ACPI: the table area [0x%llx, 0x%llx) overlaps the host's %s at 0x%llx", ull(base_gpa),
                       ull(l.end), t->signature, ull(t->address));
    }

    GuestMemoryWriter w(memory, base_gpa);
    write_acpi_rsdp(w, u32(l.rsdt), l.xsdt);
    w.zeros(l.xsdt - w.position());
    write_root_table(w, "XSDT", 8, host, config, l.madt);
    w.zeros(l.madt - w.position());
    write_madt(w, host, config, plan);
    if (l.rsdt != 0) {
        w.zeros(l.rsdt - w.position());
        write_root_table(w, "RSDT", 4, host, config, l.madt);
    }
    if (!w.ok()) return failure(r, "dom0 ACPI: guest memory refused a write to the table area");
    if (w.position() != l.end) return failure(r, "dom0 ACPI: internal error: table sizes disagree with the layout");

    r.ok = true;
    r.rsdp_gpa = l.rsdp;
    r.xsdt_gpa = l.xsdt;
    r.rsdt_gpa = l.rsdt;
    r.madt_gpa = l.madt;
    r.bytes_used = l.end - base_gpa;
    r.host_tables_listed = plan.kept;
    r.host_tables_dropped = plan.dropped;
    return r;
}
