#include "kernel/vm/firmware/dom0_e820.hpp"

namespace {

struct Inputs {
    const Multiboot2MemoryRegion* host;
    usize host_count;
    const PhysRange* dom0;
    usize dom0_count;
    PhysRange acpi;
};

bool fail(const char** error, const char* why) {
    *error = why;
    return false;
}

bool contains(PhysAddr start, PhysAddr end, PhysAddr at) { return start <= at && at < end; }

// The lowest range boundary above `at` (every start and end of every input), or 0 when none.
PhysAddr next_boundary(const Inputs& in, PhysAddr at) {
    PhysAddr best = 0;
    auto consider = [&best, at](PhysAddr b) {
        if (b > at && (best == 0 || b < best)) best = b;
    };
    for (usize i = 0; i < in.host_count; ++i) {
        if (in.host[i].length == 0) continue;
        consider(in.host[i].base);
        consider(in.host[i].base + in.host[i].length);
    }
    for (usize i = 0; i < in.dom0_count; ++i) {
        consider(in.dom0[i].start);
        consider(in.dom0[i].end);
    }
    if (!in.acpi.empty()) {
        consider(in.acpi.start);
        consider(in.acpi.end);
    }
    return best;
}

// The host's type at `at`: the highest type of the entries that cover it, 0 in a hole.
u32 host_type_at(const Inputs& in, PhysAddr at) {
    u32 type = 0;
    for (usize i = 0; i < in.host_count; ++i) {
        const Multiboot2MemoryRegion& r = in.host[i];
        if (r.length != 0 && contains(r.base, r.base + r.length, at) && r.type > type) type = r.type;
    }
    return type;
}

bool owned_by_dom0(const Inputs& in, PhysAddr at) {
    for (usize i = 0; i < in.dom0_count; ++i) {
        if (contains(in.dom0[i].start, in.dom0[i].end, at)) return true;
    }
    return false;
}

// Appends [start, end) of `type`, merged into the last entry when it continues it.
bool append(E820Map& map, PhysAddr start, PhysAddr end, u32 type) {
    if (map.count != 0) {
        E820Entry& last = map.entries[map.count - 1];
        if (last.type == type && last.address + last.size == start) {
            last.size += end - start;
            return true;
        }
    }
    if (map.count == E820Map::kMaxEntries) return false;
    map.entries[map.count++] = {start, end - start, type};
    return true;
}

const char* check_inputs(const Inputs& in) {
    for (usize i = 0; i < in.host_count; ++i) {
        if (in.host[i].base + in.host[i].length < in.host[i].base) return "dom0 e820: a host region wraps around 2^64";
    }
    for (usize i = 0; i < in.dom0_count; ++i) {
        const PhysRange& r = in.dom0[i];
        if (r.empty()) return "dom0 e820: one of dom0's memory ranges is empty";
        if (!is_aligned(r.start, kPageSize) || !is_aligned(r.end, kPageSize)) {
            return "dom0 e820: dom0's memory ranges must be 4 KiB aligned";
        }
        if (i > 0 && r.start < in.dom0[i - 1].end) return "dom0 e820: dom0's memory ranges are not sorted and disjoint";
    }
    if (!in.acpi.empty() && (!is_aligned(in.acpi.start, kPageSize) || !is_aligned(in.acpi.end, kPageSize))) {
        return "dom0 e820: the ACPI table area must be 4 KiB aligned";
    }
    return nullptr;
}

}  // namespace

bool build_dom0_e820(const Multiboot2MemoryRegion* host, usize host_count, const PhysRange* dom0, usize dom0_count,
                     PhysRange acpi_tables, E820Map& out, const char** error) {
    out.count = 0;
    const Inputs in{host, host_count, dom0, dom0_count, acpi_tables};
    if (const char* problem = check_inputs(in)) return fail(error, problem);

    // A sweep over the pieces between consecutive boundaries of all inputs: each piece has
    // one host type and is wholly inside or outside each of dom0's ranges and the ACPI
    // area. Quadratic in the number of ranges (a few hundred at most), with no storage.
    // Pieces no input covers (type 0) are holes and produce no entry.
    PhysAddr at = 0;
    while (true) {
        const PhysAddr end = next_boundary(in, at);
        if (end == 0) break;
        const u32 host_type = host_type_at(in, at);
        const bool owned = owned_by_dom0(in, at);
        const bool acpi = !in.acpi.empty() && contains(in.acpi.start, in.acpi.end, at);
        if (acpi && !owned) return fail(error, "dom0 e820: the ACPI table area is not inside dom0's memory");
        if (owned && host_type != kE820Ram) return fail(error, "dom0 e820: dom0 owns memory that is not host RAM");
        u32 type = host_type;  // reserved, ACPI, NVS, bad (and unknown types) as the host says
        if (acpi) {
            type = kE820Acpi;
        } else if (owned) {
            type = kE820Ram;
        } else if (host_type == kE820Ram) {
            type = kE820Reserved;  // Vireo's or another domain's
        }
        if (type != 0 && !append(out, at, end, type)) {
            return fail(error, "dom0 e820: the map needs more entries than boot_params holds (128)");
        }
        at = end;
    }
    *error = nullptr;
    return true;
}
