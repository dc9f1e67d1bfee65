// The blocks of guest-physical RAM of a virtual PC domain of `ram_bytes`
// (kernel/vm/firmware/guest_pc_layout.hpp): below the PCI hole, and the rest above 4 GiB.
// What xm dump-core and xm save read and xm restore writes.
#pragma once

#include <stdint.h>

#include <vector>

#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace xm {

struct RamBlock {
    uint64_t gpa, bytes;
};

inline std::vector<RamBlock> guest_ram_blocks(uint64_t ram_bytes) {
    std::vector<RamBlock> blocks{{0, guest_ram_below_4g(ram_bytes)}};
    if (guest_ram_above_4g(ram_bytes) != 0) blocks.push_back({kGuestHighMemoryStart, guest_ram_above_4g(ram_bytes)});
    return blocks;
}

}  // namespace xm
