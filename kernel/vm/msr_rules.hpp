// Architectural validity rules for guest MSR writes (pure; unit-tested).
#pragma once

#include "kernel/types.hpp"

bool valid_pat(u64 value);       // every entry a defined memory type (SDM vol. 3, 11.12.2)
bool is_canonical(u64 address);  // bits 63:47 all equal (48-bit linear addresses)
