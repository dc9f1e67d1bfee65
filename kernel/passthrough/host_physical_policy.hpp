// Which host-physical addresses Domain-0 may reach straight through its nested page
// tables. dom0 owns the machine's devices, so a page of its guest-physical space that is
// neither its RAM nor an emulated device is the real machine's page at the same address
// (identity), mapped uncached on first touch: PCI BARs wherever dom0 puts them, the
// firmware's ROM and reserved regions, the ACPI tables. Never reachable: host RAM (all of
// it: dom0's own is mapped already, the rest is Vireo's image, heap and page tables and
// other domains' memory) and the device pages Vireo keeps for itself (local APIC, I/O
// APICs, HPET, later the IOMMUs). Xen's PVH dom0 draws the same line (its e820 RAM is
// never MMIO; iomem_deny_access for the hypervisor's devices).
//
// Pure: filled at boot from the Multiboot2 memory map and the ACPI tables, unit-tested.
#pragma once

#include "kernel/types.hpp"

class HostPhysicalPolicy {
public:
    static constexpr usize kMaxRanges = 128;
    // Physical addresses have at most 52 bits (Intel SDM vol. 3A 4.1.4, AMD APM vol. 2
    // 5.3.1): nothing above can be a device.
    static constexpr PhysAddr kPhysicalLimit = 1ull << 52;

    // Nothing at or above `limit` may pass (never above kPhysicalLimit). The machine's
    // usable width is often less: bits at the top of the physical address that select a
    // memory-encryption key (AMD SME's C-bit, Intel TME-MK's KeyIDs) make an address up
    // there another view of host RAM, which the RAM ranges below it would not catch
    // (host_address_width.hpp).
    void set_physical_limit(PhysAddr limit) { limit_ = limit < kPhysicalLimit ? limit : kPhysicalLimit; }
    PhysAddr physical_limit() const { return limit_; }

    // Host RAM (Multiboot2 type 1, byte granular as firmware gives it: a page that holds
    // any RAM byte counts as RAM). False when the table is full (then nothing may pass:
    // see allowed).
    bool add_ram(PhysAddr start, PhysAddr end);
    // A device range the hypervisor keeps.
    bool deny(PhysAddr start, PhysAddr end, const char* what);

    // Whether every page that [start, end) touches may be mapped through. Always false
    // after a failed add_ram or deny: a policy that lost a range must not guess.
    bool allowed(PhysAddr start, PhysAddr end) const;
    // The denied range holding `address` (its name), or nullptr.
    const char* denied_what(PhysAddr address) const;

private:
    struct Range {
        PhysAddr start, end;  // page aligned outward
        const char* what;     // nullptr for RAM
    };
    bool add(PhysAddr start, PhysAddr end, const char* what);

    Range ranges_[kMaxRanges] = {};
    usize count_ = 0;
    bool overflowed_ = false;
    PhysAddr limit_ = kPhysicalLimit;
};
