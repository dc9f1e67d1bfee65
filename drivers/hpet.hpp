// HPET main counter, used as the reference clock for TSC calibration
// (IA-PC HPET specification 1.0a, section 2.3).
#pragma once

#include "kernel/types.hpp"

bool hpet_init(PhysAddr base);  // maps the registers and starts the main counter
u64 hpet_counter();
u64 hpet_counter_mask();  // all ones, or 0xffffffff for a 32-bit counter (COUNT_SIZE_CAP = 0)
u64 hpet_period_fs();
u64 hpet_ticks_for_us(u64 microseconds);
