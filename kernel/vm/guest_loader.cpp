#include "kernel/vm/guest_loader.hpp"

#include <string.h>

#include "boot/multiboot2.hpp"
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/vm/domain_config.hpp"
#include "kernel/vm/elf_image.hpp"
#include "kernel/vm/firmware/dom0_acpi_tables.hpp"
#include "kernel/vm/firmware/dom0_e820.hpp"
#include "kernel/vm/firmware/e820_map.hpp"
#include "kernel/vm/firmware/guest_acpi_tables.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/firmware/linux_boot.hpp"
#include "kernel/vm/firmware/linux_domain_builder.hpp"
#include "kernel/vm/multiboot1_info.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

constexpr u64 kFlatLoadAddress = 0x7c00;
constexpr usize kMaxDomainModules = 16;

struct ModuleGroup {
    usize kernel;       // index of the domain line's module
    usize first_extra;  // its own modules: [first_extra, end)
    usize end;
};

const u8* module_data(const Multiboot2Module& m) { return phys_to_virt<const u8>(m.start); }
u64 module_size(const Multiboot2Module& m) { return m.end - m.start; }

// A Linux bzImage carries "HdrS" at 0x202 (Documentation/arch/x86/boot.rst); such a
// kernel gets the virtual PC and the 64-bit boot protocol.
bool looks_like_bzimage(const Multiboot2Module& m) {
    return module_size(m) > 0x206 && memcmp(module_data(m) + 0x202, "HdrS", 4) == 0;
}

// Where Domain-0's new ACPI root tables and MADT go: the last 16 KiB of its highest RAM
// below 4 GiB (an RSDT holds 32-bit addresses), typed ACPI in its e820 map so that Linux
// keeps them. Its other tables are the host's, read in place.
constexpr u64 kDom0AcpiAreaBytes = 16 * KiB;

bool load_dom0_firmware(Domain& d, const Multiboot2Info& boot, E820Map& e820, u64& rsdp, const char** error) {
    PhysRange ram[GuestMemory::kMaxRanges];
    PhysRange area{0, 0};
    for (usize i = 0; i < d.memory.range_count(); ++i) {
        const GuestRamRange& r = d.memory.range(i);
        ram[i] = {r.gpa, r.gpa + r.bytes};
        if (r.gpa + r.bytes <= 4 * GiB && r.bytes >= 2 * kDom0AcpiAreaBytes)
            area = {r.gpa + r.bytes - kDom0AcpiAreaBytes, r.gpa + r.bytes};
    }
    if (area.empty()) {
        *error = "Domain-0 has no RAM below 4 GiB for its ACPI tables";
        return false;
    }
    Dom0AcpiConfig config;
    config.vcpu_count = d.vcpu_count;
    config.ioapic_address = u32(passthrough_ioapic_base());
    static Dom0AcpiBuildResult acpi;  // under the loader's single-threaded boot path only (it is large)
    acpi = build_dom0_acpi_tables(d.memory, area.start, area.size(), passthrough_host_acpi(), config);
    if (!acpi.ok) {
        *error = acpi.error;
        return false;
    }
    if (!build_dom0_e820(boot.memory_regions, boot.memory_region_count, ram, d.memory.range_count(), area, e820, error))
        return false;
    rsdp = acpi.rsdp_gpa;
    log_info("domain %u (%s): the host's ACPI tables, %zu listed (%zu dropped), with its MADT, from RSDP %#llx", d.id,
             d.name, acpi.host_tables_listed, acpi.host_tables_dropped, (unsigned long long)rsdp);
    return true;
}

