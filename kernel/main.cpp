// The boot CPU's path from the 64-bit entry (boot/entry32.S) to "N CPUs in root mode",
// and each AP's path from boot/ap_trampoline.S to the same place.
#include <stdio.h>
#include <string.h>

#include "boot/multiboot1.hpp"
#include "boot/multiboot2.hpp"
#include "drivers/acpi/acpi_dump.hpp"
#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/acpi/rsdp_search.hpp"
#include "drivers/cmos_clock.hpp"
#include "drivers/hardware_port_io.hpp"
#include "drivers/ioapic.hpp"
#include "drivers/lapic.hpp"
#include "drivers/pic8259.hpp"
#include "drivers/serial16550.hpp"
#include "kernel/assert.hpp"
#include "kernel/cmdline.hpp"
#include "kernel/control/host_info.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/domain/domain_table.hpp"
#include "kernel/gdt.hpp"
#include "kernel/idt.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/panic.hpp"
#include "kernel/passthrough/dom0_power.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/percpu.hpp"
#include "kernel/power.hpp"
#include "kernel/root_mode.hpp"
#include "kernel/sched/cpu_work.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/smp.hpp"
#include "kernel/symbols.hpp"
#include "kernel/time.hpp"
#include "kernel/version.hpp"
#include "kernel/virtualization_support.hpp"
#include "kernel/vm/debug_keys.hpp"
#include "kernel/vm/fpu_state.hpp"
#include "kernel/vm/guest_loader.hpp"
#include "kernel/x86/hardware_cpu.hpp"
#include "kernel/x86/host_cr4.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/kernel_heap.hpp"

void run_global_constructors();

