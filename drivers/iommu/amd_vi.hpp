// One AMD IOMMU (AMD-Vi), driven for DMA remapping (AMD I/O Virtualization Technology
// (IOMMU) Specification, 48882 rev. 3.x; "48882 3.4" below is a section of it): its
// device table, command buffer and event log, all in host memory the IOMMU reads and
// writes itself, and its MMIO registers. Every device ID (all 65536 of them, so that no
// requester, real or forged, finds an entry with V = 0, which would pass its DMA
// untranslated: 48882 2.2.2.1) translates through one set of I/O page tables, in the
// format of mm/amd_vi_format.hpp.
//
// Registers and memory come through drivers/iommu/iommu_access.hpp.
#pragma once

#include "drivers/iommu/iommu_access.hpp"
#include "kernel/types.hpp"

// An event log entry (48882 2.5, the event formats), decoded.
struct AmdViEvent {
    enum Code : u8 {
        IllegalDeviceTableEntry = 1,
        IoPageFault = 2,
        DeviceTableHardwareError = 3,
        PageTableHardwareError = 4,
        IllegalCommand = 5,
        CommandHardwareError = 6,
        IotlbInvalidationTimeout = 7,
        InvalidDeviceRequest = 8,
    };
    u8 code;
    u16 device_id;  // bus << 8 | devfn
    u16 domain_id;  // IO_PAGE_FAULT: the domain of the device table entry
    u16 flags;      // IO_PAGE_FAULT: GN NX US I PR RW PE RZ TR (bits 0-8)
    u64 address;
    bool write;  // IO_PAGE_FAULT: the access was a write

    // "an I/O page fault", "an illegal device table entry", ... ("an unknown event" else).
    const char* what() const;
};

// Decodes one 16-byte entry.
AmdViEvent decode_amd_vi_event(u64 low, u64 high);

// Interrupt remapping (48882 2.2.5): every device ID but the exempt ones remaps its MSIs
// through `table`, 2^length_code 32-bit entries (IRTEs, 2.2.5.1) indexed by the MSI data's
// bits 10:0, so that a device raises only what an entry allows; the exempt ones (the I/O
// APICs and HPETs, which the hypervisor programs itself) pass their interrupts on.
struct AmdViInterrupts {
    PhysAddr table;
    u8 length_code;  // IntTabLen, at most 11
    const u16* exempt;
    usize exempt_count;
};

// An IRTE without guest virtual APIC (48882 2.2.5.1): RemapEn (bit 0), IntType 000b
// (fixed), DM 0 (physical), the destination APIC ID (15:8), the vector (23:16).
constexpr u32 amd_vi_irte(u8 vector, u8 apic_id) { return 1u | (u32(apic_id) << 8) | (u32(vector) << 16); }

class AmdViUnit {
public:
    // 48882 3.4: MMIO register offsets.
    static constexpr u32 kDeviceTableBase = 0x00;
    static constexpr u32 kCommandBufferBase = 0x08;
    static constexpr u32 kEventLogBase = 0x10;
    static constexpr u32 kControl = 0x18;
    static constexpr u32 kExtendedFeatures = 0x30;
    static constexpr u32 kCommandHead = 0x2000;
    static constexpr u32 kCommandTail = 0x2008;
    static constexpr u32 kEventHead = 0x2010;
    static constexpr u32 kEventTail = 0x2018;
    static constexpr u32 kStatus = 0x2020;

    // Control register bits (48882 3.4.3).
    static constexpr u64 kIommuEnable = 1ull << 0;
    static constexpr u64 kEventLogEnable = 1ull << 2;
    static constexpr u64 kCommandBufferEnable = 1ull << 12;
    // Status register bits (48882 3.4.14); the first three are write-1-to-clear.
    static constexpr u64 kEventOverflow = 1ull << 0;
    static constexpr u64 kEventLogInterrupt = 1ull << 1;
    static constexpr u64 kCompletionWaitInterrupt = 1ull << 2;
    static constexpr u64 kEventLogRunning = 1ull << 3;