// ACPI tables, then the kernel, its initrd (the domain's first own module) and its
// command line, as the Linux 64-bit boot protocol wants them.
bool load_linux(Domain& d, const Multiboot2Info& boot, const ModuleGroup& g, const char* cmdline,
                GuestEntryState& entry, const char** error) {
    if (g.end - g.first_extra > 1) {
        *error = "a Linux domain takes one module after its kernel (the initrd)";
        return false;
    }
    const Multiboot2Module& kernel = boot.modules[g.kernel];
    const bool has_initrd = g.end > g.first_extra;
    const Multiboot2Module* initrd = has_initrd ? &boot.modules[g.first_extra] : nullptr;
    LinuxEntryState linux;
    if (d.hardware_domain) {
        // The host's own ACPI tables with a MADT of its own, and its memory map from the
        // host's (kernel/vm/firmware/dom0_acpi_tables.hpp, dom0_e820.hpp).
        E820Map dom0_e820;
        LinuxBootInputs in{};
        if (!load_dom0_firmware(d, boot, dom0_e820, in.rsdp_gpa, error)) return false;
        in.kernel = module_data(kernel);
        in.kernel_size = module_size(kernel);
        in.initrd = initrd ? module_data(*initrd) : nullptr;
        in.initrd_size = initrd ? module_size(*initrd) : 0;
        in.cmdline = cmdline;
        in.ram_bytes = d.memory.layout_size();
        in.e820 = &dom0_e820;
        if (!load_linux_kernel(d.memory, in, linux, error)) return false;
        entry = linux_entry_state(linux);
    } else {
        // The virtual PC's, as Domain-0's `xm create` builds them (linux_domain_builder.hpp).
        const LinuxDomainImage image{module_data(kernel),
                                     module_size(kernel),
                                     initrd ? module_data(*initrd) : nullptr,
                                     initrd ? module_size(*initrd) : 0,
                                     cmdline,
                                     d.memory.layout_size(),
                                     d.vcpu_count};
        if (!build_linux_domain(d.memory, image, entry, linux, error)) return false;
    }
    log_info("domain %s: Linux boot protocol %u.%02u, %s entry, kernel at %#llx, initrd %llu KiB at %#llx", d.name,
             linux.protocol_version >> 8, linux.protocol_version & 0xff, linux.entry_64 ? "64-bit" : "32-bit",
             (unsigned long long)linux.kernel_gpa, (unsigned long long)(linux.initrd_size / KiB),
             (unsigned long long)linux.initrd_gpa);
    return true;
}

bool load_kernel(Domain& d, const Multiboot2Module& module, GuestEntryState& entry, u64& end, const char** error) {
    const u8* data = module_data(module);
    const u64 size = module_size(module);
    if (looks_like_elf(data, size)) {
        ElfImage image;
        if (!parse_elf_image(data, size, d.memory.layout_size(), image, error)) return false;
        for (usize i = 0; i < image.segment_count; ++i) {
            const ElfSegment& s = image.segments[i];
            // Memory is zeroed at creation, so only the file part needs copying.
            d.memory.write(s.guest_physical, data + s.file_offset, s.file_size);
        }
        entry = {GuestCpuMode::Protected32, image.entry, 0, kMultiboot1BootloaderMagic, 0, 0};
        end = image.highest_address;
        return true;
    }
    if (size == 0 || kFlatLoadAddress + size > d.memory.layout_size() || kFlatLoadAddress + size > 0xa0000) {
        *error = "a flat real-mode binary must be non-empty and fit between 0x7c00 and 0xa0000";
        return false;
    }
    d.memory.write(kFlatLoadAddress, data, size);
    entry = {GuestCpuMode::Real, kFlatLoadAddress, 0, 0, 0, kFlatLoadAddress};
    end = kFlatLoadAddress + size;
    return true;
}

// A Multiboot (or real-mode) kernel with the virtual PC finds the ACPI tables a Linux
// domain gets (its MADT, FADT, DSDT) by the legacy RSDP scan of 0xE0000-0xFFFFF (ACPI 6.5
// 5.2.5.1); Linux's own are built with its boot parameters (linux_domain_builder.cpp).
bool load_pc_acpi_tables(Domain& d, const char** error) {
    if (!d.platform->has_local_apics()) return true;
    AcpiPlatform platform;
    platform.vcpu_count = d.vcpu_count;
    platform.pci_host_bridge = true;  // the virtual PC's configuration space at 0xCF8/0xCFC
    const AcpiBuildResult acpi = build_acpi_tables(d.memory, kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize, platform);
    if (!acpi.ok) *error = acpi.error;
    return acpi.ok;
}

