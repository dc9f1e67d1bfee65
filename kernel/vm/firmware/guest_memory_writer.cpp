#include "kernel/vm/firmware/guest_memory_writer.hpp"

void GuestMemoryWriter::add_to_sum(const void* src, usize length) {
    const u8* p = static_cast<const u8*>(src);
    for (usize i = 0; i < length; ++i) sum_ = u8(sum_ + p[i]);
}

void GuestMemoryWriter::bytes(const void* src, usize length) {
    if (!ok_) return;
    if (length != 0 && !memory_.write(position_, src, length)) {
        ok_ = false;
        return;
    }
    add_to_sum(src, length);
    position_ += length;
}

void GuestMemoryWriter::zeros(usize length) {
    static constexpr u8 kZeros[64] = {};
    while (ok_ && length != 0) {
        const usize chunk = length < sizeof kZeros ? length : sizeof kZeros;
        bytes(kZeros, chunk);
        length -= chunk;
    }
}

void GuestMemoryWriter::patch(u64 gpa, const void* src, usize length) {
    if (!ok_) return;
    if (!memory_.write(gpa, src, length)) {
        ok_ = false;
        return;
    }
    add_to_sum(src, length);
}
