#include "drivers/iommu/amd_vi.hpp"

#include <string.h>

namespace {

// 48882 2.2.2.1, the device table entry: quad 0 holds V (bit 0), TV (1), Mode (11:9: the
// levels of the I/O page tables), the root pointer (51:12), IR (61) and IW (62); quad 1
// the domain ID (15:0). Quads 2 and 3 (interrupt remapping and attributes) stay zero:
// IV = 0 passes interrupts on as they are.
constexpr u64 kDteValid = 1ull << 0;
constexpr u64 kDteTranslationValid = 1ull << 1;
constexpr u64 kDteMode4Level = 4ull << 9;
constexpr u64 kDteRead = 1ull << 61;
constexpr u64 kDteWrite = 1ull << 62;
constexpr u64 kDteRootMask = 0x000ffffffffff000ull;
// Quad 2 (interrupt remapping): IV (bit 0), IntTabLen (4:1), the table's address (51:6),
// IntCtl (61:60) 10b: fixed and arbitrated interrupts are remapped.
constexpr u64 kDteInterruptsValid = 1ull << 0;
constexpr u32 kDteTableLengthShift = 1;
constexpr u64 kDteInterruptTableMask = 0x000fffffffffffc0ull;
constexpr u64 kDteRemapInterrupts = 2ull << 60;

// 48882 2.4, commands: the opcode in bits 63:60 of the first quad.
constexpr u64 kOpCompletionWait = 1ull << 60;
constexpr u64 kOpInvalidateDevtabEntry = 2ull << 60;
constexpr u64 kOpInvalidateIommuPages = 3ull << 60;
constexpr u64 kOpInvalidateIommuAll = 8ull << 60;
// Extended features (48882 3.4.5): IASup, INVALIDATE_IOMMU_ALL is there.
constexpr u64 kFeatureInvalidateAll = 1ull << 6;
// Commands between two completion waits when every device table entry is invalidated
// one by one: well under the ring's 256, with room for the wait itself.
constexpr u64 kCommandBatch = 128;
// COMPLETION_WAIT: S (bit 0) stores the second quad at the 8-byte aligned address in
// bits 51:3. INVALIDATE_IOMMU_PAGES: the domain ID in bits 47:32; in the second quad
// S (bit 0) with the address's low bits set to 1 sizes the range, PDE (bit 1) includes
// the cached table entries: 0x7ffffffffffff000 with both is the whole domain (2.4.3).
constexpr u64 kCompletionStore = 1ull << 0;
constexpr u64 kInvalidateAllPages = 0x7ffffffffffff000ull | (1ull << 1) | (1ull << 0);
constexpr u32 kDomainIdShift = 32;

// The event format (48882 2.5): device ID in bits 15:0 of the first quad, the domain ID
// (IO_PAGE_FAULT) in bits 47:32, the flags in 59:48 and the event code in 63:60; the
// address in the second quad.
constexpr u16 kFlagWrite = 1u << 5;  // RW
// QEMU's model (hw/i386/amd_iommu.c, amdvi_page_fault) puts the access in the flags'
// bits 1:0 instead (1 read, 2 write), over GN and NX. Vireo enables no guest (GN)
// translation, and PCI devices make no execute (NX) requests of it, so either bit set
// means that encoding.
constexpr u16 kQemuFlagRead = 1u << 0;
constexpr u16 kQemuFlagWrite = 1u << 1;

}  // namespace

const char* AmdViEvent::what() const {
    switch (code) {
        case IllegalDeviceTableEntry: return "an illegal device table entry";
        case IoPageFault: return "an I/O page fault";
        case DeviceTableHardwareError: return "a device table hardware error";
        case PageTableHardwareError: return "a page table hardware error";
        case IllegalCommand: return "an illegal command";
        case CommandHardwareError: return "a command hardware error";
        case IotlbInvalidationTimeout: return "an IOTLB invalidation timeout";
        case InvalidDeviceRequest: return "an invalid device request";
        default: return "an unknown event";
    }
}

