#include "kernel/passthrough/dom0_pci.hpp"

#include "kernel/passthrough/dma_protection.hpp"

#include "drivers/acpi/acpi_tables.hpp"
#include "drivers/hardware_port_io.hpp"
#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/hardware_domain.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/passthrough/host_physical_policy.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/devices/passthrough/pci_config_ports.hpp"
#include "kernel/vm/devices/passthrough/pci_ecam_window.hpp"
#include "kernel/vm/devices/passthrough/pci_passthrough.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

// The machine's configuration space: through the ECAM window of the MCFG table where
// there is one (PCI Express base spec 7.2.2: bus << 20 | device << 15 | function << 12 |
// offset, 4 KiB per function), else mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2):
// the address to 0xCF8, then the data at 0xCFC + (offset & 3), 256 bytes per function.
// The hypervisor itself no longer uses it once dom0 runs; the lock keeps the address/data
// pair together anyway.
class HardwarePciConfig final : public PciConfigSpace {
public:
    void use_ecam(volatile u8* window, u8 start_bus, u8 end_bus) {
        ecam_ = window;
        start_bus_ = start_bus;
        end_bus_ = end_bus;
    }
    u32 config_read(PciBdf bdf, u16 offset, u8 size) override {
        if (volatile u8* p = ecam(bdf, offset)) {
            if (size == 1) return *p;
            if (size == 2) return *reinterpret_cast<volatile u16*>(p);
            return *reinterpret_cast<volatile u32*>(p);
        }
        if (offset >= 256) return ~0u >> (32 - 8 * size);
        IrqLockGuard guard(lock_);
        x86::outl(0xcf8, address(bdf, offset));
        return hardware_port_read(u16(0xcfc + (offset & 3)), size);
    }
    void config_write(PciBdf bdf, u16 offset, u8 size, u32 value) override {
        if (volatile u8* p = ecam(bdf, offset)) {
            if (size == 1)
                *p = u8(value);
            else if (size == 2)
                *reinterpret_cast<volatile u16*>(p) = u16(value);
            else
                *reinterpret_cast<volatile u32*>(p) = value;
            return;
        }
        if (offset >= 256) return;
        IrqLockGuard guard(lock_);
        x86::outl(0xcf8, address(bdf, offset));
        hardware_port_write(u16(0xcfc + (offset & 3)), size, value);
    }

private:
    volatile u8* ecam(PciBdf bdf, u16 offset) const {
        if (!ecam_ || bdf.bus < start_bus_ || bdf.bus > end_bus_ || offset >= 4096) return nullptr;
        return ecam_ +
               (u64(bdf.bus - start_bus_) << 20 | u64(bdf.device & 31) << 15 | u64(bdf.function & 7) << 12 | offset);
    }
    volatile u8* ecam_ = nullptr;
    u8 start_bus_ = 0, end_bus_ = 0;
    static u32 address(PciBdf bdf, u16 offset) {
        return 0x80000000u | u32(bdf.bus) << 16 | u32(bdf.device & 31) << 11 | u32(bdf.function & 7) << 8 |
               (offset & 0xfc);
    }
    SpinLock lock_;
};

// MSI-X tables and their pages, each page mapped uncached once (map_device) and kept.
class HostDeviceMmio final : public DeviceMmio {
public:
    u64 mmio_read(PhysAddr address, u8 size) override {
        volatile u8* p = at(address);
        if (!p) return mmio_access_mask(size);
        switch (size) {
            case 1: return *p;
            case 2: return *reinterpret_cast<volatile u16*>(p);
            case 4: return *reinterpret_cast<volatile u32*>(p);
            default: return *reinterpret_cast<volatile u64*>(p);
        }
    }
    void mmio_write(PhysAddr address, u8 size, u64 value) override {
        volatile u8* p = at(address);
        if (!p) return;
        switch (size) {
            case 1: *p = u8(value); break;
            case 2: *reinterpret_cast<volatile u16*>(p) = u16(value); break;
            case 4: *reinterpret_cast<volatile u32*>(p) = u32(value); break;
            default: *reinterpret_cast<volatile u64*>(p) = value; break;
        }
    }

private:
    static constexpr usize kMaxPages = 64;
    volatile u8* at(PhysAddr address) {
        const PhysAddr page = align_down(address, kPageSize);
        // Device memory only, never host RAM or the hypervisor's own devices, wherever a
        // BAR claims to be.
        if (!passthrough_policy().allowed(page, page + kPageSize)) return nullptr;
        for (usize i = 0; i < count_; ++i)
            if (pages_[i] == page) return mapped_[i] + (address - page);
        if (count_ == kMaxPages) return nullptr;
        auto* m = static_cast<volatile u8*>(map_device(page, kPageSize));
        if (!m) return nullptr;
        pages_[count_] = page;
        mapped_[count_++] = m;
        return m + (address - page);
    }
    PhysAddr pages_[kMaxPages] = {};
    volatile u8* mapped_[kMaxPages] = {};
    usize count_ = 0;
};

