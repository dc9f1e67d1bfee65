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

protected:
    ~GuestMemory() = default;
};

}  // namespace devmodel