namespace {

Multiboot2Info g_boot;  // a copy: the original goes away with the identity mapping
HypervisorOptions g_options;
AcpiInfo g_acpi;
VirtualizationSupport g_virtualization;
Serial16550* g_console = nullptr;
u32 g_root_mode_cpus = 0;
u32 g_root_mode_failures = 0;

[[noreturn]] void early_halt(const char* message) {
    // Before the console is configured: COM1 at its default settings is all we have.
    Serial16550 com1(HardwarePortIo::instance(), 0x3f8);
    com1.init();
    com1.write(message, strlen(message));
    halt_machine(HaltReason::Panic);
}

void init_console() {
    static Serial16550 console(HardwarePortIo::instance(), g_options.console_port);
    if (!console.init()) {
        // No UART at the requested port: fall back to COM1 rather than going silent.
        static Serial16550 com1(HardwarePortIo::instance(), 0x3f8);
        com1.init();
        g_console = &com1;
        log_init(g_console, g_options.log_level);
        log_warn("console: no UART answers at port %#x; using COM1", g_options.console_port);
        return;
    }
    g_console = &console;
    log_init(g_console, g_options.log_level);
}

// Interrupt stacks, per CPU one each for #DF, NMI, #MC, each above a guard page.
void allocate_interrupt_stacks(PerCpu& cpu) {
    static const char* const kNames[kInterruptStackCount] = {"#DF stack", "NMI stack", "#MC stack"};
    for (u32 i = 0; i < kInterruptStackCount; ++i) {
        cpu.interrupt_stack_top[i] = map_stack(kInterruptStackSize, cpu.index, kNames[i]);
        if (!cpu.interrupt_stack_top[i]) panic("out of memory for the interrupt stacks of cpu%u", cpu.index);
    }
}

void timer_interrupt(TrapFrame&) {
    this_cpu().timer_interrupts = this_cpu().timer_interrupts + 1;
    lapic_eoi();
}

// Proves this CPU takes interrupts: a 1 ms one-shot APIC timer must fire.
bool check_timer_interrupt() {
    const u64 before = this_cpu().timer_interrupts;
    lapic_timer_oneshot(1000, kVectorLapicTimer);
    // Polls rather than halts: if the timer never fires, nothing else would wake us.
    const u64 deadline = uptime_us() + 500000;
    x86::sti();
    for (u64 spins = 0; this_cpu().timer_interrupts == before && uptime_us() < deadline && spins < 100000000; ++spins)
        x86::pause();
    x86::cli();
    return this_cpu().timer_interrupts != before;
}

void enter_root_mode_here() {
    PerCpu& cpu = this_cpu();
    const char* error = nullptr;
    if (enter_root_mode(g_virtualization.vendor, cpu, &error)) {
        __atomic_fetch_add(&g_root_mode_cpus, 1, __ATOMIC_ACQ_REL);
    } else {
        __atomic_fetch_add(&g_root_mode_failures, 1, __ATOMIC_ACQ_REL);
        log_error("cpu%u: cannot enter %s root mode: %s", cpu.index, virtualization_mode_name(g_virtualization.vendor),
                  error);
    }
}

// SMEP, SMAP and PSE in this CPU's CR4 (kernel/x86/host_cr4.hpp).
void protect_host_cr4() {
    const u32 leaf7_ebx = x86::cpuid(0).eax >= 7 ? x86::cpuid(7, 0).ebx : 0;
    x86::write_cr4(x86::read_cr4() | x86::host_cr4_protection_bits(leaf7_ebx));
}

void load_descriptor_tables(PerCpu& cpu) {
    allocate_interrupt_stacks(cpu);
    gdt_load(cpu);
    idt_load();
    fpu_enable_this_cpu();  // guests' x87/SSE/AVX state is switched with FXSAVE or XSAVE
    protect_host_cr4();     // every CPU sets up its control registers here, the boot CPU and APs
}

void ap_main(u32 index) {
    PerCpu& cpu = this_cpu();
    idt_load();  // first: until now an exception here would find the real-mode IVT
    load_descriptor_tables(cpu);
    lapic_init_this_cpu();
    cpu.apic_id = lapic_id();
    const bool timer_ok = check_timer_interrupt();
    enter_root_mode_here();
    log_info("cpu%u: online (APIC ID %u)%s", index, cpu.apic_id, timer_ok ? "" : ", but its APIC timer never fired");
    __atomic_store_n(&cpu.online, true, __ATOMIC_RELEASE);
    scheduler_run_this_cpu();
}

// The boot information of a Multiboot version 1 loader, read at the entry: the low
// 4 GiB are in the direct map from the first C++ line (boot/entry32.S), and version 1's
// pointers are 32-bit.
class EntryMemory final : public BootMemory {
public:
    const u8* map(PhysAddr phys, u64 length) override {
        if (phys >= 4 * GiB || length > 4 * GiB - phys) return nullptr;
        return phys_to_virt<const u8>(phys);
    }
};

class KernelAcpiMemory final : public AcpiMemory {
public:
    const u8* map(PhysAddr phys, u64 length) override { return static_cast<const u8*>(map_firmware(phys, length)); }
};

void emit_console_line(const char* line, void*) { console_line("%s", line); }

void init_acpi() {
    KernelAcpiMemory memory;
    const char* error = nullptr;
    if (g_boot.rsdp_length == 0) {
        // Multiboot version 1 has no field for it: where the firmware leaves it.
        FoundRsdp found;
        if (!find_rsdp_in_bios_areas(memory, found))
            panic(
                "acpi: the boot loader passed no ACPI RSDP and the BIOS areas hold none; Vireo needs ACPI to find "
                "CPUs");
        memcpy(g_boot.rsdp, found.bytes, found.length);
        g_boot.rsdp_length = found.length;
        g_boot.rsdp_is_xsdp = found.length == Multiboot2Info::kXsdpLength;
        log_info("acpi: RSDP found at %#llx in the BIOS area (the boot loader passed none)",
                 (unsigned long long)found.address);
    }
    if (!parse_acpi(memory, g_boot.rsdp, g_boot.rsdp_length, g_acpi, &error)) panic("acpi: %s", error);
    for (usize i = 0; i < g_acpi.warning_count; ++i) log_warn("acpi: %s", g_acpi.warnings[i]);
    log_info("acpi: %zu tables; %zu CPUs, %zu IOAPICs in the MADT; HPET %s", g_acpi.table_count, g_acpi.madt.cpu_count,
             g_acpi.madt.ioapic_count, g_acpi.hpet.present ? "present" : "absent");
    if (g_acpi.warnings_dropped) log_warn("acpi: %zu more warnings not shown", g_acpi.warnings_dropped);
    if (g_options.dump_acpi) dump_acpi_tables(memory, g_acpi, emit_console_line, nullptr);
}

void init_interrupt_controllers() {
    pic8259_remap_and_mask();
    for (usize i = 0; i < g_acpi.madt.ioapic_count; ++i) {
        const AcpiIoApic& ioapic = g_acpi.madt.ioapics[i];
        IoApicState state;
        ioapic_init(ioapic.id, ioapic.address, ioapic.gsi_base, state);
    }
    lapic_init_boot_cpu();
    panic_set_stop_others(lapic_send_nmi_to_all_others);
    register_interrupt_handler(kVectorLapicTimer, timer_interrupt);
    host_interrupts_init();
}

void log_memory(const char* when) {
    const MemoryStats stats = memory_stats();
    const u64 used = stats.usable_bytes - stats.free_bytes;
    log_info("mm: %s: %llu MiB usable RAM, %llu KiB used, %llu MiB free (image %llu KiB, heap %zu bytes in use)", when,
             (unsigned long long)(stats.usable_bytes / MiB), (unsigned long long)(used / KiB),
             (unsigned long long)(stats.free_bytes / MiB), (unsigned long long)(stats.hypervisor_image_bytes / KiB),
             kernel_heap_bytes_in_use());
}

volatile usize g_overrun_length = 40;  // volatile: the compiler must not see the overrun coming

// Writes `count` bytes into a 16-byte stack buffer; past 16 it tramples the canary.
__attribute__((noinline)) void overrun_stack_buffer(usize count) {
    char buffer[16];
    for (usize i = 0; i < count; ++i) reinterpret_cast<volatile char*>(buffer)[i] = 'x';
}

// Each call takes 512 bytes of stack and never returns to its caller before the next:
// the stack runs into its guard page.
volatile u64 g_recursion_limit = ~0ull;  // volatile: the compiler must not see the end never comes

__attribute__((noinline)) u64 recurse_for_ever(u64 depth) {
    volatile u8 frame[512];
    frame[0] = u8(depth);
    if (depth == g_recursion_limit) return frame[0];
    return recurse_for_ever(depth + 1) + frame[0];
}

// Not inlined, so the backtrace test can find it by name.
__attribute__((noinline)) void run_self_test() {
    switch (g_options.self_test) {
        case SelfTest::PageFault:
            log_info("selftest: touching an unmapped address; a panic report must follow");
            *reinterpret_cast<volatile u64*>(0x10) = 1;
            break;
        case SelfTest::Assert:
            log_info("selftest: failing an assertion; a panic report must follow");
            VIREO_ASSERT(g_root_mode_cpus == 0);
            break;
        case SelfTest::StackSmash:
            log_info("selftest: overrunning a stack buffer; the stack protector must panic");
            overrun_stack_buffer(g_overrun_length);
            break;
        case SelfTest::StackOverflow:
            log_info("selftest: recursing until the stack overflows; its guard page must stop it");
            recurse_for_ever(0);
            break;
        case SelfTest::LostTimer:
            log_info(
                "selftest: cpu1 misses its timers (never armed while idle, never run there); other CPUs must run them");
            scheduler_lose_timer_interrupts(1);
            break;
        case SelfTest::None: break;
    }
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(u32 magic, PhysAddr info_phys) {
    time_mark_boot();
    // Global constructors run first so no global is used before it is built; none of
    // them may allocate, because the heap comes later (operator new would panic).
    run_global_constructors();
    percpu_init_boot_cpu();
    const char* boot_error = nullptr;
    bool boot_parsed = false;
    if (magic == kMultiboot2BootloaderMagic) {
        boot_parsed = parse_multiboot2(phys_to_virt<const u8>(info_phys), info_phys, g_boot, &boot_error);
    } else if (magic == kMultiboot1BootloaderMagic) {
        // The version-1 header's address fields describe vireo-boot.bin; a loader given
        // the ELF file copies it just as flat, and what follows .data is then wrong.
        if (!kernel_symbols_in_place())
            early_halt(
                "vireo: loaded flat from an ELF file; a Multiboot (version 1) loader takes vireo-boot.bin "
                "(the image flat from its load address); halted.\r\n");
        EntryMemory memory;
        boot_parsed = parse_multiboot1(memory, info_phys, g_boot, &boot_error);
    } else {
        early_halt("vireo: not started by a Multiboot2 or Multiboot boot loader (bad magic in EAX); halted.\r\n");
    }
    if (!boot_parsed) {
        char message[200];
        snprintf(message, sizeof(message), "vireo: bad boot information: %s; halted.\r\n", boot_error);
        early_halt(message);
    }
    CmdlineDiagnostics diagnostics;
    parse_hypervisor_cmdline(g_boot.cmdline, g_options, diagnostics);
    power_set_debug_exit_port(g_options.debug_exit_port);
    init_console();
    log_info("Vireo %s starting, loaded by %s", kVireoVersion,
             g_boot.bootloader_name[0] ? g_boot.bootloader_name : "?");
    log_info("command line: %s", g_boot.cmdline);
    for (usize i = 0; i < diagnostics.count; ++i) log_warn("%s", diagnostics.messages[i]);
    if (diagnostics.overflowed) log_warn("command line: more problems than shown");

    PerCpu& boot_cpu = percpu(0);
    // Our own GDT, TSS and IDT before the page-table switch: GRUB's GDT lives in low
    // memory, which the final tables do not map, so an exception would triple-fault.
    // (The TSS gets its interrupt stacks once memory can be allocated.)
    gdt_load(boot_cpu);
    idt_init();
    idt_load();
    mm_init(g_boot);
    load_descriptor_tables(boot_cpu);
    log_memory("after boot");
    for (usize i = 0; i < g_boot.module_count; ++i)
        log_info("module %zu: %#llx-%#llx (%llu KiB) '%s'", i, (unsigned long long)g_boot.modules[i].start,
                 (unsigned long long)g_boot.modules[i].end,
                 (unsigned long long)((g_boot.modules[i].end - g_boot.modules[i].start) / KiB),
                 g_boot.modules[i].cmdline);

    init_acpi();
    passthrough_init(g_boot, g_acpi, g_options.console_port);
    dom0_set_noreboot(g_options.noreboot);
    if (!g_options.fast_exits) {
        scheduler_disable_fast_exits();
        log_info("sched: fastexits=off: every exit goes through the scheduler's path");
    }
    if (g_options.round_robin) {
        scheduler_use_round_robin();
        log_info("scheduler: round-robin (sched=rr): weights, caps and boosts are ignored");
    }
    const TscCalibration tsc = time_calibrate_tsc(g_acpi.hpet.present ? g_acpi.hpet.base_address : 0);
    if (tsc.hz == 0) panic("time: cannot measure the TSC: no usable HPET, and PIT channel 2 does not count");
    log_info("time: TSC at %llu.%03llu MHz (against the %s), %s", (unsigned long long)(tsc.hz / 1000000),
             (unsigned long long)(tsc.hz / 1000 % 1000), tsc_reference_name(tsc.reference),
             tsc.invariant ? "invariant" : "not invariant");
    time_set_wall_clock(read_cmos_wall_clock(HardwarePortIo::instance()));
    if (time_wall_clock_at_boot() < 0) log_warn("time: the CMOS clock reads nonsense; guests' clocks start at 1970");
    init_interrupt_controllers();
    lapic_init_this_cpu();
    boot_cpu.apic_id = lapic_id();
    const u64 ticks_per_ms = lapic_timer_calibrate();
    log_info("lapic: %s mode, boot CPU APIC ID %u, timer %llu ticks/ms", lapic_mode_name(), boot_cpu.apic_id,
             (unsigned long long)ticks_per_ms);
    if (!check_timer_interrupt()) log_error("lapic: the boot CPU's APIC timer never fired");

    HardwareCpu hw;
    g_virtualization = detect_virtualization(hw);
    host_info_record_boot(g_boot.cmdline, g_virtualization.vendor);
    if (g_virtualization.status != VirtualizationStatus::Usable) {
        console_line("vireo: %s.", describe_virtualization(g_virtualization));
        console_line("vireo: cannot run guests on this machine; halted.");
        halt_machine(HaltReason::NoVirtualization);
    }
    log_info("%s", describe_virtualization(g_virtualization));
    if (g_virtualization.vendor == VirtualizationVendor::AmdSvm)
        log_info("svm: revision %u, %u ASIDs, nested paging %s, NRIP save %s, decode assists %s",
                 g_virtualization.svm.revision, g_virtualization.svm.asid_count,
                 g_virtualization.svm.nested_paging ? "yes" : "no", g_virtualization.svm.nrip_save ? "yes" : "no",
                 g_virtualization.svm.decode_assists ? "yes" : "no");

    enter_root_mode_here();
    cpu_work_init();  // before any CPU can be kicked
    boot_cpu.online = true;
    SmpCpu cpus[kMaxCpus];
    u32 count = 0;
    for (usize i = 0; i < g_acpi.madt.cpu_count && count < kMaxCpus; ++i)
        if (g_acpi.madt.cpus[i].enabled) cpus[count++] = {g_acpi.madt.cpus[i].apic_id};
    bool low_page_usable = false;
    for (usize i = 0; i < g_boot.memory_region_count; ++i) {
        const Multiboot2MemoryRegion& r = g_boot.memory_regions[i];
        if (r.type == kMultiboot2MemoryAvailable && r.base <= kApTrampolinePhys &&
            r.base + r.length >= kApTrampolinePhys + kPageSize)
            low_page_usable = true;
    }
    const u32 online = smp_start_aps(cpus, count, boot_cpu.apic_id, ap_main, low_page_usable);
    log_memory("after SMP start");
    // The run-time mappings so far (stacks, device windows, the AP start-up page) keep W^X
    // too; every later one is checked as it is made (kernel_address_space.cpp).
    mm_check_w_xor_x("after SMP start");

    if (g_root_mode_failures) {
        console_line("vireo: %u of %u CPUs could not enter %s root mode; halted.", g_root_mode_failures, online,
                     virtualization_mode_name(g_virtualization.vendor));
        halt_machine(HaltReason::NoVirtualization);
    }
    console_line("vireo: %u CPUs in %s root mode", g_root_mode_cpus, virtualization_mode_name(g_virtualization.vendor));
    run_self_test();
    const u32 domains = load_domains_from_modules(g_boot);
    if (g_options.debug_exit_port && domain_count() == 0) {
        log_info("no domains to run: powering off through the debug-exit port %#x", g_options.debug_exit_port);
        halt_machine(HaltReason::NothingToRun);
    }
    if (domains) log_info("%u domain%s started", domains, domains == 1 ? "" : "s");
    domains_power_off_when_ended(g_options.debug_exit_port != 0);
    debug_keys_start();
    scheduler_run_this_cpu();
}
