// Builders of synthetic ACPI tables for the unit tests (checksums computed here): SDT
// headers, the RSDP, MADT structures, FADT, HPET, MCFG, FACS, and `Firmware`, a small
// complete platform served through FixtureMemory. Shared by the parser's tests and by the
// tests of tables built from the host's (dom0).
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_tables.hpp"
#include "tests/unit/acpi_fixture.hpp"

namespace acpi_test {

using Bytes = std::vector<u8>;

inline void put16(Bytes& b, usize at, u16 v) { std::memcpy(&b[at], &v, 2); }
inline void put32(Bytes& b, usize at, u32 v) { std::memcpy(&b[at], &v, 4); }
inline void put64(Bytes& b, usize at, u64 v) { std::memcpy(&b[at], &v, 8); }
inline void append16(Bytes& b, u16 v) { b.resize(b.size() + 2), put16(b, b.size() - 2, v); }
inline void append32(Bytes& b, u32 v) { b.resize(b.size() + 4), put32(b, b.size() - 4, v); }
inline void append64(Bytes& b, u64 v) { b.resize(b.size() + 8), put64(b, b.size() - 8, v); }

inline u8 sum(const Bytes& b, usize length) {
    u8 s = 0;
    for (usize i = 0; i < length; ++i) s = u8(s + b[i]);
    return s;
}

// Makes bytes [0, length) sum to zero by adjusting the checksum byte at `at`.
inline void fix_checksum(Bytes& b, usize at, usize length) {
    b[at] = 0;
    b[at] = u8(0x100 - sum(b, length));
}

// An SDT with a valid header (ACPI 5.2.6) around `body`.
inline Bytes make_sdt(const char* signature, u8 revision, const Bytes& body, const char* oem_id = "VIREO ") {
    Bytes t(36);
    std::memcpy(&t[0], signature, 4);
    t[8] = revision;
    std::memcpy(&t[10], oem_id, 6);
    std::memcpy(&t[16], "TESTTBL ", 8);
    put32(t, 24, 1);
    std::memcpy(&t[28], "VTST", 4);
    put32(t, 32, 1);
    t.insert(t.end(), body.begin(), body.end());
    put32(t, 4, u32(t.size()));
    fix_checksum(t, 9, t.size());
    return t;
}

// Re-seals a table after a test edits it (Length and checksum).
inline void reseal(Bytes& t) {
    put32(t, 4, u32(t.size()));
    fix_checksum(t, 9, t.size());
}

inline Bytes make_rsdp(u8 revision, u32 rsdt, u64 xsdt) {
    Bytes r(revision >= 2 ? 36 : 20);
    std::memcpy(&r[0], "RSD PTR ", 8);
    std::memcpy(&r[9], "VIREO ", 6);
    r[15] = revision;
    put32(r, 16, rsdt);
    if (revision >= 2) {
        put32(r, 20, 36);
        put64(r, 24, xsdt);
    }
    fix_checksum(r, 8, 20);
    if (revision >= 2) fix_checksum(r, 32, 36);  // covers the first checksum byte too, so it goes second
    return r;
}

// MADT interrupt controller structures (ACPI 5.2.12.x).
inline Bytes lapic(u8 uid, u8 apic_id, u32 flags) {
    Bytes e{0, 8, uid, apic_id};
    append32(e, flags);
    return e;
}
inline Bytes x2apic(u32 apic_id, u32 uid, u32 flags) {
    Bytes e{9, 16, 0, 0};
    append32(e, apic_id);
    append32(e, flags);
    append32(e, uid);
    return e;
}
inline Bytes ioapic(u8 id, u32 address, u32 gsi_base) {
    Bytes e{1, 12, id, 0};
    append32(e, address);
    append32(e, gsi_base);
    return e;
}
inline Bytes iso(u8 source, u32 gsi, u16 flags) {
    Bytes e{2, 10, 0, source};
    append32(e, gsi);
    append16(e, flags);
    return e;
}
inline Bytes lapic_nmi(u8 uid, u16 flags, u8 lint) {
    Bytes e{4, 6, uid};
    append16(e, flags);
    e.push_back(lint);
    return e;
}
inline Bytes x2apic_nmi(u32 uid, u16 flags, u8 lint) {
    Bytes e{0xa, 12};
    append16(e, flags);
    append32(e, uid);
    e.insert(e.end(), {lint, 0, 0, 0});
    return e;
}
inline Bytes lapic_override(u64 address) {
    Bytes e{5, 12, 0, 0};
    append64(e, address);
    return e;
}

inline Bytes make_madt(u32 lapic_address, u32 flags, const std::vector<Bytes>& entries) {
    Bytes body;
    append32(body, lapic_address);
    append32(body, flags);
    for (const Bytes& e : entries) body.insert(body.end(), e.begin(), e.end());
    return make_sdt("APIC", 5, body);
}

inline void put_gas(Bytes& t, usize at, u8 space, u8 width, u8 offset, u8 access, u64 address) {
    t[at] = space;
    t[at + 1] = width;
    t[at + 2] = offset;
    t[at + 3] = access;
    put64(t, at + 4, address);
}

// A FADT (ACPI 5.2.9) like QEMU's q35 one, cut to `length` bytes (276 = revision 6).
inline Bytes make_fadt(u8 revision, usize length, u32 dsdt, u32 facs, u64 x_dsdt = 0) {
    Bytes t(276);
    put32(t, 36, facs);
    put32(t, 40, dsdt);
    put16(t, 46, 9);                        // SCI_INT
    put32(t, 56, 0x600);                    // PM1a_EVT_BLK
    put32(t, 64, 0x604);                    // PM1a_CNT_BLK
    put32(t, 76, 0x608);                    // PM_TMR_BLK
    t[88] = 4;                              // PM1_EVT_LEN
    t[89] = 2;                              // PM1_CNT_LEN
    t[91] = 4;                              // PM_TMR_LEN
    t[108] = 0x32;                          // CENTURY
    put16(t, 109, 0x0003);                  // IAPC_BOOT_ARCH: legacy devices, 8042
    put32(t, 112, (1u << 8) | (1u << 10));  // TMR_VAL_EXT, RESET_REG_SUP
    put_gas(t, 116, 1, 8, 0, 0, 0xcf9);
    t[128] = 0x6;
    put64(t, 140, x_dsdt);
    t.resize(length);
    return make_sdt("FACP", revision, Bytes(t.begin() + 36, t.end()));
}

inline Bytes make_hpet(u32 block_id, u8 space, u64 base, u8 number = 0, u16 min_tick = 0x80) {
    Bytes t(56);
    put32(t, 36, block_id);
    put_gas(t, 40, space, 0, 0, 0, base);
    t[52] = number;
    put16(t, 53, min_tick);
    return make_sdt("HPET", 1, Bytes(t.begin() + 36, t.end()));
}

// An MCFG (PCI Firmware Specification 3.0, 4.1.2) with one 16-byte structure per window.
struct McfgWindow {
    u64 base;
    u16 segment;
    u8 start_bus, end_bus;
};
inline Bytes make_mcfg(const std::vector<McfgWindow>& windows) {
    Bytes body(8);  // reserved
    for (const McfgWindow& w : windows) {
        append64(body, w.base);
        append16(body, w.segment);
        body.push_back(w.start_bus);
        body.push_back(w.end_bus);
        append32(body, 0);
    }
    return make_sdt("MCFG", 1, body);
}

inline Bytes make_facs() {
    Bytes t(64);
    std::memcpy(&t[0], "FACS", 4);
    put32(t, 4, 64);
    t[32] = 1;
    return t;
}

// A small, complete platform: RSDP -> XSDT (and RSDT) -> FACP, APIC, HPET, SSDT; FACP -> DSDT, FACS.
struct Firmware {
    static constexpr PhysAddr kRsdt = 0x7fe1000;
    static constexpr PhysAddr kXsdt = 0x7fe2000;
    static constexpr PhysAddr kFacp = 0x7fe3000;
    static constexpr PhysAddr kApic = 0x7fe4000;
    static constexpr PhysAddr kHpet = 0x7fe5000;
    static constexpr PhysAddr kDsdt = 0x7fe6000;
    static constexpr PhysAddr kFacs = 0x7fe7000;
    static constexpr PhysAddr kSsdt = 0x7fe8000;
    static constexpr PhysAddr kMcfg = 0x7fe9000;  // not listed unless a test adds it

