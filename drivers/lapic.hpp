// The local APIC of each CPU (Intel SDM vol. 3, chapter 11; AMD APM vol. 2, chapter 16),
// in xAPIC (MMIO) or x2APIC (MSR) mode: x2APIC when CPUID advertises it, because
// APIC IDs above 255 need it. Used for timers, IPIs and starting the APs.
#pragma once

#include "kernel/types.hpp"

enum class LapicMode : u8 { XApic, X2Apic };

// Once, on the boot CPU: picks the mode and maps the xAPIC registers.
void lapic_init_boot_cpu();
// On every CPU: enables the APIC (in the chosen mode), masks its local interrupts and
// installs the spurious vector.
void lapic_init_this_cpu();
LapicMode lapic_mode();
const char* lapic_mode_name();
u32 lapic_id();
void lapic_eoi();

// IPIs (SDM vol. 3, 11.6.1). Return false if the xAPIC never accepted the IPI.
bool lapic_send_init(u32 apic_id);
bool lapic_send_startup(u32 apic_id, u8 vector_page);
void lapic_send_nmi_to_all_others();
// A fixed interrupt with `vector` to one CPU (the scheduler's kick).
bool lapic_send_fixed(u32 apic_id, u8 vector);

// The APIC timer (SDM vol. 3, 11.5.4), counting at bus clock / 16.
u64 lapic_timer_calibrate();  // measures ticks per millisecond against the TSC
void lapic_timer_oneshot(u64 microseconds, u8 vector);
void lapic_timer_periodic(u64 microseconds, u8 vector);
void lapic_timer_stop();
