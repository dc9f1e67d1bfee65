#include "kernel/vm/msr_rules.hpp"

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