// Host vectors for the sources dom0 enables (host_interrupts.hpp), and which source
// each one is.
class Dom0MsiRouter final : public MsiInterruptRouter {
public:
    bool bind(PciBdf bdf, u32 source, const MsiMessage&, MsiMessage& host) override {
        i32 index = find(bdf, source);
        if (index < 0) {
            index = host_msi_allocate();
            if (index < 0) return false;
            sources_[index] = {bdf, source, true};
        }
        host_msi_message(u32(index), host.address, host.data);
        return true;
    }
    void unbind(PciBdf bdf, u32 source) override {
        const i32 index = find(bdf, source);
        if (index < 0) return;
        sources_[index].used = false;
        host_msi_free(u32(index));
    }
    void unbind_all() {
        for (u32 i = 0; i < kHostMsiVectorCount; ++i)
            if (sources_[i].used) {
                sources_[i].used = false;
                host_msi_free(i);
            }
    }
    struct Source {
        PciBdf bdf;
        u32 index;
        bool used;
    };
    const Source& source(u32 index) const { return sources_[index]; }

private:
    i32 find(PciBdf bdf, u32 source) const {
        for (u32 i = 0; i < kHostMsiVectorCount; ++i)
            if (sources_[i].used && sources_[i].bdf == bdf && sources_[i].index == source) return i32(i);
        return -1;
    }
    Source sources_[kHostMsiVectorCount] = {};
};

}  // namespace

// Every range dom0 claims fits: its local APIC, I/O APIC, ECAM window and MSI-X tables.
static_assert(MmioBus::kMaxRanges >= 3 + PciPassthrough::kMaxMsixFunctions);

class Dom0Pci;

// One trapped MSI-X table range (its device offsets are from `base`, a host address).
struct MsixWindow final : public MmioDevice {
    Dom0Pci* owner = nullptr;
    DeviceRange range;
    u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) override;
    void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) override;
};

// dom0's accesses to the ECAM window (claimed at the host's address), into the mediator.
struct EcamDevice final : public MmioDevice {
    Dom0Pci* owner = nullptr;
    PciEcamWindow* window = nullptr;
    u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) override;
    void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) override;
};

class Dom0Pci final : public PciPassthroughListener, public IoDevice {
public:
    Dom0Pci(Domain& d, ApicMessageSink& apic, SpinLock& lock)
        : domain_(d), lock_(lock), pt_(PassthroughServices{config_, mmio_, router_, apic, *this}), ports_(pt_) {}
    // Before dom0's memory goes back: no function may interrupt or write memory any more
    // (MSI and MSI-X off, bus mastering off: PCI Local Bus spec 3.0, 6.2.2 Command bit 2).
    ~Dom0Pci() {
        pt_.reset();
        for (usize i = 0; i < pt_.function_count(); ++i) {
            const PciBdf bdf = pt_.function(i).bdf;
            const u32 command = config_.config_read(bdf, 0x04, 2);
            if (command != 0xffff) config_.config_write(bdf, 0x04, 2, command & ~0x4u);
        }
        router_.unbind_all();
        delete ecam_window_;
    }

