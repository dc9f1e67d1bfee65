#include "drivers/pit.hpp"

#include "kernel/x86/instructions.hpp"

namespace {
constexpr u32 kPitHz = 1193182;
constexpr u16 kChannel2Data = 0x42;
constexpr u16 kCommand = 0x43;
constexpr u16 kSpeakerControl = 0x61;  // bit 0: channel 2 gate; bit 5: channel 2 output
}  // namespace

u64 pit_measure_tsc_hz() {
    // Channel 2 in mode 0 (interrupt on terminal count) counts down from `count`; its
    // output, readable in port 0x61 bit 5, goes high at zero (8254 datasheet, mode 0).
    constexpr u32 kMilliseconds = 50;
    constexpr u32 count = kPitHz * kMilliseconds / 1000;
    u8 control = x86::inb(kSpeakerControl);
    x86::outb(kSpeakerControl, u8((control & ~0x02) | 0x01));  // gate on, speaker off
    x86::outb(kCommand, 0xb0);                                 // channel 2, lo/hi, mode 0
    x86::outb(kChannel2Data, u8(count & 0xff));
    x86::outb(kChannel2Data, u8(count >> 8));
    const u64 start = x86::rdtsc();
    for (u64 spins = 0; !(x86::inb(kSpeakerControl) & 0x20); ++spins) {
        if (spins > 100000000ull) return 0;  // no PIT: caller reports it
    }
    const u64 end = x86::rdtsc();
    return (end - start) * 1000 / kMilliseconds;
}
