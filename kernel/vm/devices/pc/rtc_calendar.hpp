// Unix time <-> proleptic Gregorian calendar (UTC), in integer arithmetic valid for any
// i64 day count, for the CMOS RTC's time registers. The day arithmetic is Howard
// Hinnant's days_from_civil / civil_from_days ("chrono-compatible low-level date
// algorithms"), which works in 400-year eras and needs no tables or loops.
#pragma once

#include "kernel/types.hpp"

struct CalendarTime {
    i64 year;
    u8 month;    // 1-12
    u8 day;      // 1-31
    u8 hour;     // 0-23
    u8 minute;   // 0-59
    u8 second;   // 0-59
    u8 weekday;  // 0 = Sunday .. 6 = Saturday
};

// Days since 1970-01-01 of year/month/day. Fields out of range roll over linearly
// (day 32 of January is February 1) for months 1-12; callers clamp the month.
i64 civil_to_days_since_epoch(i64 year, u32 month, u32 day);
CalendarTime calendar_from_unix(i64 unix_seconds);
i64 unix_from_calendar(const CalendarTime& time);

// Floor division and its non-negative remainder, for times before 1970.
constexpr i64 floor_div(i64 a, i64 b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }
constexpr i64 floor_mod(i64 a, i64 b) { return a - floor_div(a, b) * b; }
