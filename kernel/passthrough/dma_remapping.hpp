// The machine's IOMMUs of one vendor, as kernel/passthrough/dma_protection.cpp drives them:
// AMD-Vi (amd_vi_remapping.cpp) or VT-d (vtd_remapping.cpp). Each takes its units from
// its ACPI table at boot, and when Domain-0 exists builds I/O page tables of Domain-0's
// RAM in its format, turns the units on (remapping interrupts where they can), hands
// their faults to a DmaFaultLog, and takes Domain-0's RAM away again when it goes.
// dma_protection.cpp keeps what is vendor-neutral: which vendor, the fault reports and
// the check of Vireo's code, the poll, and the entry points the rest of the kernel calls.
#pragma once

#include "kernel/types.hpp"

struct AcpiInfo;
struct AcpiTableRef;
struct Domain;
class HostPhysicalPolicy;

// Where the units' faults go, with the budget of lines one look may print.
class DmaFaultLog {
public:
    static constexpr usize kLinesPerLook = 8;

    explicit DmaFaultLog(const Domain* dom0) : dom0_(dom0) {}
    // A blocked DMA: logged with the device, the direction, the address and what lies
    // there (and `detail`, the unit's reason, when it has one).
    void fault(u16 device_id, bool write, u64 address, const char* detail);
    // A blocked DMA the unit says nothing more of; the caller logs its own line when this
    // returns true.
    bool unnamed_fault();
    // Another event; the caller logs its line when this returns true.
    bool line() { return lines_++ < kLinesPerLook; }
    void add_overflows(u64 count) { overflows_ += count; }

    usize lines() const { return lines_; }
    u64 faults() const { return faults_; }
    u64 overflows() const { return overflows_; }

private:
    const Domain* dom0_;
    usize lines_ = 0;
    u64 faults_ = 0;
    u64 overflows_ = 0;  // the units' totals since boot
};

class DmaRemapping {
public:
    virtual const char* name() const = 0;  // "AMD-Vi", "VT-d"
    virtual usize unit_count() const = 0;
    // Every unit translates Domain-0's devices through tables of exactly its RAM (and the
    // firmware's reserved ranges), and remaps their interrupts where every unit can.
    // False with *error set; everything is off again then.
    bool enable(Domain& dom0, const char** error) {
        if (enable_units(dom0, error)) return true;
        disable_units();
        return false;
    }
    bool remaps_interrupts() const { return __atomic_load_n(&remapping_, __ATOMIC_ACQUIRE); }
    // What the interrupt remapping covers besides MSIs, for its line ("" for nothing).
    virtual const char* remapping_also() const = 0;
    // The faults since the last look, under the caller's lock.
    virtual void take_faults(DmaFaultLog& log) = 0;
    // Domain-0's RAM is going: unmapped, and every unit's caches flushed.
    virtual void revoke(Domain& dom0) = 0;
    // The message of host MSI `index` when interrupts are remapped (false otherwise).
    virtual bool msi_message(u32 index, u64& address, u32& data) = 0;
    // An I/O APIC line in the remappable format (VT-d): its entry set up, `handle` given.
    virtual bool ioapic_entry(u32 /*gsi*/, u8 /*vector*/, bool /*level*/, u16& /*handle*/) { return false; }
    // Whether PCI function `bdf` is one of the units (AMD IOMMUs are PCI functions).
    virtual bool keeps_function(u16 /*bdf*/) const { return false; }

protected:
    ~DmaRemapping() = default;
    // The vendor's part of enable: tables, interrupt table, units on (remapping_ set when
    // interrupts are remapped); disable_units undoes whatever of it was done.
    virtual bool enable_units(Domain& dom0, const char** error) = 0;
    virtual void disable_units() = 0;

    bool remapping_ = false;  // set once the units remap interrupts
};

// The units of the IVRS or the DMAR, taken at boot (their registers denied to Domain-0 in
// `policy`); null when the table gives none that Vireo can use (logged).
DmaRemapping* amd_vi_remapping_take(const AcpiInfo& acpi, const AcpiTableRef& ivrs, HostPhysicalPolicy& policy);
DmaRemapping* vtd_remapping_take(const AcpiTableRef& dmar, HostPhysicalPolicy& policy);
