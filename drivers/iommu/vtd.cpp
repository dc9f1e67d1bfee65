#include "drivers/iommu/vtd.hpp"

namespace {

// What the firmware may have left on, in the order it goes off: remapping, translation,
// then the queue their invalidations used.
constexpr u32 kEnables[] = {VtdUnit::kInterruptRemappingEnable, VtdUnit::kTranslationEnable,
                            VtdUnit::kQueuedInvalidationEnable};

// Capability register fields (VT-d 11.4.2).
constexpr u64 kCapRequiredWriteBufferFlush = 1ull << 4;  // RWBF
constexpr u32 kCapSagawShift = 8;                        // SAGAW, bits 12:8
constexpr u64 kCapSagaw3Level = 1ull << (kCapSagawShift + 1);
constexpr u64 kCapSagaw4Level = 1ull << (kCapSagawShift + 2);
constexpr u32 kCapFaultOffsetShift = 24;   // FRO, bits 33:24, in 16-byte units
constexpr u32 kCapFaultCountShift = 40;    // NFR, bits 47:40, the count less one
constexpr u64 kCap2MiBPages = 1ull << 34;  // SLLPS bit 0
// Extended capability: QI (bit 1), IR (bit 3), the IOTLB registers' offset (IRO, bits
// 17:8, in 16-byte units).
constexpr u64 kEcapQueuedInvalidation = 1ull << 1;
constexpr u64 kEcapInterruptRemapping = 1ull << 3;
constexpr u32 kEcapIotlbOffsetShift = 8;
// Fault status: IQE (bit 4), an invalidation queue error.
constexpr u32 kInvalidationQueueError = 1u << 4;

// Invalidation descriptors (VT-d 6.5.2), 128 bits, the type in bits 3:0 of the low quad:
// context-cache (1) and IOTLB (2) with granularity 01b (bits 5:4) global, the IOTLB one
// draining reads and writes (DR bit 7, DW bit 6); interrupt entry cache (4) global (G, bit
// 4, clear) or of one index (G set, the index in bits 47:32); invalidation wait (5) that
// writes its status data (bits 63:32) to the address in the high quad (SW, bit 5) once
// every descriptor before it is done (FN, bit 6).
constexpr u64 kDescContextGlobal = 0x1 | (1ull << 4);
constexpr u64 kDescIotlbGlobal = 0x2 | (1ull << 4) | (1ull << 7) | (1ull << 6);
constexpr u64 kDescInterruptEntries = 0x4;
constexpr u64 kDescInterruptEntry = 0x4 | (1ull << 4);
constexpr u64 kDescWait = 0x5 | (1ull << 5) | (1ull << 6);
constexpr u64 kQueueEntries = kPageSize / 16;

// Context command (VT-d 11.4.6): ICC (bit 63) starts it and clears when done; CIRG 01b
// (bits 62:61) invalidates every context entry.
constexpr u64 kContextInvalidate = 1ull << 63;
constexpr u64 kContextGlobal = 1ull << 61;
// IOTLB invalidate register (VT-d 11.4.8.1), 8 bytes past the IRO offset: IVT (bit 63),
// IIRG 01b (bits 61:60) global, DR and DW (bits 49, 48) drain reads and writes first.
constexpr u64 kIotlbInvalidate = 1ull << 63;
constexpr u64 kIotlbGlobal = 1ull << 60;
constexpr u64 kIotlbDrain = (1ull << 49) | (1ull << 48);
// Protected memory enable (VT-d 11.4.13): EPM (bit 31), PRS (bit 0) its status.
constexpr u32 kProtectedMemoryOn = 1u << 31;
constexpr u32 kProtectedMemoryStatus = 1u << 0;

// Root entry (VT-d 9.1): P (bit 0), the context table's address (63:12). Context entry
// (VT-d 9.3): P (bit 0), TT 00b (bits 3:2: untranslated requests through second-level
// tables), the second-level table's address (63:12); in the upper quad AW (2:0: 1 for 3
// levels, 2 for 4) and the domain ID (23:8).
constexpr u64 kPresent = 1ull << 0;
constexpr u64 kAddressMask = 0x000ffffffffff000ull;
constexpr u64 kAw3Level = 1;
constexpr u64 kAw4Level = 2;
constexpr u32 kDomainIdShift = 8;

// Fault recording register (VT-d 11.4.14): FI (63:12) in the low quad; SID (15:0), FR
// (39:32) and T (62: 1 a read, 0 a write) in the high quad.
constexpr u64 kFaultTypeRead = 1ull << 62;

}  // namespace

