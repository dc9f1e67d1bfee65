#include "kernel/vm/firmware/linux_domain_builder.hpp"

#include "kernel/vm/firmware/guest_acpi_tables.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

GuestEntryState linux_entry_state(const LinuxEntryState& linux) {
    GuestEntryState entry{};
    entry.mode = linux.entry_64 ? GuestCpuMode::Long64 : GuestCpuMode::Protected32;
    entry.rip = linux.rip;
    entry.rsp = linux.rsp;
    entry.rsi = linux.rsi;
    entry.cs_selector = linux.cpu.cs.selector;
    entry.data_selector = linux.cpu.ds.selector;
    entry.cr3 = linux.cpu.cr3;
    entry.gdt_base = linux.cpu.gdt_base;
    entry.gdt_limit = linux.cpu.gdt_limit;
    return entry;
}

bool build_linux_domain(GuestPhysicalMemory& memory, const LinuxDomainImage& image, GuestEntryState& entry,
                        LinuxEntryState& placed, const char** error) {
    if (image.vcpus == 0) {
        *error = "a domain needs at least one vCPU";
        return false;
    }
    AcpiPlatform platform;
    platform.vcpu_count = image.vcpus;
    platform.pci_host_bridge = true;
    const AcpiBuildResult acpi = build_acpi_tables(memory, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform);
    if (!acpi.ok) {
        *error = acpi.error;
        return false;
    }
    LinuxBootInputs in{};
    in.kernel = image.kernel;
    in.kernel_size = image.kernel_size;
    in.initrd = image.initrd;
    in.initrd_size = image.initrd_size;
    in.cmdline = image.cmdline;
    in.ram_bytes = image.ram_bytes;
    in.rsdp_gpa = acpi.rsdp_gpa;
    if (!load_linux_kernel(memory, in, placed, error)) return false;
    entry = linux_entry_state(placed);
    return true;
}
