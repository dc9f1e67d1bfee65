// The 8254 PIT, used only to calibrate the TSC when there is no HPET.
#pragma once

#include "kernel/types.hpp"

u64 pit_measure_tsc_hz();
