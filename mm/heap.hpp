// The hypervisor heap (behind operator new/delete), over an abstract source of 4 KiB
// pages so that it is unit-tested with a fake source and runs on the frame allocator in
// the hypervisor.
//
// Small requests (up to 2048 bytes, after rounding up to the alignment) are served from
// power-of-two size classes 16, 32, ..., 2048. Each class carves whole pages ("slabs"):
// a header at the start of the page, then equal blocks at multiples of the block size,
// so every block is naturally aligned to its size, and one bit per block records whether
// it is allocated, which catches double frees exactly. Larger requests (and alignments
// above 2048) get a run of pages of their own with a header at its start; a 4096-aligned
// one gets its own page for that header, so page-aligned page-sized memory for hardware
// structures is better taken from the frame allocator directly.
//
// Not thread safe: the kernel wraps it in a lock.
#pragma once

#include "kernel/types.hpp"

class HeapPageSource {
public:
    // `count` contiguous pages, 4 KiB aligned, or nullptr when memory is exhausted.
    virtual void* alloc_pages(u64 count) = 0;
    virtual void free_pages(void* p, u64 count) = 0;

protected:
    ~HeapPageSource() = default;
};

class Heap {
public:
    static constexpr usize kMinBlock = 16;
    static constexpr usize kMaxSmallBlock = 2048;
    static constexpr usize kMaxAlignment = 4096;
    static constexpr usize kMaxAllocation = 1ull << 30;  // larger requests are bugs, not demands

    constexpr Heap() = default;
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    void init(HeapPageSource& source);

    // At least `size` bytes aligned to `alignment` (a power of two up to 4096; values
    // below 16 mean 16). nullptr when the page source is exhausted, size exceeds
    // kMaxAllocation or the alignment is invalid. size 0 is served as 1, so that every
    // successful call returns a distinct pointer (as operator new must).
    void* alloc(usize size, usize alignment = 16);
    // Returns a block to the heap; nullptr is ignored. A pointer the heap did not hand out
    // or has already taken back is a fatal bug (VIREO_ASSERT), where it can be detected:
    // small blocks always, large blocks while their pages are still mapped.
    void free(void* p);
    // As free, but reports misuse by returning false (changing nothing) instead.
    bool try_free(void* p);

    // Bytes handed out and not yet freed: small blocks count their size class, large
    // ones the size requested.
    usize bytes_in_use() const { return bytes_in_use_; }
    // Bytes of pages currently taken from the page source.
    usize bytes_reserved() const { return bytes_reserved_; }

private:
    static constexpr usize kClassCount = 8;  // 16 << 0 ... 16 << 7 == 2048

    struct Slab;
    void* alloc_small(usize class_index);
    void* alloc_large(usize size, usize alignment);
    bool free_small(Slab* slab, u8* block);
    bool free_large(u8* run, u8* payload);
    void unlink(Slab* slab);
    void push_front(Slab* slab);

    HeapPageSource* source_ = nullptr;
    Slab* partial_[kClassCount] = {};  // per class: slabs with at least one free block
    usize bytes_in_use_ = 0;
    usize bytes_reserved_ = 0;
};
