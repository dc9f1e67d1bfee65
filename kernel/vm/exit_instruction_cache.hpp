// The intercepted instructions a vCPU exited on lately, for a backend that does not tell
// an exit's instruction length (AMD's next-RIP save, which QEMU's TCG lacks:
// shared/research/svm-under-qemu-tcg.md; VT-x always tells it). The backend looks the
// exit up here and reports the length as the hardware would (VmExit::instruction_length);
// a handler that decoded the instruction fills the entry. An exit at the same place
// again then moves RIP on without walking the guest's page tables, copying the bytes and
// decoding them, which was most of such an exit's cost (issue 17).
//
// An entry is used only while everything its fetch and decode depended on holds: the
// same linear address of RIP, CR0, CR3, CR4, EFER and CPU mode; every paging-structure
// entry of its walk unchanged, accessed and dirty flags aside (mm/guest_page_walk.hpp,
// GuestWalkPath), so the address still translates to the same guest-physical page; the
// domain's host frames unchanged (GuestPhysicalMemory::frames_generation), so the view
// of that page is still the domain's; and the instruction's bytes there the same. A hit
// therefore gives what a fresh fetch and decode would, with no guest TLB semantics
// assumed: a guest that rewrites its page tables or its code is seen at once.
//
// Instructions of up to 8 bytes (every intercepted one without a pile of prefixes) that
// lie 8 bytes or more before the end of their page are kept: their bytes are compared
// with one load.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/guest_registers.hpp"
#include "kernel/vm/instruction_length.hpp"
#include "mm/guest_page_walk.hpp"

class ExitInstructionCache {
public:
    static constexpr u32 kEntries = 4;
    static constexpr u32 kMaxLength = 8;

    // The length of `which` at `at`, or 0 when no entry for it holds any more. Inline:
    // every exit of such a backend asks (the exit fast path's cost, issue 17).
    __attribute__((always_inline)) u8 lookup(const GuestFetchContext& at, InterceptedInstruction which) {
        const Entry& e = entries_[slot(at.linear)];
        if (e.linear != at.linear || e.length == 0 || e.which != which || e.cr3 != at.cr3 || e.cr0 != at.cr0 ||
            e.cr4 != at.cr4 || e.efer != at.efer || e.mode != at.mode ||
            __atomic_load_n(e.generation_source, __ATOMIC_ACQUIRE) != e.generation || !path_holds(e)) {
            ++misses_;
            return 0;
        }
        u64 now;  // one load: the guest may be writing them
        __builtin_memcpy(&now, e.code, sizeof(now));
        if ((now ^ e.bytes) & e.bytes_mask) {
            ++misses_;
            return 0;
        }
        ++hits_;
        return e.length;
    }
    // Remembers `which`, `length` bytes equal to `bytes`, just fetched at `at` through
    // `translation` (walked with at's control registers), when it can be kept (above).
    void remember(GuestPhysicalMemory& memory, const GuestFetchContext& at, InterceptedInstruction which,
                  const GuestTranslation& translation, const u8* bytes, u8 length);
    void clear();

    u64 hits() const { return hits_; }
    u64 misses() const { return misses_; }

private:
    struct Entry {
        u64 linear = 0;
        u64 cr3 = 0, cr0 = 0, cr4 = 0, efer = 0;
        u8 length = 0;  // 0: empty
        InterceptedInstruction which = InterceptedInstruction::Cpuid;
        GuestCpuMode mode = GuestCpuMode::Real;
        u8 path_count = 0;
        bool path_32bit = false;  // 4-byte entries (32-bit paging)
        const u64* generation_source = nullptr;
        u64 generation = 0;
        const u8* code = nullptr;  // the hypervisor's view of the bytes
        u64 bytes = 0;             // the instruction's bytes (little-endian), under bytes_mask
        u64 bytes_mask = 0;
        const void* path[GuestWalkPath::kMaxEntries] = {};
        u64 path_value[GuestWalkPath::kMaxEntries] = {};
    };
    static u32 slot(u64 linear) { return u32(linear) % kEntries; }
    __attribute__((always_inline)) static bool path_holds(const Entry& e) {
        for (u32 i = 0; i < e.path_count; ++i) {
            // One load of each, as the CPU's walk reads them.
            const u64 now = e.path_32bit ? __atomic_load_n(static_cast<const u32*>(e.path[i]), __ATOMIC_RELAXED)
                                         : __atomic_load_n(static_cast<const u64*>(e.path[i]), __ATOMIC_RELAXED);
            if ((now ^ e.path_value[i]) & ~GuestWalkPath::kAccessedDirty) return false;
        }
        return true;
    }

    Entry entries_[kEntries];
    u64 hits_ = 0;
    u64 misses_ = 0;
};
