// The bookkeeping of a domain's ballooned pages (GuestMemory::balloon_release and
// balloon_populate, the control call domain_balloon): which 4 KiB pages of its RAM no
// longer have the frame they were given at creation. A domain's RAM comes in 2 MiB
// chunks (GuestMemory::chunks_); a released page's frame goes back to the host alone, so
// the chunk is no longer whole. One bit per page of RAM, in RAM order (the ranges one
// after another, as the chunks are), set when the page's own frame goes back, and left
// set when the page is populated again: its new frame is a single page, which only the
// p2m records. So, when the domain's memory goes (free_plan):
//   - a chunk without a set bit goes back whole;
//   - in any other chunk, each page whose bit is clear goes back alone (its frame is the
//     chunk's), and each page whose bit is set has either no frame (released now) or a
//     frame of its own that the p2m maps (populated again), looked up before the tables go.
// `released()` counts the pages without a frame now (what xm list's Mem leaves out).
//
// The words are the caller's (allocated at the first release, charged to the domain's
// quota). Bits change under the caller's lock (GuestMemory's p2m lock), but the
// hypervisor's own accesses to guest RAM read them without it, so every access is atomic
// and the words are published with a release store. Pure, host-tested.
#pragma once

#include "kernel/types.hpp"

class BalloonPages {
public:
    static constexpr u64 kPagesPerChunk = 2 * MiB / kPageSize;

    static constexpr u64 words_for(u64 pages) { return (pages + 63) / 64; }
    static constexpr u64 bytes_for(u64 pages) { return words_for(pages) * sizeof(u64); }

    // Starts the bookkeeping over `pages` pages with `words` (words_for(pages) of them,
    // zeroed here), which stay the caller's until detach.
    void attach(u64* words, u64 pages) {
        for (u64 i = 0; i < words_for(pages); ++i) words[i] = 0;
        pages_ = pages;
        released_ = 0;
        __atomic_store_n(&words_, words, __ATOMIC_RELEASE);
    }
    // Ends it: the words go back to the caller (null when none were attached).
    u64* detach() {
        u64* words = words_;
        __atomic_store_n(&words_, nullptr, __ATOMIC_RELEASE);
        pages_ = 0;
        released_ = 0;
        return words;
    }
    bool active() const { return __atomic_load_n(&words_, __ATOMIC_ACQUIRE) != nullptr; }
    u64 pages() const { return pages_; }
    // Pages without any frame now.
    u64 released() const { return __atomic_load_n(&released_, __ATOMIC_RELAXED); }

    // Whether `page` no longer has its chunk's frame (released, or populated again since).
    bool detached(u64 page) const {
        const u64* words = __atomic_load_n(&words_, __ATOMIC_ACQUIRE);
        if (!words || page >= pages_) return false;
        return (__atomic_load_n(&words[page / 64], __ATOMIC_ACQUIRE) >> (page % 64)) & 1;
    }

    // `page`, which has a frame (its chunk's or its own), gives it back.
    void release(u64 page) {
        if (!words_ || page >= pages_) return;
        __atomic_fetch_or(&words_[page / 64], 1ull << (page % 64), __ATOMIC_RELEASE);
        __atomic_store_n(&released_, released_ + 1, __ATOMIC_RELAXED);
    }
    // `page`, released, has a frame of its own again.
    void populate(u64 page) {
        if (!detached(page) || released_ == 0) return;
        __atomic_store_n(&released_, released_ - 1, __ATOMIC_RELAXED);
    }

    // Whether no page of chunk `chunk` was ever released (it goes back in one piece).
    bool chunk_whole(u64 chunk) const {
        if (!words_) return true;
        constexpr u64 kWordsPerChunk = kPagesPerChunk / 64;
        for (u64 w = chunk * kWordsPerChunk; w < (chunk + 1) * kWordsPerChunk && w < words_for(pages_); ++w)
            if (__atomic_load_n(&words_[w], __ATOMIC_RELAXED)) return false;
        return true;
    }

    // What goes back when the memory of `chunks` chunks goes: whole(chunk) for each whole
    // chunk; chunk_page(chunk, index) for each page of another chunk that still has the
    // chunk's frame (at offset index * 4 KiB); detached(page) for each page that does not
    // (released, or with a frame of its own: the caller asks the p2m).
    template <typename Whole, typename ChunkPage, typename Detached>
    void free_plan(u64 chunks, Whole whole, ChunkPage chunk_page, Detached detached_page) const {
        for (u64 c = 0; c < chunks; ++c) {
            if (chunk_whole(c)) {
                whole(c);
                continue;
            }
            for (u64 i = 0; i < kPagesPerChunk; ++i) {
                const u64 page = c * kPagesPerChunk + i;
                if (detached(page))
                    detached_page(page);
                else
                    chunk_page(c, i);
            }
        }
    }

private:
    u64* words_ = nullptr;
    u64 pages_ = 0;
    u64 released_ = 0;  // written under the caller's lock, read without it
};

// A page of RAM by its place in RAM order: `ranges` (ascending, each with .gpa and
// .bytes, multiples of 4 KiB) one after another. False outside every range.
template <typename Range>
bool ram_page_of(const Range* ranges, usize count, u64 gpa, u64& page) {
    u64 before = 0;
    for (usize i = 0; i < count; ++i) {
        if (gpa >= ranges[i].gpa && gpa - ranges[i].gpa < ranges[i].bytes) {
            page = (before + gpa - ranges[i].gpa) / kPageSize;
            return true;
        }
        before += ranges[i].bytes;
    }
    return false;
}

// The guest-physical address of RAM page `page` (ram_page_of's inverse); false past the
// end of RAM.
template <typename Range>
bool gpa_of_ram_page(const Range* ranges, usize count, u64 page, u64& gpa) {
    u64 offset = page * kPageSize;
    for (usize i = 0; i < count; ++i) {
        if (offset < ranges[i].bytes) {
            gpa = ranges[i].gpa + offset;
            return true;
        }
        offset -= ranges[i].bytes;
    }
    return false;
}