// Copies the domain's own modules above the kernel and builds the multiboot info
// after them; EBX of the entry state points at it.
bool load_modules_and_info(Domain& d, const Multiboot2Info& boot, const ModuleGroup& g, const char* cmdline,
                           u64 kernel_end, GuestEntryState& entry, const char** error) {
    Multiboot1Module modules[kMaxDomainModules];
    usize count = 0;
    u64 next = align_up(kernel_end < 0x100000 ? 0x100000 : kernel_end, kPageSize);
    for (usize i = g.first_extra; i < g.end; ++i) {
        if (count == kMaxDomainModules) {
            *error = "more than 16 modules for one domain";
            return false;
        }
        const Multiboot2Module& m = boot.modules[i];
        if (next + module_size(m) > d.memory.layout_size() || next + module_size(m) > 0xffffffffull) {
            *error = "the domain's modules do not fit in its memory";
            return false;
        }
        d.memory.write(next, module_data(m), module_size(m));
        modules[count++] = {u32(next), u32(next + module_size(m)), m.cmdline};
        next = align_up(next + module_size(m), kPageSize);
    }
    // On the heap: a restart (kernel/domain/domain_restart.cpp) runs this on any CPU.
    constexpr usize kInfoBytes = 8192;
    u8* buffer = new (kNoThrow) u8[kInfoBytes];
    if (!buffer) {
        *error = "out of memory for the multiboot information";
        return false;
    }
    const Multiboot1Layout layout{d.memory.layout_size(), cmdline, modules, count};
    const usize used = build_multiboot1_info(layout, u32(next), buffer, kInfoBytes);
    const bool fits = used != 0 && next + used <= d.memory.layout_size();
    if (fits) d.memory.write(next, buffer, used);
    delete[] buffer;
    if (!fits) {
        *error = "no room for the multiboot information";
        return false;
    }
    if (entry.mode == GuestCpuMode::Protected32) entry.rbx = next;
    return true;
}

bool load_domain(const Multiboot2Info& boot, const ModuleGroup& g, u32 ordinal) {
    const Multiboot2Module& kernel = boot.modules[g.kernel];
    DomainModuleLine line;
    char message[120];
    if (!parse_domain_line(kernel.cmdline, ordinal, line, message, sizeof(message))) {
        log_error("module %zu ('%s'): bad domain line: %s; no domain started", g.kernel, kernel.cmdline, message);
        return false;
    }
    DomainConfig config{};
    memcpy(config.name, line.name, sizeof(config.name));
    config.memory_bytes = line.memory_bytes;
    config.vcpus = line.vcpus;
    const bool linux = looks_like_bzimage(kernel);
    config.pc_platform = linux || line.pc_platform;
    config.privileged = line.privileged;
    config.weight = line.weight;
    config.cap_percent = line.cap_percent;
    config.cpus = line.cpus;
    if (line.dom0) {
        if (!linux) {
            log_error("domain %s: cannot create it: Domain-0 must be a Linux kernel (a bzImage)", line.name);
            return false;
        }
        config.hardware_domain = true;
        config.low_memory = passthrough_low_memory(boot);
    }
    const char* error = nullptr;
    Domain* d = domain_create(config, &error);
    if (!d) {
        log_error("domain %s: cannot create it: %s", line.name, error);
        return false;
    }
    GuestEntryState entry{};
    u64 kernel_end = 0;
    // Every kernel GRUB loaded can be loaded again: a guest reset restarts its domain.
    d->image.reload = reload_domain;
    d->image.boot = &boot;
    d->image.kernel = g.kernel;
    d->image.first_extra = g.first_extra;
    d->image.end = g.end;
    static_assert(sizeof(d->image.cmdline) == sizeof(line.guest_cmdline));
    memcpy(d->image.cmdline, line.guest_cmdline, sizeof(d->image.cmdline));
    const bool loaded = linux ? load_linux(*d, boot, g, line.guest_cmdline, entry, &error)
                              : load_pc_acpi_tables(*d, &error) && load_kernel(*d, kernel, entry, kernel_end, &error) &&
                                    load_modules_and_info(*d, boot, g, line.guest_cmdline, kernel_end, entry, &error);
    if (!loaded || !scheduler_add_domain(*d, entry, &error)) {
        // It never ran; its memory goes back when this CPU first reaches its scheduler.
        domain_crash(*d, "cannot load its kernel (module %zu): %s", g.kernel, error);
        return false;
    }
    domain_unpause(*d);
    log_info("domain %u (%s): %llu MiB, %u vCPU%s, %s kernel entered at %#llx%s", d->id, d->name,
             (unsigned long long)(d->memory.size() / MiB), d->vcpu_count, d->vcpu_count == 1 ? "" : "s",
             linux                              ? "Linux"
             : entry.mode == GuestCpuMode::Real ? "real-mode"
                                                : "multiboot ELF",
             (unsigned long long)entry.rip,
             d->hardware_domain ? ", Domain-0 (identity-mapped RAM, the machine's devices)"
             : d->privileged    ? ", control domain"
                                : "");
    if (line.weight != kCreditDefaultWeight || line.cap_percent || line.cpus != ~0ull)
        log_info("domain %u (%s): credit scheduler weight %u, cap %u%%, CPUs %#llx", d->id, d->name, line.weight,
                 line.cap_percent, (unsigned long long)line.cpus);
    // RAM zeroed on first touch gets its 1 GiB leaf once all of that gigabyte was touched.
    if (const u64 gigabytes = d->memory.whole_host_gigabytes())
        log_info("domain %u (%s): %llu GiB of its RAM in whole host gigabytes, mapped with 1 GiB pages%s", d->id,
                 d->name, (unsigned long long)gigabytes,
                 d->memory.unpopulated_bytes() ? " once each is all touched" : "");
    return true;
}

}  // namespace

