#include "mm/heap.hpp"

#include "kernel/assert.hpp"

namespace {

// Distinct from anything a page is likely to start with by accident (zeroes, small
// integers, kernel pointers), so a foreign or stale pointer is noticed.
constexpr u64 kSlabMagic = 0x5649524553424c41ull;   // "VIRESBLA"
constexpr u64 kLargeMagic = 0x564952454c524745ull;  // "VIRELRGE"
constexpr usize kMinClassShift = 4;                 // 16-byte blocks

constexpr bool is_power_of_two(usize v) { return v != 0 && (v & (v - 1)) == 0; }

// Smallest power of two >= v, for 1 < v <= kMaxAllocation.
usize round_up_power_of_two(usize v) { return usize(1) << (64 - __builtin_clzll(u64(v - 1))); }

usize class_shift(usize block) { return usize(__builtin_ctzll(u64(block))); }

struct LargeHeader {
    u64 magic;
    u64 pages;           // length of the run, header included
    u64 payload_offset;  // from the start of the run to the pointer handed out
    u64 size;            // requested
};

}  // namespace

struct Heap::Slab {
    u64 magic;
    Slab* next;  // neighbours in partial_[class_index] while it has a free block
    Slab* prev;
    u32 class_index;
    u32 block_size;
    u32 first_offset;  // block 0 starts here, the first multiple of block_size after the header
    u32 capacity;
    u32 free_count;
    u32 reserved;
    u64 used[4];  // bit i: block i is allocated; bits >= capacity are always set
};

void Heap::init(HeapPageSource& source) {
    static_assert(sizeof(Slab::used) * 8 >= (kPageSize - align_up(sizeof(Slab), kMinBlock)) / kMinBlock,
                  "one bit for every 16-byte block of a page");
    VIREO_ASSERT(source_ == nullptr);
    source_ = &source;
}

void* Heap::alloc(usize size, usize alignment) {
    VIREO_ASSERT(source_ != nullptr);
    if (!is_power_of_two(alignment) || alignment > kMaxAlignment || size > kMaxAllocation) return nullptr;
    if (alignment < kMinBlock) alignment = kMinBlock;
    if (size == 0) size = 1;
    // A block of a power-of-two class is aligned to its own size, so the class that
    // satisfies both the size and the alignment is the larger of the two.
    usize block = size <= kMinBlock ? kMinBlock : round_up_power_of_two(size);
    if (block < alignment) block = alignment;
    if (block <= kMaxSmallBlock) return alloc_small(class_shift(block) - kMinClassShift);
    return alloc_large(size, alignment);
}

void Heap::unlink(Slab* slab) {
    if (slab->prev)
        slab->prev->next = slab->next;
    else
        partial_[slab->class_index] = slab->next;
    if (slab->next) slab->next->prev = slab->prev;
    slab->next = slab->prev = nullptr;
}

void Heap::push_front(Slab* slab) {
    slab->prev = nullptr;
    slab->next = partial_[slab->class_index];
    if (slab->next) slab->next->prev = slab;
    partial_[slab->class_index] = slab;
}

void* Heap::alloc_small(usize class_index) {
    Slab* slab = partial_[class_index];
    if (!slab) {
        void* page = source_->alloc_pages(1);
        if (!page) return nullptr;
        VIREO_ASSERT(is_aligned(reinterpret_cast<uintptr_t>(page), kPageSize));
        bytes_reserved_ += kPageSize;
        slab = static_cast<Slab*>(page);
        const u32 block = u32(kMinBlock << class_index);
        slab->magic = kSlabMagic;
        slab->class_index = u32(class_index);
        slab->block_size = block;
        slab->first_offset = u32(align_up(sizeof(Slab), block));
        slab->capacity = u32((kPageSize - slab->first_offset) / block);
        slab->free_count = slab->capacity;
        slab->reserved = 0;
        for (usize w = 0; w < 4; ++w) {
            const usize first_bit = w * 64;
            if (slab->capacity >= first_bit + 64)
                slab->used[w] = 0;
            else if (slab->capacity <= first_bit)
                slab->used[w] = ~0ull;
            else
                slab->used[w] = ~0ull << (slab->capacity - first_bit);
        }
        push_front(slab);
    }
    for (usize w = 0; w < 4; ++w) {
        if (slab->used[w] == ~0ull) continue;
        const usize bit = usize(__builtin_ctzll(~slab->used[w]));
        slab->used[w] |= 1ull << bit;
        if (--slab->free_count == 0) unlink(slab);
        bytes_in_use_ += slab->block_size;
        const usize index = w * 64 + bit;
        return reinterpret_cast<u8*>(slab) + slab->first_offset + index * slab->block_size;
    }
    VIREO_ASSERT(!"heap: slab on the partial list has no free block");
    return nullptr;
}