AmdViEvent decode_amd_vi_event(u64 low, u64 high) {
    AmdViEvent e{};
    e.code = u8(low >> 60);
    e.device_id = u16(low);
    e.domain_id = u16(low >> 32);
    e.flags = u16((low >> 48) & 0xfff);
    e.address = high;
    if (e.flags & (kQemuFlagRead | kQemuFlagWrite))
        e.write = (e.flags & kQemuFlagWrite) != 0;
    else
        e.write = (e.flags & kFlagWrite) != 0;
    return e;
}

AmdViUnit::~AmdViUnit() { disable(); }

void AmdViUnit::fill_device_table(PhysAddr root, u16 domain_id, const AmdViInterrupts* interrupts) {
    auto* table = static_cast<u64*>(memory_.pointer(device_table_));
    const u64 quad0 = kDteValid | kDteTranslationValid | kDteMode4Level | (root & kDteRootMask) | kDteRead | kDteWrite;
    const u64 quad2 = interrupts ? kDteInterruptsValid | (u64(interrupts->length_code) << kDteTableLengthShift) |
                                       (interrupts->table & kDteInterruptTableMask) | kDteRemapInterrupts
                                 : 0;
    for (u64 id = 0; id < kDeviceIds; ++id) {
        u64* dte = table + id * (kDeviceTableEntryBytes / 8);
        bool exempt = false;
        for (usize i = 0; interrupts && i < interrupts->exempt_count; ++i)
            exempt = exempt || interrupts->exempt[i] == id;
        dte[1] = domain_id;
        dte[2] = exempt ? 0 : quad2;
        dte[3] = 0;
        __atomic_store_n(&dte[0], quad0, __ATOMIC_RELEASE);
    }
}

bool AmdViUnit::enable(PhysAddr root, u16 domain_id, const AmdViInterrupts* interrupts, const char** error) {
    if (enabled()) {
        *error = "it is on already";
        return false;
    }
    // Whatever the firmware left running stops first (48882 3.4.3: clearing IommuEn
    // stops translation, the command buffer and the event log).
    regs_.write64(kControl, 0);
    device_table_ = memory_.alloc(kDeviceTablePages);
    command_buffer_ = memory_.alloc(1);
    event_log_ = memory_.alloc(1);
    semaphore_ = memory_.alloc(1);
    if (device_table_ == IommuMemory::kNone || command_buffer_ == IommuMemory::kNone ||
        event_log_ == IommuMemory::kNone || semaphore_ == IommuMemory::kNone) {
        release();
        *error = "out of memory for its device table, command buffer and event log";
        return false;
    }
    fill_device_table(root, domain_id, interrupts);
    // 48882 3.4.1-3.4.2: the device table's size in 4 KiB units less one (bits 8:0); the
    // rings' lengths as a power of two in bits 59:56. Writing a ring's base resets its
    // head and tail.
    regs_.write64(kDeviceTableBase, (device_table_ & kBaseMask) | (kDeviceTablePages - 1));
    regs_.write64(kCommandBufferBase, (command_buffer_ & kBaseMask) | (kRingLengthCode << 56));
    regs_.write64(kEventLogBase, (event_log_ & kBaseMask) | (kRingLengthCode << 56));
    regs_.write64(kCommandHead, 0);
    regs_.write64(kCommandTail, 0);
    outstanding_ = 0;
    regs_.write64(kEventHead, 0);
    regs_.write64(kEventTail, 0);
    command_tail_ = 0;
    regs_.write64(kStatus, kEventOverflow | kEventLogInterrupt | kCompletionWaitInterrupt);
    regs_.write64(kControl, kIommuEnable | kEventLogEnable | kCommandBufferEnable);
    // Entries and translations it may have cached from the firmware's tables go.
    const bool flushed = invalidate_caches(domain_id);
    if (!flushed) {
        disable();
        *error = "it did not complete its first commands";
        return false;
    }
    return true;
}

