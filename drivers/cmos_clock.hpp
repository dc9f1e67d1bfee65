// The machine's own real-time clock (MC146818-compatible CMOS RTC at ports 0x70/0x71),
// read once at boot so that guests' virtual RTCs start from the real date and time.
// Pure logic over PortIo; unit-tested with a fake.
#pragma once

#include "drivers/port_io.hpp"
#include "kernel/types.hpp"

// Unix seconds (UTC, as the PC's RTC is kept by Linux hosts and QEMU) or -1 when the
// clock reads nonsense (no RTC, or values out of range).
i64 read_cmos_wall_clock(PortIo& io);

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
i64 days_from_civil(i64 year, u32 month, u32 day);