void* Heap::alloc_large(usize size, usize alignment) {
    // The header sits at the start of the run and the payload at the first multiple of
    // the alignment after it: so a 4096-aligned payload starts on the run's second page.
    const usize offset = alignment > sizeof(LargeHeader) ? alignment : sizeof(LargeHeader);
    const u64 pages = align_up(offset + size, kPageSize) / kPageSize;  // size <= 1 GiB: no overflow
    void* run = source_->alloc_pages(pages);
    if (!run) return nullptr;
    VIREO_ASSERT(is_aligned(reinterpret_cast<uintptr_t>(run), kPageSize));
    auto* header = static_cast<LargeHeader*>(run);
    header->magic = kLargeMagic;
    header->pages = pages;
    header->payload_offset = offset;
    header->size = size;
    bytes_reserved_ += pages * kPageSize;
    bytes_in_use_ += size;
    return static_cast<u8*>(run) + offset;
}

void Heap::free(void* p) {
    if (!try_free(p)) VIREO_ASSERT(!"heap: double free, or a pointer this heap did not hand out");
}

bool Heap::try_free(void* p) {
    if (!p) return true;
    VIREO_ASSERT(source_ != nullptr);
    auto* block = static_cast<u8*>(p);
    const uintptr_t address = reinterpret_cast<uintptr_t>(p);
    if (!is_aligned(address, kMinBlock)) return false;  // every block is at least 16-byte aligned
    // Blocks never start at a page boundary (the slab header is there), so a page-aligned
    // pointer can only be a 4096-aligned large block, whose header is one page below.
    if (is_aligned(address, kPageSize)) return free_large(block - kPageSize, block);
    u8* page = block - address % kPageSize;
    const u64 magic = *reinterpret_cast<const u64*>(page);
    if (magic == kSlabMagic) return free_small(reinterpret_cast<Slab*>(page), block);
    if (magic == kLargeMagic) return free_large(page, block);
    return false;
}

bool Heap::free_small(Slab* slab, u8* block) {
    const usize offset = usize(block - reinterpret_cast<u8*>(slab));
    if (slab->class_index >= kClassCount || offset < slab->first_offset) return false;
    if ((offset - slab->first_offset) % slab->block_size != 0) return false;  // inside a block
    const usize index = (offset - slab->first_offset) / slab->block_size;
    if (index >= slab->capacity) return false;
    const u64 bit = 1ull << (index % 64);
    if (!(slab->used[index / 64] & bit)) return false;  // already free
    slab->used[index / 64] &= ~bit;
    bytes_in_use_ -= slab->block_size;
    if (slab->free_count++ == 0) push_front(slab);  // was full, hence off the list
    // An empty slab goes back to the source unless it is the class's only one: keeping
    // one avoids taking and returning a page on every alloc/free pair at a boundary.
    if (slab->free_count == slab->capacity && (slab->prev || slab->next)) {
        unlink(slab);
        slab->magic = 0;
        bytes_reserved_ -= kPageSize;
        source_->free_pages(slab, 1);
    }
    return true;
}

bool Heap::free_large(u8* run, u8* payload) {
    auto* header = reinterpret_cast<LargeHeader*>(run);
    if (header->magic != kLargeMagic || run + header->payload_offset != payload) return false;
    const u64 pages = header->pages;
    header->magic = 0;  // a second free of the same block fails the check above
    bytes_in_use_ -= header->size;
    bytes_reserved_ -= pages * kPageSize;
    source_->free_pages(run, pages);
    return true;
}
