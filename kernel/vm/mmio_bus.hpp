// A domain's emulated MMIO space: device models claim guest-physical ranges (which the
// domain's nested page tables leave unmapped); a nested page fault inside one is
// emulated (kernel/emulator) and its accesses reach the device's callbacks. A fault
// outside every claimed range and outside RAM ends the domain, as before.
#pragma once

#include "kernel/types.hpp"

struct Vcpu;

class MmioDevice {
public:
    // `offset` is from the start of the claimed range; `size` is 1, 2, 4 or 8 (the
    // emulator splits wider or unaligned-across-range accesses). Reads fill the low
    // `size` bytes of the result.
    virtual u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) = 0;
    virtual void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) = 0;

protected:
    ~MmioDevice() = default;
};

class MmioBus {
public:
    // dom0 claims its local APIC, I/O APIC and ECAM pages and up to 16 MSI-X tables.
    static constexpr usize kMaxRanges = 32;

    struct Range {
        u64 base = 0;
        u64 size = 0;
        MmioDevice* device = nullptr;

        // Whether [gpa, gpa + size) lies inside the range.
        bool mmio_fits(u64 gpa, u64 size) const { return gpa >= base && gpa - base + size <= this->size; }
    };

    // False when the range is empty, wraps, overlaps another, or the table is full.
    // Claims and releases may happen while other vCPUs look ranges up (dom0 moving a BAR
    // that holds an MSI-X table): a slot is filled before its device is published, and a
    // released slot only loses its device; devices outlive the bus.
    bool claim(u64 base, u64 size, MmioDevice* device);
    // Gives up exactly the range [base, base + size) of `device`; false when not claimed.
    bool release(u64 base, u64 size, MmioDevice* device);
    // The range containing gpa; else the fallback range when there is one; else nullptr.
    const Range* range_at(u64 gpa) const;
    // The claimed range containing gpa (never the fallback), or nullptr.
    const Range* claimed_range_at(u64 gpa) const;
    // Whether any claimed range overlaps [base, base + size).
    bool overlaps(u64 base, u64 size) const;
    // dom0's: what answers an access nothing claims and that may not pass through to the
    // host (kernel/passthrough/): one range over all addresses, offsets = addresses.
    void set_fallback(MmioDevice* device) { fallback_ = {0, ~0ull, device}; }

private:
    Range fallback_ = {};
    Range ranges_[kMaxRanges] = {};
    usize range_count_ = 0;
};
