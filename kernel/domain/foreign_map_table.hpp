// The bookkeeping of foreign mappings (kernel/domain/foreign_mappings.hpp): a fixed table
// of records, each one mapping call's pages, named to its mapper by a handle that names
// nothing else once the record is gone (a slot's generation moves on each reuse, so a
// stale handle never reaches a newer record). Owners are opaque pointers here; the caller
// holds the table's lock. Pure, host-tested.
#pragma once

#include "kernel/types.hpp"

enum class ForeignMapState : u8 {
    Free,
    Mapped,     // the mapper's pages show the target's
    Revoked,    // the target's memory went: the mapper's pages are its own again; the handle stays
    Unmapping,  // the mapper's pages are its own again, waiting for the flush that ends it
};

struct ForeignMapRecord {
    const void* mapper = nullptr;
    const void* target = nullptr;
    u64 first_gfn = 0;  // the target's first page
    u32 count = 0;
    ForeignMapState state = ForeignMapState::Free;
    u32 generation = 0;
    // count pairs: the mapper's page (guest frame number), then the frame it had.
    u64* pages = nullptr;
};

template <u32 Slots>
class ForeignMapTable {
public:
    static_assert(Slots > 0 && Slots <= 256);
    static constexpr u32 kNoSlot = ~0u;

    // A free record for `mapper`'s mapping of `target`, in state Mapped (the caller fills
    // the rest); kNoSlot when every record is in use.
    u32 claim(const void* mapper, const void* target) {
        for (u32 i = 0; i < Slots; ++i) {
            ForeignMapRecord& r = records_[i];
            if (r.state != ForeignMapState::Free) continue;
            r.mapper = mapper;
            r.target = target;
            r.state = ForeignMapState::Mapped;
            return i;
        }
        return kNoSlot;
    }

    // The handle a mapper names the record by: its slot and generation, never negative as
    // an i64 hypercall result.
    u32 handle(u32 slot) const { return (records_[slot].generation & kGenerationMask) << kSlotBits | slot; }

    ForeignMapRecord& record(u32 slot) { return records_[slot]; }

    // The record a handle names, when it is the mapper's and has not begun to go; null
    // otherwise.
    ForeignMapRecord* find(u64 handle, const void* mapper) {
        if (handle > 0xffffffffull) return nullptr;
        const u32 slot = u32(handle) & ((1u << kSlotBits) - 1);
        if (slot >= Slots) return nullptr;
        ForeignMapRecord& r = records_[slot];
        if (this->handle(slot) != u32(handle) || r.mapper != mapper) return nullptr;
        if (r.state != ForeignMapState::Mapped && r.state != ForeignMapState::Revoked) return nullptr;
        return &r;
    }

    // Ends a record: its slot may be claimed again, under a new generation.
    void release(ForeignMapRecord& r) {
        r = ForeignMapRecord{nullptr, nullptr, 0, 0, ForeignMapState::Free, r.generation + 1, nullptr};
    }

    template <typename F>
    void for_each_in_use(F f) {
        for (ForeignMapRecord& r : records_)
            if (r.state != ForeignMapState::Free) f(r);
    }

    // f(first_gfn, count) for each mapping of the target's pages (records in state Mapped).
    template <typename F>
    void for_each_mapping_of(const void* target, F f) const {
        for (const ForeignMapRecord& r : records_)
            if (r.target == target && r.state == ForeignMapState::Mapped) f(r.first_gfn, r.count);
    }

    // Whether another domain maps `target`'s page `gfn` now (a record in state Mapped
    // covers it): a balloon must not take that page away (its frame would be freed under
    // the mapping). Records being unmapped no longer map it; the caller's flush covers
    // what their mappers' CPUs may still cache.
    bool maps_page(const void* target, u64 gfn) const {
        for (const ForeignMapRecord& r : records_)
            if (r.target == target && r.state == ForeignMapState::Mapped && gfn >= r.first_gfn &&
                gfn - r.first_gfn < r.count)
                return true;
        return false;
    }

private:
    static constexpr u32 kSlotBits = 8;
    static constexpr u32 kGenerationMask = (1u << (31 - kSlotBits)) - 1;  // handles stay below 2^31
    ForeignMapRecord records_[Slots];
};