    bool attach(const char** error) {
        // Segment 0's ECAM window, when the MCFG table gives one: the hypervisor reaches the
        // whole configuration space through it, and dom0's accesses to it are mediated.
        const AcpiMcfg& mcfg = passthrough_host_acpi().mcfg;
        for (usize i = 0; mcfg.present && i < mcfg.allocation_count; ++i) {
            const AcpiMcfgAllocation& a = mcfg.allocations[i];
            if (a.segment != 0 || ecam_window_) {
                // dom0's MCFG lists it, and an untrapped window would be raw configuration
                // space: refused rather than half mediated.
                *error = "the machine has more than one ECAM window (MCFG); Domain-0 supports one";
                return false;
            }
            auto* mapped = static_cast<volatile u8*>(map_device(a.window_start(), a.window_end() - a.window_start()));
            if (!mapped) {
                *error = "cannot map the PCI ECAM window";
                return false;
            }
            config_.use_ecam(mapped, a.start_bus, a.end_bus);
            ecam_window_ = new (kNoThrow) PciEcamWindow(pt_, a.start_bus, a.end_bus);
            if (!ecam_window_) {
                *error = "out of memory for the ECAM window";
                return false;
            }
            ecam_device_.owner = this;
            ecam_device_.window = ecam_window_;
            domain_.memory.unmap_passthrough(a.window_start(), a.window_end() - a.window_start());
            if (!domain_.mmio.claim(a.window_start(), ecam_window_->size(), &ecam_device_)) {
                *error = "cannot trap the PCI ECAM window";
                return false;
            }
            log_info("domain %u (%s): PCI ECAM window %#llx-%#llx (buses %u-%u) mediated", domain_.id, domain_.name,
                     (unsigned long long)a.window_start(), (unsigned long long)a.window_end() - 1, a.start_bus,
                     a.end_bus);
        }
        const PassthroughScanSummary found = pt_.scan();
        log_info("domain %u (%s): %zu PCI functions passed through (%zu hidden)", domain_.id, domain_.name,
                 found.functions, found.hidden);
        if (!domain_.io.claim(PciConfigPorts::kFirstPort, PciConfigPorts::kFirstPort, this) ||
            !domain_.io.claim(PciConfigPorts::kResetControlPort + 1,
                              PciConfigPorts::kFirstPort + PciConfigPorts::kPortCount - 1, this)) {
            *error = "PCI configuration ports taken";
            return false;
        }
        return true;
    }

    void take_host_interrupts() {
        u64 pending[2];
        host_msi_take_pending(pending);
        for (u32 word = 0; word < 2; ++word)
            while (pending[word]) {
                const u32 index = word * 64 + u32(__builtin_ctzll(pending[word]));
                pending[word] &= pending[word] - 1;
                const auto& s = router_.source(index);
                if (s.used) pt_.deliver(s.bdf, s.index);
            }
    }

    // PciPassthroughListener.
    void memory_bar_moved(PciBdf, u32, DeviceRange, DeviceRange) override {}  // mapped on first touch
    bool msix_table_moved(PciBdf bdf, DeviceRange old_range, DeviceRange new_range) override {
        for (MsixWindow& w : windows_) {
            if (old_range.empty() || w.range != old_range) continue;
            domain_.mmio.release(w.range.base, w.range.size, &w);
            w.range = {};
            break;
        }
        if (new_range.empty()) return true;
        // Only a device's memory: a BAR moved onto host RAM or a page the hypervisor keeps
        // (its local APIC) would make the hypervisor's own table writes land there.
        if (!passthrough_policy().allowed(new_range.base, new_range.base + new_range.size)) return false;
        MsixWindow* window = nullptr;
        for (MsixWindow& w : windows_)
            if (w.range.empty()) {
                window = &w;
                break;
            }
        if (!window || domain_.mmio.overlaps(new_range.base, new_range.size)) return false;
        window->owner = this;
        window->range = new_range;
        // Trapped first, then unmapped: a fault in between finds the claim and emulates.
        if (!domain_.mmio.claim(new_range.base, new_range.size, window)) {
            window->range = {};
            return false;
        }
        if (!domain_.memory.unmap_passthrough(new_range.base, new_range.size)) {
            // A large passthrough leaf could not be split (no table memory): the table
            // would stay reachable. Refused; the claim goes again.
            domain_.mmio.release(new_range.base, new_range.size, window);
            window->range = {};
            log_error("domain %u (%s): cannot take the MSI-X table of %02x:%02x.%u at %#llx out of its tables",
                      domain_.id, domain_.name, bdf.bus, bdf.device, bdf.function, (unsigned long long)new_range.base);
            return false;
        }
        flush_needed_ = true;
        return true;
    }
    bool kept_by_hypervisor(PciBdf bdf) override {
        return dma_protection_keeps_function(u16(bdf.bus << 8 | bdf.device << 3 | bdf.function));
    }
    void report(PciBdf bdf, PassthroughIssue issue) override {
        log_warn("domain %u (%s): PCI %02x:%02x.%u: %s", domain_.id, domain_.name, bdf.bus, bdf.device, bdf.function,
                 issue_text(issue));
    }

