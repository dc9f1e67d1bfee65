#include "drivers/acpi/acpi_dump.hpp"

#include <stdio.h>
#include <string.h>

namespace {

using EmitLine = void (*)(const char* line, void* ctx);
// %lu/%llx with casts rather than %zu: see acpi_tables.cpp.
using ul = unsigned long;
using ull = unsigned long long;

// Longest line: prefix (10) + "SIG " (5) + offset (at most 6 hex digits for 1 MiB tables)
// + ": " + 64 hex digits + NUL, well under this.
constexpr usize kLineLength = 128;

void emit_table(EmitLine emit_line, void* ctx, const char* signature, PhysAddr address, const u8* bytes, usize length) {
    static const char kHex[] = "0123456789abcdef";
    char line[kLineLength];
    snprintf(line, sizeof line, "%stable %s addr=0x%llx len=%lu", kAcpiDumpPrefix, signature, ull(address), ul(length));
    emit_line(line, ctx);
    for (usize offset = 0; offset < length; offset += kAcpiDumpBytesPerLine) {
        // Formatted by hand: a 1 MiB table is 32768 lines, and the serial console is slow
        // enough without a printf call per byte.
        int used = snprintf(line, sizeof line, "%s%s %04lx: ", kAcpiDumpPrefix, signature, ul(offset));
        usize pos = used > 0 ? usize(used) : 0;
        const usize count = length - offset < kAcpiDumpBytesPerLine ? length - offset : kAcpiDumpBytesPerLine;
        for (usize i = 0; i < count && pos + 2 < sizeof line; ++i) {
            line[pos++] = kHex[bytes[offset + i] >> 4];
            line[pos++] = kHex[bytes[offset + i] & 0xf];
        }
        line[pos] = '\0';
        emit_line(line, ctx);
    }
    snprintf(line, sizeof line, "%send %s", kAcpiDumpPrefix, signature);
    emit_line(line, ctx);
}

}  // namespace

void dump_acpi_tables(AcpiMemory& mem, const AcpiInfo& info, void (*emit_line)(const char* line, void* ctx),
                      void* ctx) {
    if (info.rsdp_length != 0) emit_table(emit_line, ctx, "RSDP", 0, info.rsdp, info.rsdp_length);
    for (usize i = 0; i < info.table_count; ++i) {
        const AcpiTableRef& table = info.tables[i];
        const u8* bytes =
            table.address + table.length >= table.address ? mem.map(table.address, table.length) : nullptr;
        if (bytes == nullptr) {
            char line[kLineLength];
            snprintf(line, sizeof line, "%smissing %s addr=0x%llx len=%u", kAcpiDumpPrefix, table.signature,
                     ull(table.address), table.length);
            emit_line(line, ctx);
            continue;
        }
        emit_table(emit_line, ctx, table.signature, table.address, bytes, table.length);
    }
    char line[kLineLength];
    snprintf(line, sizeof line, "%sdone", kAcpiDumpPrefix);
    emit_line(line, ctx);
}
