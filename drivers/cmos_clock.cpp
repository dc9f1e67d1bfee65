#include "drivers/cmos_clock.hpp"

namespace {

constexpr u16 kIndexPort = 0x70;
constexpr u16 kDataPort = 0x71;
// Register indexes and bits (MC146818A datasheet; Intel ICH9 datasheet 13.6).
constexpr u8 kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kDay = 0x07, kMonth = 0x08, kYear = 0x09;
constexpr u8 kRegisterA = 0x0a, kRegisterB = 0x0b, kCentury = 0x32;
constexpr u8 kUpdateInProgress = 0x80;         // register A
constexpr u8 kBinary = 0x04, kHours24 = 0x02;  // register B
constexpr u8 kPm = 0x80;                       // hours byte in 12-hour mode

u8 read_register(PortIo& io, u8 index) {
    io.out8(kIndexPort, index);  // bit 7 clear: NMI stays enabled, as the host left it
    return io.in8(kDataPort);
}

struct Reading {
    u8 seconds, minutes, hours, day, month, year, century;
    bool operator==(const Reading&) const = default;
};

Reading read_once(PortIo& io) {
    return {read_register(io, kSeconds), read_register(io, kMinutes), read_register(io, kHours),
            read_register(io, kDay),     read_register(io, kMonth),   read_register(io, kYear),
            read_register(io, kCentury)};
}

u8 from_bcd(u8 v) { return u8((v >> 4) * 10 + (v & 0x0f)); }

}  // namespace

i64 days_from_civil(i64 year, u32 month, u32 day) {
    year -= month <= 2;
    const i64 era = (year >= 0 ? year : year - 399) / 400;
    const u32 year_of_era = u32(year - era * 400);
    const u32 day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const u32 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + i64(day_of_era) - 719468;
}

i64 read_cmos_wall_clock(PortIo& io) {
    // The registers change during an update: wait until none is in progress, then read
    // until two readings agree (the usual way, as Linux's mc146818_get_time does).
    Reading r{};
    bool stable = false;
    for (u32 attempt = 0; attempt < 1000 && !stable; ++attempt) {
        for (u32 spin = 0; spin < 100000 && (read_register(io, kRegisterA) & kUpdateInProgress); ++spin) {
        }
        r = read_once(io);
        stable = r == read_once(io);
    }
    if (!stable) return -1;
    const u8 b = read_register(io, kRegisterB);
    const bool pm = !(b & kHours24) && (r.hours & kPm);
    u8 hours = u8(r.hours & ~kPm);
    if (!(b & kBinary)) {
        r.seconds = from_bcd(r.seconds);
        r.minutes = from_bcd(r.minutes);
        hours = from_bcd(hours);
        r.day = from_bcd(r.day);
        r.month = from_bcd(r.month);
        r.year = from_bcd(r.year);
        r.century = from_bcd(r.century);
    }
    if (!(b & kHours24)) hours = u8(hours % 12 + (pm ? 12 : 0));
    const u32 century = r.century >= 19 && r.century <= 99 ? r.century : 20;
    if (r.seconds > 59 || r.minutes > 59 || hours > 23 || r.day < 1 || r.day > 31 || r.month < 1 || r.month > 12 ||
        r.year > 99)
        return -1;
    const i64 days = days_from_civil(i64(century) * 100 + r.year, r.month, r.day);
    return days * 86400 + i64(hours) * 3600 + i64(r.minutes) * 60 + r.seconds;
}
