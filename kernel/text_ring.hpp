// The last bytes of an output stream, kept for readers that come later: a domain's console
// (xm console) and Vireo's own log (xm dmesg). Positions count every byte ever appended,
// so a reader keeps its own position and asks again from there; bytes that the ring
// overwrote before it asked are skipped, and the reader sees how many (the first position
// it gets back is past the one it asked for). Not thread safe: the owner holds its lock.
#pragma once

#include "kernel/types.hpp"

template <usize Capacity>
class TextRing {
    static_assert(Capacity && (Capacity & (Capacity - 1)) == 0, "a power of two");

public:
    void append(const char* text, usize length) {
        // Only the last Capacity bytes can stay.
        if (length > Capacity) {
            end_ += length - Capacity;
            text += length - Capacity;
            length = Capacity;
        }
        for (usize i = 0; i < length; ++i) bytes_[(end_ + i) & (Capacity - 1)] = text[i];
        end_ += length;
    }

    // Copies up to `length` bytes from `position` on (or from the oldest byte kept, when
    // `position` was overwritten) into `out`; `first` gets the position of the first byte
    // copied. A position past the end copies nothing (first = end).
    usize read(u64 position, char* out, usize length, u64& first) const {
        const u64 kept = oldest();
        first = position < kept ? kept : (position > end_ ? end_ : position);
        const u64 available = end_ - first;
        const usize n = available < length ? usize(available) : length;
        for (usize i = 0; i < n; ++i) out[i] = bytes_[(first + i) & (Capacity - 1)];
        return n;
    }

    // The position after the last byte appended.
    u64 end() const { return end_; }
    // The oldest position still kept (nothing before a clear is).
    u64 oldest() const {
        const u64 wrapped = end_ > Capacity ? end_ - Capacity : 0;
        return wrapped > cleared_ ? wrapped : cleared_;
    }
    // Forgets what came before `position` (xm dmesg -c, up to what it showed): later reads
    // start there at the earliest.
    void clear_before(u64 position) {
        if (position > end_) position = end_;
        if (position > cleared_) cleared_ = position;
    }

private:
    char bytes_[Capacity] = {};
    u64 end_ = 0;
    u64 cleared_ = 0;
};
