// What the platform's device models (kernel/vm/devices/pc, apic) need from the rest of
// the hypervisor, kept abstract so that each model is pure code, unit-tested on the host
// with fakes, and built once for both backends.
//
// Timing: models never arm hardware timers themselves. Each model that has a time-driven
// behaviour exposes `u64 next_deadline_ns() const` (kNoDeadline when nothing is due) and
// `void advance_to(u64 now_ns)` (raises whatever became due); the platform calls
// advance_to when a deadline passes and before it delivers interrupts.
#pragma once

#include "kernel/types.hpp"

inline constexpr u64 kNoDeadline = ~0ull;

// A domain's device time: nanoseconds on a monotonic clock (it starts at 0 when the
// domain is created and runs in real time).
class GuestClock {
public:
    virtual u64 now_ns() const = 0;

protected:
    ~GuestClock() = default;
};

// The interrupt input pins of the guest's interrupt controllers, by global system
// interrupt number (GSI). ISA IRQ n is GSI n, except IRQ 0 which is GSI 2 on the IOAPIC
// (the MADT's interrupt source override says so; the PIC still sees it on pin 0, so the
// platform routes ISA IRQs to both). An edge-triggered source raises then lowers its
// line; a level-triggered one holds it.
class InterruptLines {
public:
    virtual void set_isa_irq(u8 irq, bool high) = 0;

protected:
    ~InterruptLines() = default;
};