// Every cached device table entry and every cached translation of `domain_id`: one
// INVALIDATE_IOMMU_ALL where the IOMMU has it, else an INVALIDATE_DEVTAB_ENTRY per device
// ID (it caches only entries of IDs that made requests, but nothing says which).
bool AmdViUnit::invalidate_caches(u16 domain_id) {
    if (regs_.read64(kExtendedFeatures) & kFeatureInvalidateAll)
        return submit(kOpInvalidateIommuAll, 0) && wait_for_completion();
    for (u64 id = 0; id < kDeviceIds; ++id) {
        if (!submit(kOpInvalidateDevtabEntry | id, 0)) return false;
        if (id % kCommandBatch == kCommandBatch - 1 && !wait_for_completion()) return false;
    }
    return flush_domain(domain_id);
}

bool AmdViUnit::flush_domain(u16 domain_id) {
    if (!enabled()) return false;
    return submit(kOpInvalidateIommuPages | (u64(domain_id) << kDomainIdShift), kInvalidateAllPages) &&
           wait_for_completion();
}

// Writes one command at the tail and moves the tail past it (48882 3.3.2). The ring never
// fills: a completion wait comes before 255 commands are outstanding, and every command
// before a completed wait has been read. The head register is not consulted: QEMU 7.2's
// model (hw/i386/amd_iommu.c, amdvi_cmdbuf_run) never updates it.
bool AmdViUnit::submit(u64 low, u64 high) {
    if (outstanding_ == kRingEntries - 1) return false;  // a caller broke the rule
    auto* ring = static_cast<u64*>(memory_.pointer(command_buffer_));
    ring[command_tail_ / 8] = low;
    ring[command_tail_ / 8 + 1] = high;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    command_tail_ = (command_tail_ + kRingEntryBytes) % kRingBytes;
    ++outstanding_;
    regs_.write64(kCommandTail, command_tail_);
    return true;
}

// COMPLETION_WAIT with a store: the IOMMU writes the sequence number once every command
// before it has completed (48882 2.4.1).
bool AmdViUnit::wait_for_completion() {
    volatile u64* semaphore = static_cast<volatile u64*>(memory_.pointer(semaphore_));
    const u64 sequence = ++completion_sequence_;
    if (!submit(kOpCompletionWait | kCompletionStore | (semaphore_ & 0x000ffffffffffff8ull), sequence)) return false;
    for (u64 i = 0; i < kCompletionPolls; ++i) {
        if (*semaphore == sequence) {
            outstanding_ = 0;
            return true;
        }
        __builtin_ia32_pause();
    }
    return false;
}

// 48882 2.5.2: after an overflow the log stops; it restarts once EventLogEn is cleared,
// the overflow bit cleared and the log set up again.
void AmdViUnit::restart_event_log() {
    ++overflows_;
    const u64 control = regs_.read64(kControl);
    regs_.write64(kControl, control & ~kEventLogEnable);
    regs_.write64(kStatus, kEventOverflow);
    // Entries it wrote past what take_events saw are lost with the restart; none may
    // pass for a new one later.
    auto* log = static_cast<u64*>(memory_.pointer(event_log_));
    for (u64 i = 0; i < kRingBytes / 8; ++i) log[i] = 0;
    regs_.write64(kEventLogBase, (event_log_ & kBaseMask) | (kRingLengthCode << 56));
    regs_.write64(kEventHead, 0);
    regs_.write64(kEventTail, 0);
    regs_.write64(kControl, control | kEventLogEnable);
}

void AmdViUnit::disable() {
    if (device_table_ == IommuMemory::kNone && command_buffer_ == IommuMemory::kNone) return;
    regs_.write64(kControl, 0);
    release();
}

void AmdViUnit::release() {
    if (device_table_ != IommuMemory::kNone) memory_.free(device_table_, kDeviceTablePages);
    if (command_buffer_ != IommuMemory::kNone) memory_.free(command_buffer_, 1);
    if (event_log_ != IommuMemory::kNone) memory_.free(event_log_, 1);
    if (semaphore_ != IommuMemory::kNone) memory_.free(semaphore_, 1);
    device_table_ = command_buffer_ = event_log_ = semaphore_ = IommuMemory::kNone;
}
