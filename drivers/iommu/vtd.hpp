// One Intel VT-d remapping unit, driven for DMA remapping in legacy mode (Intel
// Virtualization Technology for Directed I/O Architecture Specification, rev. 4.x; "VT-d
// 11.4.4" below is a section of it): a root table whose 256 entries each point to a
// context table whose 256 entries all translate through one set of second-level page
// tables, so every requester ID (bus, device, function), real or forged, finds a present
// context entry (a not-present one blocks, but says nothing of who tried). Register-based
// invalidation (no queued invalidation), faults read from the fault recording registers.
//
// Second-level paging entries have the EPT layout (VT-d 9.8: R, W, X in bits 2:0, PS in
// bit 7, the address in 51:12; bits 6:3 are ignored without extended memory types, bits
// 61:52 ignored), so the tables come from the shared builder with EptFormat
// (mm/ept_format.hpp), like the CPU's EPT.
#pragma once

#include "drivers/iommu/iommu_access.hpp"
#include "kernel/types.hpp"

// A fault recording register (VT-d 11.4.14), decoded.
struct VtdFault {
    u16 source_id;  // bus << 8 | devfn
    u8 reason;      // VT-d 7.1.3 table: 5 write not allowed, 6 read not allowed, ...
    bool write;     // T = 0: a write request
    u64 address;    // the page (fault info, bits 63:12)

    // "a write not allowed", "a read not allowed", ... ("a fault of reason N" else).
    const char* what() const;
};

// Interrupt remapping (VT-d 5.1): the table of 2^(size_code + 1) 128-bit IRTEs the unit
// remaps every remappable-format interrupt through; compatibility-format interrupts are
// blocked (GSTS.CFIS stays 0), so a device raises only what an entry allows.
struct VtdInterrupts {
    PhysAddr table;
    u8 size_code;  // IRTA.S
};

// An IRTE (VT-d 9.10) for a fixed interrupt of `vector` to the xAPIC `apic_id` in
// physical mode: P (bit 0), TM (bit 4: 1 level), the vector (23:16), the destination
// (xAPIC: bits 47:40); the upper quad 0: no source-ID verification.
constexpr u64 vtd_irte_low(u8 vector, u8 apic_id, bool level) {
    return 1ull | (level ? 1ull << 4 : 0) | (u64(vector) << 16) | (u64(apic_id) << 40);
}
// The remappable-format MSI address for IRTE `handle` (VT-d 5.1.5.2): 0xFEE in bits 31:20,
// handle[14:0] in 19:5, the format bit 4, handle[15] in bit 2, SHV 0 (data 0).
constexpr u64 vtd_msi_address(u16 handle) {
    return 0xfee00000ull | (u64(handle & 0x7fff) << 5) | (1ull << 4) | (u64(handle >> 15) << 2);
}

class VtdUnit {
public:
    // VT-d 11.4: register offsets.
    static constexpr u32 kVersion = 0x00;
    static constexpr u32 kCapability = 0x08;
    static constexpr u32 kExtendedCapability = 0x10;
    static constexpr u32 kGlobalCommand = 0x18;  // 32-bit
    static constexpr u32 kGlobalStatus = 0x1c;   // 32-bit
    static constexpr u32 kRootTableAddress = 0x20;
    static constexpr u32 kContextCommand = 0x28;
    static constexpr u32 kFaultStatus = 0x34;            // 32-bit
    static constexpr u32 kFaultControl = 0x38;           // 32-bit
    static constexpr u32 kProtectedMemoryEnable = 0x64;  // 32-bit
    static constexpr u32 kQueueHead = 0x80;
    static constexpr u32 kQueueTail = 0x88;
    static constexpr u32 kQueueAddress = 0x90;
    static constexpr u32 kInterruptTableAddress = 0xb8;

    // Global command and status bits (VT-d 11.4.4, 11.4.5).
    static constexpr u32 kTranslationEnable = 1u << 31;
    static constexpr u32 kSetRootTablePointer = 1u << 30;
    static constexpr u32 kWriteBufferFlush = 1u << 27;
    static constexpr u32 kQueuedInvalidationEnable = 1u << 26;
    static constexpr u32 kInterruptRemappingEnable = 1u << 25;
    static constexpr u32 kSetInterruptTablePointer = 1u << 24;
    // The one-shot command bits, which a command must not repeat (VT-d 11.4.4).
    static constexpr u32 kOneShotCommands = (1u << 30) | (1u << 29) | (1u << 27) | (1u << 24);
    // Fault status (VT-d 11.4.9): Primary Fault Overflow (write 1 to clear), Primary
    // Pending Fault, Fault Record Index (15:8).
    static constexpr u32 kPrimaryFaultOverflow = 1u << 0;
    static constexpr u32 kPrimaryPendingFault = 1u << 1;
    static constexpr u32 kInterruptMask = 1u << 31;  // fault event control

