#include "kernel/symbols.hpp"

SymbolMatch find_symbol(const SymbolEntry* entries, u64 count, u64 address, u64 end) {
    if (count == 0 || address < entries[0].address || address >= end) return {};
    // Last entry whose address is <= `address` (binary search).
    u64 lo = 0, hi = count;
    while (hi - lo > 1) {
        const u64 mid = lo + (hi - lo) / 2;
        if (entries[mid].address <= address)
            lo = mid;
        else
            hi = mid;
    }
    return {entries[lo].name, address - entries[lo].address};
}

#if defined(VIREO_KERNEL)
extern "C" const u8 __ksyms_start[], __ksyms_end[];
extern "C" const u8 __text_end[];

bool kernel_symbols_in_place() {
    const u64 bytes = u64(__ksyms_end - __ksyms_start);
    if (bytes < 8 + sizeof(SymbolEntry)) return false;
    const u64 count = *reinterpret_cast<const u64*>(__ksyms_start);
    if (count == 0 || count > (bytes - 8) / sizeof(SymbolEntry)) return false;
    const auto* first = reinterpret_cast<const SymbolEntry*>(__ksyms_start + 8);
    const auto name = reinterpret_cast<const u8*>(first->name);
    return name >= __ksyms_start && name < __ksyms_end;
}

SymbolMatch kernel_symbol(u64 address) {
    if (__ksyms_end - __ksyms_start < 8) return {};
    const u64 count = *reinterpret_cast<const u64*>(__ksyms_start);
    const auto* entries = reinterpret_cast<const SymbolEntry*>(__ksyms_start + 8);
    return find_symbol(entries, count, address, reinterpret_cast<u64>(__text_end));
}
#endif