    u8 rsdp_revision = 2;
    bool with_xsdt = true;
    bool with_rsdt = true;
    std::vector<PhysAddr> listed{kFacp, kApic, kHpet, kSsdt};
    std::map<PhysAddr, Bytes> tables;
    FixtureMemory mem;
    Bytes rsdp;
    std::unique_ptr<AcpiInfo> info = std::make_unique<AcpiInfo>();
    const char* error = nullptr;

    Firmware() {
        tables[kFacp] = make_fadt(6, 276, u32(kDsdt), u32(kFacs));
        tables[kApic] = make_madt(0xfee00000, 1,
                                  {lapic(0, 0, 1), lapic(1, 1, 1), lapic(2, 2, 1), lapic(3, 3, 1),
                                   ioapic(0, 0xfec00000, 0), iso(0, 2, 0), iso(9, 9, 0xd), lapic_nmi(0xff, 0, 1)});
        tables[kHpet] = make_hpet(0x8086a201, 0, 0xfed00000);
        tables[kDsdt] = make_sdt("DSDT", 2, Bytes(100, 0xa5));
        tables[kFacs] = make_facs();
        tables[kSsdt] = make_sdt("SSDT", 2, Bytes(40, 0x11));
    }

    // Builds the root tables and the RSDP and places everything in `mem`.
    void install() {
        Bytes rsdt_body, xsdt_body;
        for (PhysAddr a : listed) {
            append32(rsdt_body, u32(a));
            append64(xsdt_body, a);
        }
        if (with_rsdt) mem.add(kRsdt, make_sdt("RSDT", 1, rsdt_body));
        if (with_xsdt) mem.add(kXsdt, make_sdt("XSDT", 1, xsdt_body));
        for (const auto& [address, bytes] : tables) mem.add(address, bytes);
        rsdp = make_rsdp(rsdp_revision, with_rsdt ? u32(kRsdt) : 0, with_xsdt ? kXsdt : 0);
    }

    bool parse() { return parse_acpi(mem, rsdp.data(), rsdp.size(), *info, &error); }
    bool install_and_parse() {
        install();
        return parse();
    }
};

inline std::string all_warnings(const AcpiInfo& info) {
    std::string s;
    for (usize i = 0; i < info.warning_count; ++i) s += std::string(info.warnings[i]) + "\n";
    return s;
}

}  // namespace acpi_test