const char* VtdFault::what() const {
    // VT-d 7.1.3, "Non-recoverable Fault Reason Encodings".
    switch (reason) {
        case 0x1: return "a request through a not-present root entry";
        case 0x2: return "a request through a not-present context entry";
        case 0x3: return "an invalid context entry";
        case 0x4: return "an address beyond the address width";
        case 0x5: return "a write not allowed";
        case 0x6: return "a read not allowed";
        case 0x7: return "a page table entry it could not read";
        case 0x8: return "a root table it could not read";
        case 0x9: return "a context table it could not read";
        case 0xa: return "a root entry with reserved bits";
        case 0xb: return "a context entry with reserved bits";
        case 0xc: return "a page table entry with reserved bits";
        default: return "a fault";
    }
}

VtdFault VtdUnit::decode_fault(u64 low, u64 high) {
    VtdFault f{};
    f.address = low & ~0xfffull;
    f.source_id = u16(high);
    f.reason = u8(high >> 32);
    f.write = (high & kFaultTypeRead) == 0;
    return f;
}

VtdUnit::~VtdUnit() { disable(); }

bool VtdUnit::can_translate(u64 address_end, const char** error) {
    const u64 cap = regs_.read64(kCapability);
    if (cap & kCapSagaw4Level) return true;
    if ((cap & kCapSagaw3Level) && address_end <= (1ull << 39)) return true;
    *error = (cap & kCapSagaw3Level) ? "its 3-level tables reach 512 GiB, less than the memory to map"
                                     : "it walks neither 3- nor 4-level tables";
    return false;
}

bool VtdUnit::has_2mib_pages() { return (regs_.read64(kCapability) & kCap2MiBPages) != 0; }

bool VtdUnit::can_remap_interrupts() {
    const u64 ecap = regs_.read64(kExtendedCapability);
    return (ecap & kEcapInterruptRemapping) && (ecap & kEcapQueuedInvalidation);
}

// VT-d 6.5.2: one page of 256 descriptors (IQA: QS 0, DW 0: 128-bit descriptors), its tail
// at 0, then QIE. From here on invalidations go through the queue only (VT-d 6.5.1).
bool VtdUnit::enable_queue() {
    queue_ = memory_.alloc(1);
    queue_status_ = memory_.alloc(1);
    if (queue_ == IommuMemory::kNone || queue_status_ == IommuMemory::kNone) return false;
    queue_tail_ = 0;
    regs_.write64(kQueueTail, 0);
    regs_.write64(kQueueAddress, queue_ & kAddressMask);
    return command(kQueuedInvalidationEnable, true);
}

// Writes one descriptor at the tail and moves the tail past it. Every caller waits
// (queue_wait) right after its one or two descriptors, so the queue never fills.
bool VtdUnit::queue(u64 low, u64 high) {
    auto* descriptors = static_cast<u64*>(memory_.pointer(queue_));
    descriptors[queue_tail_ / 8] = low;
    descriptors[queue_tail_ / 8 + 1] = high;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    queue_tail_ = (queue_tail_ + 16) % (kQueueEntries * 16);
    regs_.write64(kQueueTail, queue_tail_);
    return true;
}

