// Byte streams a character device is connected to: the device model process connects
// virtio-console to a pty or a pipe. Both sides are non-blocking from the device's point
// of view: a source says how much it has now, a sink takes everything (buffering or
// dropping what its far end cannot take yet is its business).
#pragma once

#include <cstddef>
#include <cstdint>

namespace devmodel {

class ByteSource {
public:
    // Up to `max` bytes available now into buf; 0 when there are none.
    virtual size_t read_bytes(uint8_t* buf, size_t max) = 0;

protected:
    ~ByteSource() = default;
};

class ByteSink {
public:
    virtual void write_bytes(const uint8_t* data, size_t len) = 0;

protected:
    ~ByteSink() = default;
};

}  // namespace devmodel
