// The doorbells a device model registered (ioreq_map kind 2, docs/hypercalls.md "Device
// models"): ranges of its forwarded MMIO where a write is a virtio queue notification
// (virtio 1.1, 4.1.4.4), posted as a bit instead of forwarded. Each range holds
// size / stride doorbells, numbered on from the bits the ranges before it took.
//
// Read on every write a domain makes to a forwarded range (every virtio notify, from any
// of its vCPUs' CPUs), changed rarely (registered when the driver enables BAR0, cleared
// with kind 3 when BAR0 moves or the device model starts over). So readers take no lock:
// the table is a sequence lock (Linux's seqcount_t, Documentation/locking/seqlock.rst),
// with the orderings of H.-J. Boehm, "Can seqlocks get along with programming language
// memory models?" (MSPC 2012). A writer makes the sequence odd, changes the table, and
// makes it even again; a reader reads the sequence, the table, and the sequence again,
// and uses what it read only when both readings were the same even number: no writer
// ran in between, so the ranges it read are one state of the table, never half of a
// clear and half of the registration after it. Writers are serialized by their caller
// (the device model's server lock).
//
// What a reader read before it validated may be torn: it is only used to decide to look
// further (a stride of 0 or a count past the array are skipped, not divided by or
// indexed with).
//
// Pure: the hypervisor keeps one per device-model server (kernel/ioreq/ioreq_server.cpp);
// host-tested (tests/unit/doorbell_table_test.cpp).
#pragma once

#include "kernel/types.hpp"

class DoorbellTable {
public:
    static constexpr usize kMaxRanges = 16;
    static constexpr u32 kBits = 64;  // the page's doorbell word (hypercall::IoreqPage)

    // Writer: whether `doorbells` more fit (in bits and in ranges).
    bool room_for(u64 doorbells) const { return doorbells <= kBits - bits_ && load(count_) < kMaxRanges; }
    // Writer: the doorbells at base, base + stride, ... below base + size (stride != 0,
    // size a non-zero multiple of it, room_for(size / stride)). Returns the first one's bit.
    u32 add(u64 base, u64 size, u64 stride) {
        const u32 first = bits_;
        const u32 index = load(count_);
        write_begin();
        store(ranges_[index].base, base);
        store(ranges_[index].size, size);
        store(ranges_[index].stride, stride);
        store(ranges_[index].first_bit, first);
        store(count_, index + 1);
        write_end();
        bits_ += u32(size / stride);
        return first;
    }
    // Writer: no doorbells; bits are handed out from 0 again.
    void clear() {
        write_begin();
        store(count_, 0u);
        write_end();
        bits_ = 0;
    }

    // Reader, any CPU, no lock: the bit of the doorbell a write at `gpa` rings, or -1.
    i32 bit_of(u64 gpa) const {
        for (;;) {
            const u32 begin = __atomic_load_n(&sequence_, __ATOMIC_ACQUIRE);
            if (begin & 1) {
                cpu_relax();  // a writer is inside: a few stores, then it is done
                continue;
            }
            const i32 bit = find(gpa);
            // The table reads above happen before the second sequence read (Boehm, fig. 6).
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&sequence_, __ATOMIC_RELAXED) == begin) return bit;
        }
    }

private:
    struct Range {
        u64 base = 0;
        u64 size = 0;
        u64 stride = 0;
        u32 first_bit = 0;
    };

    template <typename T>
    static T load(const T& field) {
        return __atomic_load_n(&field, __ATOMIC_RELAXED);
    }
    template <typename T>
    static void store(T& field, T value) {
        __atomic_store_n(&field, value, __ATOMIC_RELAXED);
    }
    static void cpu_relax() {
#if defined(__x86_64__)
        asm volatile("pause" ::: "memory");
#endif
    }

    // Odd while a writer changes the table. The release fence keeps the table's stores
    // after the odd value: a reader that sees one of them sees the sequence moved.
    void write_begin() {
        store(sequence_, sequence_ + 1);
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
    void write_end() { __atomic_store_n(&sequence_, sequence_ + 1, __ATOMIC_RELEASE); }

    i32 find(u64 gpa) const {
        const u32 count = load(count_);
        for (u32 i = 0; i < count && i < kMaxRanges; ++i) {
            const u64 base = load(ranges_[i].base);
            const u64 size = load(ranges_[i].size);
            const u64 stride = load(ranges_[i].stride);
            if (stride == 0 || gpa < base || gpa - base >= size || (gpa - base) % stride != 0) continue;
            const u64 bit = load(ranges_[i].first_bit) + (gpa - base) / stride;
            return bit < kBits ? i32(bit) : -1;
        }
        return -1;
    }

    Range ranges_[kMaxRanges];
    u32 count_ = 0;
    u32 sequence_ = 0;
    u32 bits_ = 0;  // handed out; the writers' alone
};
