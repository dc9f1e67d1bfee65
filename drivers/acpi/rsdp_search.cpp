#include "drivers/acpi/rsdp_search.hpp"

#include <string.h>

#include "drivers/acpi/table_bytes.hpp"

namespace {

constexpr PhysAddr kEbdaSegmentWord = 0x40e;  // BIOS data area (ACPI 6.5, 5.2.5.1)
constexpr u64 kEbdaSearchLength = 1 * KiB;
constexpr PhysAddr kBiosRomStart = 0xe0000;
constexpr PhysAddr kBiosRomEnd = 0x100000;
constexpr u64 kRsdpV1Length = 20;
constexpr u64 kXsdpLength = 36;

// A valid RSDP at `phys` (ACPI 6.5, 5.2.5.3): its signature, its checksum over the first
// 20 bytes, and from revision 2 on its extended checksum over the 36 of the XSDP.
bool valid_rsdp_at(AcpiMemory& memory, PhysAddr phys, FoundRsdp& out) {
    const u8* rsdp = memory.map(phys, kRsdpV1Length);
    if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) != 0 || table_bytes::byte_sum(rsdp, kRsdpV1Length) != 0) return false;
    const u8 revision = rsdp[15];
    const usize length = revision >= 2 ? kXsdpLength : kRsdpV1Length;
    if (revision >= 2) {
        rsdp = memory.map(phys, kXsdpLength);
        if (!rsdp) return false;
        // 36 is the XSDP's length (ACPI 6.5, table 5.3), all the ACPI parser takes.
        if (table_bytes::read_u32(rsdp + 20) != kXsdpLength || table_bytes::byte_sum(rsdp, kXsdpLength) != 0)
            return false;
    }
    out.address = phys;
    out.length = length;
    memset(out.bytes, 0, sizeof out.bytes);
    memcpy(out.bytes, rsdp, length);
    return true;
}

bool search(AcpiMemory& memory, PhysAddr start, PhysAddr end, FoundRsdp& out) {
    for (PhysAddr at = start; at + kRsdpV1Length <= end; at += 16)
        if (valid_rsdp_at(memory, at, out)) return true;
    return false;
}

}  // namespace

bool find_rsdp_in_bios_areas(AcpiMemory& memory, FoundRsdp& out) {
    if (const u8* word = memory.map(kEbdaSegmentWord, 2)) {
        const PhysAddr ebda = PhysAddr(table_bytes::read_u16(word)) << 4;
        // An EBDA lies below the 640 KiB line; anything else is no EBDA.
        if (ebda >= 0x400 && ebda + kEbdaSearchLength <= 0xa0000 && search(memory, ebda, ebda + kEbdaSearchLength, out))
            return true;
    }
    return search(memory, kBiosRomStart, kBiosRomEnd, out);
}