// An invalidation wait descriptor, and until its status write arrives (or the unit
// reports a queue error: a descriptor it refused).
bool VtdUnit::queue_wait() {
    volatile u32* status = static_cast<volatile u32*>(memory_.pointer(queue_status_));
    const u32 sequence = ++queue_sequence_;
    queue(kDescWait | (u64(sequence) << 32), queue_status_ & ~3ull);
    for (u64 i = 0; i < kCommandPolls; ++i) {
        if (*status == sequence) return true;
        if (regs_.read32(kFaultStatus) & kInvalidationQueueError) return false;
        __builtin_ia32_pause();
    }
    return false;
}

bool VtdUnit::invalidate_contexts() {
    if (queue_ != IommuMemory::kNone) return queue(kDescContextGlobal, 0) && queue_wait();
    regs_.write64(kContextCommand, kContextInvalidate | kContextGlobal);
    return wait64(kContextCommand, kContextInvalidate);
}

bool VtdUnit::invalidate_interrupt_entry(u16 index) {
    if (queue_ == IommuMemory::kNone) return false;
    return queue(kDescInterruptEntry | (u64(index) << 32), 0) && queue_wait();
}

// A global command (VT-d 11.4.4): the status register's persistent bits, with `bit`
// set or cleared, and wait until the status says so.
bool VtdUnit::command(u32 bit, bool set) {
    const u32 status = regs_.read32(kGlobalStatus) & ~kOneShotCommands;
    regs_.write32(kGlobalCommand, set ? (status | bit) : (status & ~bit));
    // The status bit of these commands is the command's bit (TES for TE, RTPS for SRTP).
    for (u64 i = 0; i < kCommandPolls; ++i) {
        const bool now = (regs_.read32(kGlobalStatus) & bit) != 0;
        if (now == set) return true;
        __builtin_ia32_pause();
    }
    return false;
}

// VT-d 6.8: a unit with RWBF needs its write buffer flushed after table changes: WBF is
// set, and its status WBFS clears when the flush is done.
bool VtdUnit::flush_write_buffer() {
    const u32 status = regs_.read32(kGlobalStatus) & ~kOneShotCommands;
    regs_.write32(kGlobalCommand, status | kWriteBufferFlush);
    for (u64 i = 0; i < kCommandPolls; ++i) {
        if (!(regs_.read32(kGlobalStatus) & kWriteBufferFlush)) return true;
        __builtin_ia32_pause();
    }
    return false;
}

// Until `bit` of the 64-bit register at `offset` is clear.
bool VtdUnit::wait64(u32 offset, u64 bit) {
    for (u64 i = 0; i < kCommandPolls; ++i) {
        if (!(regs_.read64(offset) & bit)) return true;
        __builtin_ia32_pause();
    }
    return false;
}

