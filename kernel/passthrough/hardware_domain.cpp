#include "kernel/passthrough/hardware_domain.hpp"

#include <string.h>

#include "boot/multiboot2.hpp"
#include "drivers/acpi/acpi_sleep_type.hpp"
#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/hardware_port_io.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/dma_protection.hpp"
#include "kernel/passthrough/host_address_width.hpp"
#include "kernel/passthrough/host_physical_policy.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/vm_exit.hpp"
#include "kernel/x86/hardware_cpu.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

HostPhysicalPolicy g_policy;
HostAcpiPorts g_acpi_ports;
u64 g_ioapic_base = 0xfec00000;  // 82093AA default
u16 g_console_port = 0;
const AcpiInfo* g_host_acpi = nullptr;
volatile u8* g_facs = nullptr;  // writable; nullptr when the machine has no FACS

// ACPI 6.5 5.2.10, Table 5.14: the FACS's waking vectors.
constexpr u32 kFacsWakingVector = 12;   // 4 bytes, real-mode address
constexpr u32 kFacsXWakingVector = 24;  // 8 bytes, from FACS version 1; reserved (zero) before
constexpr u32 kFacsMappedBytes = 32;

class FirmwareMemory final : public AcpiMemory {
public:
    const u8* map(PhysAddr phys, u64 length) override { return static_cast<const u8*>(map_firmware(phys, length)); }
};

// The FACS, writable: through the direct map when it covers it (RAM and ACPI areas are
// mapped there read-write), else an uncached mapping of its own. Writing through that
// mapping while map_firmware's read-only write-back one exists is safe here: an uncached
// store goes to memory, and the write-back alias only ever holds clean lines.
volatile u8* map_facs(PhysAddr facs) {
    const void* seen = map_firmware(facs, kFacsMappedBytes);
    if (seen == phys_to_virt(facs)) return phys_to_virt<u8>(facs);
    return static_cast<volatile u8*>(map_device(facs, kFacsMappedBytes));
}

// The S5 SLP_TYP values from the machine's DSDT, logged either way.
AcpiSleepType read_host_s5(const AcpiInfo& acpi) {
    FirmwareMemory memory;
    const AcpiSleepType s5 = acpi.has_dsdt ? acpi_read_s5(memory, acpi.dsdt_address) : AcpiSleepType{};
    if (s5.found)
        log_info("passthrough: the machine's S5 is SLP_TYP %u/%u; Domain-0's other sleep states are refused",
                 s5.slp_typ_a, s5.slp_typ_b);
    else
        log_warn("passthrough: no \\_S5 package in the DSDT; any sleep state Domain-0 asks for powers the machine off");
    return s5;
}

// I/O permission bitmap: one bit per port, set = the access exits. SVM's IOPM is 12 KiB
// (AMD APM vol. 2 15.10.1: the third page covers accesses that run past port 0xFFFF);
// VMX's I/O bitmaps A and B are its first two pages (Intel SDM vol. 3C 25.6.4).
constexpr u64 kIoBitmapPages = 3;
constexpr u64 kIoBitmapBytes = kIoBitmapPages * kPageSize;

// What a hardware domain finds where it may not look: nothing, as on an empty bus.
class DeniedPages final : public MmioDevice {
public:
    u64 mmio_read(Vcpu& vcpu, u64 address, u8) override {
        report(vcpu, address, "read");
        return ~0ull;
    }
    void mmio_write(Vcpu& vcpu, u64 address, u8, u64) override { report(vcpu, address, "write"); }

private:
    // One line per page, for the first 16 pages: a guest must not flood the console.
    static void report(Vcpu& vcpu, u64 address, const char* what) {
        static u64 pages[16];
        static u32 count = 0;
        static SpinLock lock;
        {
            IrqLockGuard guard(lock);
            const u64 page = align_down(address, kPageSize) | 1;  // never 0
            for (u32 i = 0; i < count; ++i)
                if (pages[i] == page) return;
            if (count == 16) return;
            pages[count++] = page;
        }
        const char* owner = g_policy.denied_what(address);
        log_warn("domain %u (%s): vcpu%u: %s of %#llx (%s, not its own) ignored; it reads as all ones", vcpu.domain->id,
                 vcpu.domain->name, vcpu.index, what, (unsigned long long)address, owner ? owner : "nothing there");
    }
};

DeniedPages g_denied;

// The real ports, for the accesses of a hardware domain that exit although no model
// claims their first port.
class HardwarePorts final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16 port, u8 size) override { return hardware_port_read(port, size); }
    void io_write(Vcpu&, u16 port, u8 size, u32 value) override { hardware_port_write(port, size, value); }
};

HardwarePorts g_hardware_ports;

// Ports a hardware domain must not reach and that have no model: nothing there.
class NoPorts final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16, u8) override { return ~0u; }
    void io_write(Vcpu&, u16, u8, u32) override {}
};

NoPorts g_nothing;

}  // namespace