    // IoDevice: 0xCF8 and 0xCFA-0xCFF.
    u32 io_read(Vcpu&, u16 port, u8 size) override {
        LockGuard<SpinLock> guard(lock_);
        return ports_.port_read(port, size);
    }
    void io_write(Vcpu&, u16 port, u8 size, u32 value) override {
        {
            LockGuard<SpinLock> guard(lock_);
            ports_.port_write(port, size, value);
        }
        flush_if_needed();
    }

    u64 ecam_read(PciEcamWindow& w, u64 offset, u8 size) {
        LockGuard<SpinLock> guard(lock_);
        return w.read(offset, size);
    }
    void ecam_write(PciEcamWindow& w, u64 offset, u8 size, u64 value) {
        {
            LockGuard<SpinLock> guard(lock_);
            w.write(offset, size, value);
        }
        flush_if_needed();
    }

    // The MSI-X table pages (trapped at their host addresses: dom0's are the same).
    u64 msix_read(u64 address, u8 size) {
        LockGuard<SpinLock> guard(lock_);
        return pt_.msix_page_read(address, size);
    }
    void msix_write(u64 address, u8 size, u64 value) {
        {
            LockGuard<SpinLock> guard(lock_);
            pt_.msix_page_write(address, size, value);
        }
        flush_if_needed();
    }

private:
    void flush_if_needed() {
        if (!__atomic_exchange_n(&flush_needed_, false, __ATOMIC_ACQ_REL)) return;
        domain_tlb_shootdown(domain_);
    }

    static const char* issue_text(PassthroughIssue issue) {
        switch (issue) {
            case PassthroughIssue::TooManyFunctions: return "more functions than passthrough takes; hidden";
            case PassthroughIssue::TooManyMsixFunctions: return "more MSI-X functions than passthrough takes; hidden";
            case PassthroughIssue::MsixTableTruncated: return "MSI-X table longer than passthrough takes; truncated";
            case PassthroughIssue::MsixTableUnusable: return "MSI-X table outside its BARs; MSI-X stays off";
            case PassthroughIssue::BindFailed: return "no host vector left for an MSI; it stays off";
            case PassthroughIssue::BusNumberChangeRefused: return "bridge bus-number change refused";
            case PassthroughIssue::MsixTableRefused:
                return "MSI-X table placed where it cannot be trapped (not device memory); MSI-X stays masked";
            case PassthroughIssue::HostBridgeWriteRefused: return "host bridge chipset register writes refused";
            case PassthroughIssue::KeptByHypervisor: return "an IOMMU, kept by the hypervisor; hidden";
        }
        return "?";
    }

    Domain& domain_;
    SpinLock& lock_;
    HardwarePciConfig config_;
    HostDeviceMmio mmio_;
    Dom0MsiRouter router_;
    PciPassthrough pt_;
    PciConfigPorts ports_;
    MsixWindow windows_[PciPassthrough::kMaxMsixFunctions];
    PciEcamWindow* ecam_window_ = nullptr;
    EcamDevice ecam_device_;
    bool flush_needed_ = false;
};

u64 EcamDevice::mmio_read(Vcpu&, u64 offset, u8 size) { return owner->ecam_read(*window, offset, size); }
void EcamDevice::mmio_write(Vcpu&, u64 offset, u8 size, u64 value) { owner->ecam_write(*window, offset, size, value); }

u64 MsixWindow::mmio_read(Vcpu&, u64 offset, u8 size) { return owner->msix_read(range.base + offset, size); }
void MsixWindow::mmio_write(Vcpu&, u64 offset, u8 size, u64 value) {
    owner->msix_write(range.base + offset, size, value);
}

Dom0Pci* dom0_pci_create(Domain& domain, ApicMessageSink& apic, SpinLock& platform_lock, const char** error) {
    auto* pci = new (kNoThrow) Dom0Pci(domain, apic, platform_lock);
    if (!pci) {
        *error = "out of memory for Domain-0's PCI passthrough";
        return nullptr;
    }
    if (!pci->attach(error)) {
        delete pci;
        return nullptr;
    }
    return pci;
}

void dom0_pci_destroy(Dom0Pci* pci) { delete pci; }

usize dom0_pci_footprint() { return sizeof(Dom0Pci); }

void dom0_pci_take_host_interrupts(Dom0Pci& pci) { pci.take_host_interrupts(); }
