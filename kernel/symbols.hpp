// Symbol lookup for backtraces. The table is generated at build time from the first
// link of the hypervisor (cmake/gen-ksyms.sh) and linked into the .ksyms section:
//   u64 count; count x {u64 address; u64 name_pointer}; names (NUL-terminated)
// sorted by address. Pure logic, so it is unit-tested with a table built in the test.
#pragma once

#include "kernel/types.hpp"

struct SymbolEntry {
    u64 address;
    const char* name;
};

struct SymbolMatch {
    const char* name = nullptr;  // null: no symbol at or below the address
    u64 offset = 0;
};

// `entries` sorted by address; `end` bounds the last symbol (the end of text).
SymbolMatch find_symbol(const SymbolEntry* entries, u64 count, u64 address, u64 end);

// The hypervisor's own table (kernel only).
SymbolMatch kernel_symbol(u64 address);

// Whether the table is where the image was linked to have it: a count that fits the
// section and a first name inside it. Not so when a loader copied the ELF file flat
// (a Multiboot version 1 loader given vireo.elf rather than vireo-boot.bin: the file's
// bytes after .data are not the image's, and .ksyms lands in .bss).
bool kernel_symbols_in_place();
