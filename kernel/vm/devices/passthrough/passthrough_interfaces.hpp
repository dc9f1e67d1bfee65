// What the PCI passthrough mediator (pci_passthrough.hpp) needs from the rest of the
// hypervisor, kept abstract so that the mediator is pure code, unit-tested with a fake
// bus.
//
// Locking: the mediator has none. The platform holds one lock around every call into it
// (dom0's configuration and MSI-X page accesses, and `deliver` from the host interrupt
// path), and the calls below happen under that lock.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/passthrough/pci_config_layout.hpp"

// A configuration space by function: the machine's real one (the hypervisor implements it
// with 0xCF8/0xCFC or the ECAM window of the MCFG table), and the one dom0 sees (the
// mediator). An access of `size` (1, 2 or 4) bytes at `offset` (0-4095) stays inside one
// dword; offsets from 256 up exist only where the machine has extended configuration
// space. A read of a function that is not there returns all ones.
class PciConfigSpace {
public:
    virtual u32 config_read(PciBdf bdf, u16 offset, u8 size) = 0;
    virtual void config_write(PciBdf bdf, u16 offset, u8 size, u32 value) = 0;

protected:
    ~PciConfigSpace() = default;
};

// Device memory by host-physical address, as the hypervisor reaches it through an
// uncached mapping: the MSI-X table and PBA, and the registers sharing their page.
// `size` is 1, 2, 4 or 8 and the access is naturally aligned.
// The bits a memory access of `size` bytes (1, 2, 4 or 8) carries: also what a read from
// nowhere returns.
constexpr u64 mmio_access_mask(u8 size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

class DeviceMmio {
public:
    virtual u64 mmio_read(PhysAddr address, u8 size) = 0;
    virtual void mmio_write(PhysAddr address, u8 size, u64 value) = 0;

protected:
    ~DeviceMmio() = default;
};

// An MSI as a device sends it: a dword write of `data` to `address` (PCI Local Bus spec
// 3.0, 6.8.3.3; Intel SDM vol. 3A, 11.11).
struct MsiMessage {
    u64 address = 0;
    u32 data = 0;

    friend constexpr bool operator==(const MsiMessage& a, const MsiMessage& b) = default;
};

// The interrupt sources of one function, as the router knows them: MSI-X table entry n
// is source n (at most 2048 entries, PCI Local Bus spec 3.0, 6.8.2.3), and the function's
// MSI (one vector: see msi_mediator.hpp) is source kMsiSourceIndex.
inline constexpr u32 kMsiSourceIndex = 2048;

// Host interrupt vectors for dom0's device interrupts (the hypervisor implements it with
// its IDT and vector allocator). When the host vector of a bound source fires, the
// hypervisor calls PciPassthrough::deliver(bdf, source_index) under the platform lock.
class MsiInterruptRouter {
public:
    // Gives `source_index` of `bdf` a host vector (the one it already has, when bound
    // twice) and returns in `host_message` the message to program into the device.
    // `guest_message` is dom0's message at that moment, for information (for example to
    // pick a host CPU near the vCPU it targets); delivery always uses dom0's message as it
    // is when the interrupt fires, so dom0 moving it later needs no new binding. False
    // when no vector is left: the source stays disabled in the hardware.
    virtual bool bind(PciBdf bdf, u32 source_index, const MsiMessage& guest_message, MsiMessage& host_message) = 0;
    // The source is disabled in the hardware; its host vector may go back.
    virtual void unbind(PciBdf bdf, u32 source_index) = 0;

protected:
    ~MsiInterruptRouter() = default;
};

// A host-physical range; empty (size 0) when nothing is there.
struct DeviceRange {
    u64 base = 0;
    u64 size = 0;

    constexpr bool empty() const { return size == 0; }
    constexpr bool contains(u64 address, u64 length) const {
        return !empty() && address >= base && address - base < size && length <= size - (address - base);
    }
    friend constexpr bool operator==(const DeviceRange& a, const DeviceRange& b) = default;
};

// What went wrong, for the hypervisor's log. None of these is silent: each is reported
// once where it happens and the mediator stays safe (see each entry).
enum class PassthroughIssue : u8 {
    // More functions than PciPassthrough::kMaxFunctions: this one is hidden from dom0
    // (reads all ones, writes dropped) so that it never runs unmediated.
    TooManyFunctions,
    // More MSI-X functions than PciPassthrough::kMaxMsixFunctions: hidden likewise.
    TooManyMsixFunctions,
    // The MSI-X table has more entries than MsixMediator::kMaxEntries: dom0 is shown a
    // table of kMaxEntries; the others stay masked in the hardware.
    MsixTableTruncated,
    // The MSI-X table or PBA is not inside a memory BAR of the function: MSI-X is never
    // enabled in the hardware (dom0 sees it enabled but gets no interrupt from it).
    MsixTableUnusable,
    // The router had no host vector: that source stays disabled in the hardware.
    BindFailed,
    // dom0 tried to change a bridge's bus numbers, which the mediator's map of functions
    // depends on: the write to them is dropped.
    BusNumberChangeRefused,
    // The MSI-X table's pages were refused by the platform (msix_table_moved): MSI-X stays
    // masked in the hardware until dom0 puts the BAR somewhere acceptable.
    MsixTableRefused,
    // The function is the hypervisor's own (an IOMMU, whose registers would let dom0 undo
    // the confinement of its devices' DMA): hidden from dom0 like a function past the limits.
    KeptByHypervisor,
    // dom0 wrote a host bridge's chipset registers (anything but command/status and the
    // BARs): dropped, reported once per function. On Intel's MCH these move the ECAM
    // window (PCIEXBAR) away from where Vireo traps it, and open SMRAM or remap memory
    // (PAM, SMRAMC/ESMRAMC, TOLUD/TOUUD/REMAP: Intel 3rd/4th-gen Core and Q35 datasheets).
    HostBridgeWriteRefused,
};

// What the platform follows: where the memory BARs are (to map them into dom0) and where
// each MSI-X table is (to trap its pages), and the issues to log.
class PciPassthroughListener {
public:
    // A memory BAR's decoded range changed: the BAR was written, or memory decoding was
    // switched in the command register. Empty when it decodes nothing (decoding off, or
    // the BAR at 0). Called at scan for every decoding BAR (old range empty).
    virtual void memory_bar_moved(PciBdf bdf, u32 bar_index, DeviceRange old_range, DeviceRange new_range) = 0;
    // The pages holding a function's MSI-X table moved (same causes): the platform traps
    // `new_range` (page-aligned) and sends dom0's accesses there to
    // PciPassthrough::msix_page_read/msix_page_write, and stops trapping `old_range`.
    // Called at scan for every decoding table (old range empty).
    // False: the platform refuses the location (not a device's memory, or it cannot trap
    // it); the table then counts as unreachable and the function stays masked in the
    // hardware, so dom0 can neither reach the table nor make the hypervisor write there.
    virtual bool msix_table_moved(PciBdf bdf, DeviceRange old_range, DeviceRange new_range) = 0;
    virtual void report(PciBdf bdf, PassthroughIssue issue) = 0;
    // Whether the function at `bdf` stays the hypervisor's (KeptByHypervisor); asked once
    // per function at scan.
    virtual bool kept_by_hypervisor(PciBdf /*bdf*/) { return false; }

protected:
    ~PciPassthroughListener() = default;
};