    static constexpr u64 kBuses = 256;
    // Polls of a register before a command counts as not done: hardware takes
    // microseconds (QEMU none); a unit that never answers must not hang the hypervisor.
    static constexpr u64 kCommandPolls = 100'000'000;

    VtdUnit(IommuRegisters& registers, IommuMemory& memory) : regs_(registers), memory_(memory) {}
    VtdUnit(const VtdUnit&) = delete;
    VtdUnit& operator=(const VtdUnit&) = delete;
    ~VtdUnit();

    // Whether it can walk `root`, a 4-level table mapping nothing at or above
    // `address_end`: 4-level walks (SAGAW bit 2), or 3-level ones (bit 1) when everything
    // lies below 512 GiB. False with *error naming what is missing.
    bool can_translate(u64 address_end, const char** error);
    // 2 MiB second-level pages (SLLPS bit 0).
    bool has_2mib_pages();
    // Interrupt remapping (ECAP.IR) with the queued invalidation it needs (ECAP.QI: the
    // interrupt entry cache has no register-based invalidation).
    bool can_remap_interrupts();
    // Takes the unit over: root and context tables sending every requester ID through
    // `root` (its PML4, or the table below its first entry for a 3-level unit) as domain
    // `domain_id`, its caches invalidated, translation on, the firmware's protected
    // memory regions off; with `interrupts`, queued invalidation and interrupt remapping
    // on too. False with *error set; the unit is then off and holds nothing.
    bool enable(PhysAddr root, PhysAddr root_3level, u16 domain_id, const VtdInterrupts* interrupts,
                const char** error);
    bool enabled() const { return root_table_ != IommuMemory::kNone; }
    // After the tables lost a translation: the unit forgets what it cached (a global
    // IOTLB invalidation, VT-d 6.5.2.2). False when it did not confirm in time.
    bool flush();
    // After IRTE `index` changed: the unit forgets what it cached of it (VT-d 6.5.2.7).
    bool invalidate_interrupt_entry(u16 index);

    // Calls f(const VtdFault&) for each fault recorded since the last call and returns how
    // many there were; a fault overflow (faults the registers could not hold) is counted
    // in lost_faults().
    template <typename F>
    usize take_faults(F f) {
        if (!enabled()) return 0;
        const u32 status = regs_.read32(kFaultStatus);
        usize taken = 0;
        if (status & kPrimaryPendingFault) {
            const u32 first = (status >> 8) & 0xff;
            for (u32 n = 0; n < fault_registers_; ++n) {
                const u32 at = fault_offset_ + ((first + n) % fault_registers_) * 16;
                const u64 high = regs_.read64(at + 8);
                if (!(high & kFaultBit)) continue;
                f(decode_fault(regs_.read64(at), high));
                regs_.write32(at + 12, u32(kFaultBit >> 32));  // F is write-1-to-clear
                ++taken;
            }
        }
        if (status & kPrimaryFaultOverflow) {
            ++overflows_;
            regs_.write32(kFaultStatus, kPrimaryFaultOverflow);
        }
        return taken;
    }
    u64 lost_faults() const { return overflows_; }

    // Turns translation off and frees the unit's root and context tables.
    void disable();

    static VtdFault decode_fault(u64 low, u64 high);

private:
    static constexpr u64 kFaultBit = 1ull << 63;

    bool command(u32 bit, bool set);
    bool wait64(u32 offset, u64 bit);
    bool flush_write_buffer();
    bool invalidate_contexts();
    bool enable_queue();
    bool queue(u64 low, u64 high);
    bool queue_wait();
    void release();

    IommuRegisters& regs_;
    IommuMemory& memory_;
    PhysAddr root_table_ = IommuMemory::kNone;
    PhysAddr context_tables_ = IommuMemory::kNone;  // 256 pages, one per bus
    PhysAddr queue_ = IommuMemory::kNone;           // the invalidation queue, with IR
    PhysAddr queue_status_ = IommuMemory::kNone;    // where its wait descriptors write
    u64 queue_tail_ = 0;
    u32 queue_sequence_ = 0;
    u32 fault_offset_ = 0;
    u32 fault_registers_ = 0;
    u32 iotlb_offset_ = 0;
    u64 overflows_ = 0;
};