void passthrough_init(const Multiboot2Info& boot, const AcpiInfo& acpi, u16 console_port) {
    g_console_port = console_port;
    g_host_acpi = &acpi;
    // Above the machine's usable physical width nothing is a device, and with memory
    // encryption an address there is host RAM under another key (host_address_width.hpp).
    const HostAddressWidth width = host_address_width(HardwareCpu());
    g_policy.set_physical_limit(1ull << width.bits);
    log_info(
        "passthrough: Domain-0 reaches host-physical addresses below 2^%u (MAXPHYADDR %u, C-bit %u, %u KeyID bits)",
        width.bits, width.maxphyaddr, width.c_bit, width.keyid_bits);
    if (acpi.madt.ioapic_count) g_ioapic_base = acpi.madt.ioapics[0].address;
    for (usize i = 0; i < boot.memory_region_count; ++i) {
        const Multiboot2MemoryRegion& r = boot.memory_regions[i];
        if (r.type == kMultiboot2MemoryAvailable) g_policy.add_ram(r.base, r.base + r.length);
    }
    // The interrupt controllers and the timer stay the hypervisor's; dom0 gets models of
    // the interrupt controllers at the same addresses.
    g_policy.deny(acpi.madt.local_apic_address, acpi.madt.local_apic_address + kPageSize, "the local APIC");
    for (usize i = 0; i < acpi.madt.ioapic_count; ++i)
        g_policy.deny(acpi.madt.ioapics[i].address, acpi.madt.ioapics[i].address + kPageSize, "an I/O APIC");
    if (acpi.fadt.present && !acpi.fadt.hardware_reduced)
        g_acpi_ports = {acpi.fadt.pm1a_control_port, acpi.fadt.pm1b_control_port, read_host_s5(acpi)};
    if (acpi.has_facs) g_facs = map_facs(acpi.facs_address);
    if (acpi.hpet.present) g_policy.deny(acpi.hpet.base_address, acpi.hpet.base_address + kPageSize, "the HPET");
    dma_protection_init(acpi, g_policy);
    if (!g_policy.allowed(0xa0000, 0xa1000))
        log_error("passthrough: the host-physical policy is full; Domain-0 can reach no device memory");
}

const HostPhysicalPolicy& passthrough_policy() { return g_policy; }

HostAcpiPorts passthrough_acpi_ports() { return g_acpi_ports; }

void passthrough_clear_waking_vectors() {
    if (!g_facs) return;
    for (u32 i = 0; i < 4; ++i) g_facs[kFacsWakingVector + i] = 0;
    for (u32 i = 0; i < 8; ++i) g_facs[kFacsXWakingVector + i] = 0;
}

const AcpiInfo& passthrough_host_acpi() { return *g_host_acpi; }

u64 passthrough_ioapic_base() { return g_ioapic_base; }

GuestRamRange passthrough_low_memory(const Multiboot2Info& boot) {
    for (usize i = 0; i < boot.memory_region_count; ++i) {
        const Multiboot2MemoryRegion& r = boot.memory_regions[i];
        if (r.type != kMultiboot2MemoryAvailable || r.base != 0) continue;
        const u64 end = r.length < 1 * MiB ? r.length : 1 * MiB;
        return {0, align_down(end, kPageSize)};
    }
    return {0, 0};
}

bool passthrough_attach(Domain& d, const char** error) {
    if (!d.quota.charge(kIoBitmapBytes)) {
        *error = "its I/O bitmap passes its memory quota";
        return false;
    }
    const PhysAddr bitmap = frame_alloc(kIoBitmapPages);
    if (bitmap == kNoPhysFrame) {
        d.quota.uncharge(kIoBitmapBytes);
        *error = "out of memory for its I/O bitmap";
        return false;
    }
    d.charged_structures += kIoBitmapBytes;
    // The hypervisor's console stays its own (dom0's COM1 is a model, claimed already;
    // a console elsewhere is claimed here and reads as nothing).
    if (g_console_port && !d.io.claimed_device_at(g_console_port))
        d.io.claim(g_console_port, u16(g_console_port + 7), &g_nothing);
    auto* bits = phys_to_virt<u8>(bitmap);
    memset(bits + 2 * kPageSize, 0xff, kPageSize);  // past port 0xFFFF: exits
    for (u32 port = 0; port < 0x10000; ++port)
        if (d.io.claimed_device_at(u16(port))) bits[port / 8] |= u8(1u << (port % 8));
    d.io_bitmap = bitmap;
    d.mmio.set_fallback(&g_denied);
    d.io.set_fallback(&g_hardware_ports);
    return dma_protection_attach(d, error);
}

void passthrough_detach(Domain& d) {
    if (!d.io_bitmap) return;
    dma_protection_detach(d);
    frame_free(d.io_bitmap, kIoBitmapPages);
    d.io_bitmap = 0;
}

bool passthrough_nested_fault(Vcpu& vcpu, const NestedPageFaultExit& npf) {
    Domain& d = *vcpu.domain;
    if (!d.hardware_domain || npf.present || d.mmio.claimed_range_at(npf.gpa)) return false;
    // A whole 2 MiB block where nothing inside is the hypervisor's or emulated (BARs of
    // megabytes fault once), else the page.
    const u64 block = align_down(npf.gpa, 2 * MiB);
    if (g_policy.allowed(block, block + 2 * MiB) && !d.mmio.overlaps(block, 2 * MiB) && !d.memory.contains(block, 1) &&
        !d.memory.contains(block + 2 * MiB - 1, 1)) {
        // (RAM is 2 MiB chunks above 1 MiB and the policy forbids all host RAM, so a
        // block the policy allows holds none of the domain's RAM either.)
        if (d.memory.map_passthrough(block, 2 * MiB, &d.mmio)) return true;
    }
    const u64 page = align_down(npf.gpa, kPageSize);
    if (!g_policy.allowed(page, page + kPageSize)) return false;
    if (d.mmio.claimed_range_at(page)) return false;  // claimed meanwhile: emulated
    if (d.memory.map_passthrough(page, kPageSize, &d.mmio)) return true;
    if (d.mmio.claimed_range_at(page)) return false;
    domain_crash(d, "vcpu%u: no memory to map device page %#llx through", vcpu.index, (unsigned long long)page);
    return true;
}
