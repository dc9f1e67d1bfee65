// Time since boot, from the TSC once it is calibrated (kernel/time.cpp).
#pragma once

#include "kernel/types.hpp"

enum class TscReference : u8 { None, Hpet, Pit };

struct TscCalibration {
    u64 hz = 0;
    TscReference reference = TscReference::None;
    bool invariant = false;  // CPUID 0x80000007 EDX[8] (AMD APM vol. 3, E.4.9)
};

// Measures the TSC against the HPET when there is one, else the PIT.
TscCalibration time_calibrate_tsc(PhysAddr hpet_base);
u64 tsc_hz();
u64 uptime_us();  // from time_mark_boot(); 0 until the TSC is calibrated
void time_mark_boot();
// The TSC at time_mark_boot(): uptime 0.
u64 time_boot_tsc();
// The real date and time when Vireo booted, in Unix seconds (-1 when unknown), from the
// machine's CMOS clock: guests' virtual RTCs start from it.
void time_set_wall_clock(i64 unix_seconds_at_boot);
i64 time_wall_clock_at_boot();
void udelay(u64 microseconds);
const char* tsc_reference_name(TscReference reference);