bool reload_domain(Domain& d, GuestEntryState& entry, const char** error) {
    if (!d.image.boot) {
        *error = "its kernel cannot be loaded again";
        return false;
    }
    // A power cycle: RAM comes back zeroed, then the boot loader's work is done again.
    // RAM never touched is zero already (zeroed on first touch, mm/guest_memory.hpp).
    static const u8 kZeroPage[kPageSize] = {};
    for (usize r = 0; r < d.memory.range_count(); ++r) {
        const GuestRamRange range = d.memory.range(r);
        for (u64 gpa = range.gpa; gpa < range.gpa + range.bytes; gpa += kPageSize)
            if (d.memory.touched(gpa)) d.memory.write(gpa, kZeroPage, kPageSize);
    }
    const ModuleGroup g{d.image.kernel, d.image.first_extra, d.image.end};
    const Multiboot2Module& kernel = d.image.boot->modules[g.kernel];
    if (looks_like_bzimage(kernel)) return load_linux(d, *d.image.boot, g, d.image.cmdline, entry, error);
    u64 kernel_end = 0;
    return load_pc_acpi_tables(d, error) && load_kernel(d, kernel, entry, kernel_end, error) &&
           load_modules_and_info(d, *d.image.boot, g, d.image.cmdline, kernel_end, entry, error);
}

namespace {

bool is_dom0_line(const char* cmdline) {
    DomainModuleLine line;
    char message[120];
    return parse_domain_line(cmdline, 0, line, message, sizeof(message)) && line.dom0;
}

}  // namespace

u32 load_domains_from_modules(const Multiboot2Info& boot) {
    u32 started = 0;
    if (boot.modules_dropped)
        log_error(
            "%zu boot modules after the first %zu were dropped (Vireo takes %zu); the domains among them, "
            "and the last one before them, do not start",
            boot.modules_dropped, boot.module_count, Multiboot2Info::kMaxModules);
    // Domain-0 first, wherever its line is: it takes id 0 and its identity-mapped RAM
    // before any other domain takes memory. One only.
    usize dom0_module = boot.module_count;
    for (usize pass = 0; pass < 2; ++pass) {
        usize i = 0;
        while (i < boot.module_count) {
            if (!is_domain_line(boot.modules[i].cmdline)) {
                ++i;  // not a guest (e.g. the sample module): left alone
                continue;
            }
            ModuleGroup g{i, i + 1, i + 1};
            while (g.end < boot.module_count && !is_domain_line(boot.modules[g.end].cmdline)) ++g.end;
            i = g.end;
            const bool dom0 = is_dom0_line(boot.modules[g.kernel].cmdline);
            if (dom0 != (pass == 0)) continue;
            if (dom0 && dom0_module != boot.module_count) {
                log_error("module %zu ('%s'): a second Domain-0 is refused (module %zu is Domain-0)", g.kernel,
                          boot.modules[g.kernel].cmdline, dom0_module);
                continue;
            }
            if (boot.modules_dropped && g.end == boot.module_count) {
                // Its own modules (an initrd) may be among those dropped.
                log_error("module %zu ('%.60s'): its modules may be among those dropped; no domain started", g.kernel,
                          boot.modules[g.kernel].cmdline);
                continue;
            }
            bool truncated = false;
            for (usize m = g.kernel; m < g.end; ++m) {
                if (!boot.modules[m].cmdline_truncated) continue;
                log_error("module %zu ('%.60s...'): command line longer than 255 characters; no domain started", m,
                          boot.modules[m].cmdline);
                truncated = true;
            }
            if (truncated) continue;
            if (dom0) dom0_module = g.kernel;
            if (load_domain(boot, g, domain_count() + 1)) ++started;
        }
    }
    return started;
}
