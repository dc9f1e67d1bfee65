#include "kernel/vm/msr_rules.hpp"

namespace {
constexpr u64 kEferAllowed = (1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11);  // SCE LME LMA NXE
}

bool valid_guest_efer(u64 value) { return (value & ~kEferAllowed) == 0; }

bool valid_pat(u64 value) {
    for (int i = 0; i < 8; ++i) {
        const u64 type = (value >> (8 * i)) & 0xff;
        if (type == 2 || type == 3 || type > 7) return false;  // reserved encodings
    }
    return true;
}

bool is_canonical(u64 address) {
    const u64 top = address >> 47;
    return top == 0 || top == 0x1ffff;
}
