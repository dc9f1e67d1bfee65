// DMA protection: the machine's IOMMUs keep Domain-0's devices inside Domain-0's RAM.
//
// Domain-0 owns the real devices, and a device DMAs to whatever address its driver (or a
// hostile root user, or the device's own firmware) programs: without an IOMMU that could
// be Vireo's image, its page tables or another domain's RAM. Xen, ACRN, NOVA and
// Jailhouse put every device behind the IOMMU; so does Vireo. The IOMMUs are found in
// ACPI (IVRS for AMD-Vi, DMAR for VT-d), taken by the hypervisor (their registers and an
// AMD IOMMU's PCI function hidden from Domain-0, their tables hidden from its ACPI),
// and every device ID translates through one set of I/O page tables that maps exactly
// Domain-0's RAM at the same addresses (it is identity-mapped), plus the ranges the
// firmware reserves for devices (IVMD, RMRR), so its drivers work unchanged. The tables
// come from the shared page-table builder: AmdViFormat for AMD-Vi, EptFormat for VT-d,
// whose second-level entries have EPT's layout (drivers/iommu/vtd.hpp). Faults (a device touching anything else) go
// nowhere and are logged with the device, the direction and the address, followed by a check that Vireo's code and
// read-only data are unchanged.
//
// What the tables do not follow: foreign mappings (a device model's view of a domU's
// page inside Domain-0's RAM) are not in them, so a device DMA to such a page reaches
// Domain-0's own frame behind it, never the domU's; the device models therefore do their
// I/O through Domain-0's page cache (no O_DIRECT into guest memory). Domain-0's RAM does
// not change after creation (no ballooning of identity-mapped memory), and peer-to-peer
// DMA between devices' BARs is not mapped.
#pragma once

#include "kernel/types.hpp"

struct AcpiInfo;
struct Domain;
class HostPhysicalPolicy;

// At boot, before Domain-0 exists: finds the IOMMUs and keeps their registers from
// Domain-0 (`policy`). Logs what it found, or that there is none.
void dma_protection_init(const AcpiInfo& acpi, HostPhysicalPolicy& policy);
// Whether the PCI function `bdf` (segment 0: bus << 8 | device << 3 | function) is an
// IOMMU the hypervisor keeps: Domain-0 does not see it.
bool dma_protection_keeps_function(u16 bdf);
// Domain-0's memory exists: its devices' DMA is confined to it from now on. Without an
// IOMMU it says so plainly and succeeds; false (with *error) only when an IOMMU exists
// but could not be set up, since running on would leave DMA unconfined unnoticed.
bool dma_protection_attach(Domain& dom0, const char** error);
// The message host MSI `index` (host_interrupts.hpp) is programmed into a device with when
// the IOMMUs remap interrupts (true), so that the device can raise that vector and no
// other; false when they do not, and the device gets the plain message.
bool dma_protection_msi_message(u32 index, u64& address, u32& data);
// VT-d remaps the I/O APIC's lines too: true when I/O APIC line `gsi`, which raises
// `vector` with the trigger mode `level`, is to be programmed in the remappable format
// with IRTE `handle` (set up here); false when it keeps the plain format.
bool dma_protection_ioapic_entry(u32 gsi, u8 vector, bool level, u16& handle);
// Logs the faults the IOMMUs recorded since the last look (a timer looks every 100 ms).
void dma_protection_report_events();
// At power-off: the last faults, and when any DMA was blocked since boot, a summary that
// says whether Vireo's code and read-only data are unchanged.
void dma_protection_power_off_report();
// Domain-0's memory is going: its devices can reach nothing any more.
void dma_protection_detach(Domain& dom0);
