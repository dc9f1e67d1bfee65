// The domU's RAM as its device model reaches it. The device model process implements it
// over foreign mappings of the domU's memory; the unit tests over a byte vector. Every
// address a driver writes into a ring goes through here, so "not RAM" is an answer
// (false), never a crash: a virtqueue turns it into a driver error (DEVICE_NEEDS_RESET).
#pragma once

#include <cstddef>
#include <cstdint>

namespace devmodel {

class GuestMemory {
public:
    // Copies len bytes at guest-physical gpa. False (nothing promised about dst) when
    // not all of [gpa, gpa + len) is the domU's RAM.
    virtual bool read(uint64_t gpa, void* dst, size_t len) = 0;
    // The same for a write; false when not all of the range is the domU's RAM.
    virtual bool write(uint64_t gpa, const void* src, size_t len) = 0;
    // Bulk data in place, without a copy (a block request's buffers, dom0/devmodel/
    // block_transfer.hpp): where the first `contiguous` bytes (1 to len) of [gpa, gpa + len)
    // are in this process, or null when that part is not RAM or cannot be reached in
    // place now. What it returns stays valid until release_direct(); a memory that holds
    // too much returns null until then. By default nothing is reached in place: callers
    // copy through read and write instead.
    virtual uint8_t* direct(uint64_t gpa, size_t len, size_t& contiguous) {
        (void)gpa;
        (void)len;
        contiguous = 0;
        return nullptr;
    }
    virtual void release_direct() {}

protected:
    ~GuestMemory() = default;
};

}  // namespace devmodel