    static constexpr u64 kDeviceIds = 65536;
    static constexpr u64 kDeviceTableEntryBytes = 32;
    static constexpr u64 kDeviceTablePages = kDeviceIds * kDeviceTableEntryBytes / kPageSize;  // 512: 2 MiB
    // 256 entries of 16 bytes each, the smallest size (length code 8: 2^8 entries).
    static constexpr u64 kRingEntries = 256;
    static constexpr u64 kRingEntryBytes = 16;
    static constexpr u64 kRingLengthCode = 8;
    static constexpr u64 kRingBytes = kRingEntries * kRingEntryBytes;
    // How many times a completion wait reads its semaphore before giving up: commands
    // take microseconds on hardware (and none in QEMU, which runs them as the tail is
    // written); an IOMMU that never answers must not hang the hypervisor.
    static constexpr u64 kCompletionPolls = 100'000'000;

    AmdViUnit(IommuRegisters& registers, IommuMemory& memory) : regs_(registers), memory_(memory) {}
    AmdViUnit(const AmdViUnit&) = delete;
    AmdViUnit& operator=(const AmdViUnit&) = delete;
    ~AmdViUnit();

    // Takes the IOMMU over: turns it off, gives it a device table in which every device ID
    // translates through the 4-level tables at `root` as domain `domain_id` (and remaps
    // its interrupts as `interrupts` says, when not null), a command buffer and an event
    // log, turns it on and flushes whatever it cached before. False with *error set (the
    // IOMMU is then off again, and nothing is held).
    bool enable(PhysAddr root, u16 domain_id, const AmdViInterrupts* interrupts, const char** error);
    bool enabled() const { return device_table_ != IommuMemory::kNone; }
    // After the tables changed (a translation was taken away): the IOMMU forgets what it
    // cached of `domain_id`'s translations, and this returns once it has. False when the
    // IOMMU did not confirm in time.
    bool flush_domain(u16 domain_id);

    // Calls f(const AmdViEvent&) for each event logged since the last call, in order, and
    // returns how many there were. An overflowed log is restarted; the events it could
    // not hold are counted in lost_events().
    //
    // An entry counts as logged when the IOMMU's tail register has moved past it (48882
    // 2.5). QEMU 7.2's model (hw/i386/amd_iommu.c, amdvi_log_event) writes entries but
    // never moves the register: until the register has been seen to move, an entry that
    // is not all zeros counts as logged (every event has a nonzero code, and each entry is
    // zeroed once taken, so a nonzero entry is a new one).
    template <typename F>
    usize take_events(F f) {
        if (!enabled()) return 0;
        usize taken = 0;
        u64 head = regs_.read64(kEventHead) & kRingOffsetMask;
        const u64 tail = regs_.read64(kEventTail) & kRingOffsetMask;
        tail_moves_ = tail_moves_ || tail != 0;
        u64* log = static_cast<u64*>(memory_.pointer(event_log_));
        for (usize n = 0; n < kRingEntries && head < kRingBytes; ++n) {
            u64* entry = log + head / 8;
            const u64 low = __atomic_load_n(&entry[0], __ATOMIC_ACQUIRE);
            const u64 high = __atomic_load_n(&entry[1], __ATOMIC_ACQUIRE);
            if (tail_moves_ ? head == tail : (low == 0 && high == 0)) break;
            f(decode_amd_vi_event(low, high));
            entry[0] = entry[1] = 0;
            ++taken;
            head = (head + kRingEntryBytes) % kRingBytes;
        }
        if (taken) regs_.write64(kEventHead, head);
        if (regs_.read64(kStatus) & kEventOverflow) restart_event_log();
        return taken;
    }
    u64 lost_events() const { return overflows_; }

    // Turns translation off and frees the unit's tables (not the I/O page tables).
    void disable();

private:
    static constexpr u64 kRingOffsetMask = 0x7fff0ull;  // bits 18:4 of head and tail
    static constexpr u64 kBaseMask = 0x000ffffffffff000ull;

    void fill_device_table(PhysAddr root, u16 domain_id, const AmdViInterrupts* interrupts);
    bool invalidate_caches(u16 domain_id);
    bool submit(u64 low, u64 high);
    bool wait_for_completion();
    void restart_event_log();
    void release();

    IommuRegisters& regs_;
    IommuMemory& memory_;
    PhysAddr device_table_ = IommuMemory::kNone;
    PhysAddr command_buffer_ = IommuMemory::kNone;
    PhysAddr event_log_ = IommuMemory::kNone;
    PhysAddr semaphore_ = IommuMemory::kNone;  // where COMPLETION_WAIT stores
    u64 command_tail_ = 0;
    u64 outstanding_ = 0;  // commands written since the last completed wait
    u64 completion_sequence_ = 0;
    u64 overflows_ = 0;
    bool tail_moves_ = false;  // the event log's tail register was seen to move
};