bool VtdUnit::enable(PhysAddr root, PhysAddr root_3level, u16 domain_id, const VtdInterrupts* interrupts,
                     const char** error) {
    if (enabled()) {
        *error = "it is on already";
        return false;
    }
    const u64 cap = regs_.read64(kCapability);
    const u64 ecap = regs_.read64(kExtendedCapability);
    fault_offset_ = u32((cap >> kCapFaultOffsetShift) & 0x3ff) * 16;
    fault_registers_ = u32((cap >> kCapFaultCountShift) & 0xff) + 1;
    iotlb_offset_ = u32((ecap >> kEcapIotlbOffsetShift) & 0x3ff) * 16;
    const bool four_levels = (cap & kCapSagaw4Level) != 0;
    // Whatever the firmware left on goes off first.
    for (const u32 bit : kEnables) {
        if ((regs_.read32(kGlobalStatus) & bit) && !command(bit, false)) {
            *error = "it did not turn off what the firmware left on";
            return false;
        }
    }
    if (interrupts && !can_remap_interrupts()) {
        *error = "it cannot remap interrupts";
        return false;
    }
    root_table_ = memory_.alloc(1);
    context_tables_ = memory_.alloc(kBuses);
    if (root_table_ == IommuMemory::kNone || context_tables_ == IommuMemory::kNone) {
        release();
        *error = "out of memory for its root and context tables";
        return false;
    }
    auto* roots = static_cast<u64*>(memory_.pointer(root_table_));
    auto* contexts = static_cast<u64*>(memory_.pointer(context_tables_));
    const u64 context_low = kPresent | ((four_levels ? root : root_3level) & kAddressMask);
    const u64 context_high = (four_levels ? kAw4Level : kAw3Level) | (u64(domain_id) << kDomainIdShift);
    for (u64 bus = 0; bus < kBuses; ++bus) {
        u64* table = contexts + bus * (kPageSize / 8);
        for (u64 devfn = 0; devfn < 256; ++devfn) {
            table[devfn * 2 + 1] = context_high;
            table[devfn * 2] = context_low;
        }
        roots[bus * 2 + 1] = 0;
        roots[bus * 2] = kPresent | ((context_tables_ + bus * kPageSize) & kAddressMask);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    // Faults are polled: their interrupt stays masked.
    regs_.write32(kFaultControl, kInterruptMask);
    regs_.write64(kRootTableAddress, root_table_ & kAddressMask);  // TTM 00b: legacy mode
    bool ok = command(kSetRootTablePointer, true);
    if (ok && (cap & kCapRequiredWriteBufferFlush)) ok = flush_write_buffer();
    if (ok && interrupts) ok = enable_queue();
    ok = ok && invalidate_contexts() && flush();
    if (ok && interrupts) {
        // VT-d 11.4.29: IRTA holds the table and its size; EIME 0 (xAPIC destinations).
        regs_.write64(kInterruptTableAddress, (interrupts->table & kAddressMask) | (interrupts->size_code & 0xf));
        ok = command(kSetInterruptTablePointer, true) && queue(kDescInterruptEntries, 0) && queue_wait();
    }
    ok = ok && command(kTranslationEnable, true);
    if (ok && interrupts) ok = command(kInterruptRemappingEnable, true);
    // The firmware's protected low and high memory regions (VT-d 3.17) would block DMA
    // into them regardless of the tables; the tables decide from now on.
    if (ok && (regs_.read32(kProtectedMemoryEnable) & kProtectedMemoryOn)) {
        regs_.write32(kProtectedMemoryEnable, 0);
        for (u64 i = 0; i < kCommandPolls && (regs_.read32(kProtectedMemoryEnable) & kProtectedMemoryStatus); ++i)
            __builtin_ia32_pause();
    }
    if (!ok) {
        disable();
        *error = "it did not complete its commands";
        return false;
    }
    return true;
}

bool VtdUnit::flush() {
    if (queue_ != IommuMemory::kNone) return queue(kDescIotlbGlobal, 0) && queue_wait();
    if (iotlb_offset_ == 0) return false;
    regs_.write64(iotlb_offset_ + 8, kIotlbInvalidate | kIotlbGlobal | kIotlbDrain);
    return wait64(iotlb_offset_ + 8, kIotlbInvalidate);
}

void VtdUnit::disable() {
    if (root_table_ == IommuMemory::kNone && context_tables_ == IommuMemory::kNone) return;
    for (const u32 bit : kEnables)
        if (regs_.read32(kGlobalStatus) & bit) command(bit, false);
    release();
}

void VtdUnit::release() {
    if (root_table_ != IommuMemory::kNone) memory_.free(root_table_, 1);
    if (context_tables_ != IommuMemory::kNone) memory_.free(context_tables_, kBuses);
    if (queue_ != IommuMemory::kNone) memory_.free(queue_, 1);
    if (queue_status_ != IommuMemory::kNone) memory_.free(queue_status_, 1);
    root_table_ = context_tables_ = queue_ = queue_status_ = IommuMemory::kNone;
}
