#include "kernel/vm/devices/pc/rtc_calendar.hpp"

namespace {
constexpr i64 kSecondsPerDay = 86400;
constexpr i64 kDaysPerEra = 146097;       // 400 Gregorian years
constexpr i64 kEpochFromMarch0 = 719468;  // days from 0000-03-01 to 1970-01-01
}  // namespace

i64 civil_to_days_since_epoch(i64 year, u32 month, u32 day) {
    // Years start on March 1 so that the leap day is the last day of the year.
    year -= month <= 2;
    const i64 era = floor_div(year, 400);
    const i64 year_of_era = year - era * 400;                                                    // [0, 399]
    const i64 day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + i64(day) - 1;  // [0, 365]
    const i64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * kDaysPerEra + day_of_era - kEpochFromMarch0;
}

CalendarTime calendar_from_unix(i64 unix_seconds) {
    const i64 days = floor_div(unix_seconds, kSecondsPerDay);
    const i64 second_of_day = floor_mod(unix_seconds, kSecondsPerDay);
    const i64 shifted = days + kEpochFromMarch0;
    const i64 era = floor_div(shifted, kDaysPerEra);
    const i64 day_of_era = shifted - era * kDaysPerEra;  // [0, 146096]
    const i64 year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const i64 day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const i64 month_from_march = (5 * day_of_year + 2) / 153;  // [0, 11]
    CalendarTime time{};
    time.day = u8(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    time.month = u8(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    time.year = year_of_era + era * 400 + (time.month <= 2);
    time.hour = u8(second_of_day / 3600);
    time.minute = u8(second_of_day / 60 % 60);
    time.second = u8(second_of_day % 60);
    time.weekday = u8(floor_mod(days + 4, 7));  // 1970-01-01 was a Thursday
    return time;
}

i64 unix_from_calendar(const CalendarTime& time) {
    return civil_to_days_since_epoch(time.year, time.month, time.day) * kSecondsPerDay + i64(time.hour) * 3600 +
           i64(time.minute) * 60 + time.second;
}
