#include "kernel/vm/devices/test_mmio_device.hpp"

#include <string.h>

void TestMmioDevice::note_access(u64 offset, u8 size, bool write) {
    ++access_count_;
    last_access_ = offset | u64(size) << 16 | u64(write) << 24;
}

u64 TestMmioDevice::mmio_read(Vcpu&, u64 offset, u8 size) {
    LockGuard<SpinLock> guard(lock_);
    if (offset + size <= kScratchSize) {
        u64 value = 0;
        memcpy(&value, scratch_ + offset, size);
        note_access(offset, size, false);
        return value;
    }
    switch (offset) {
        case kId: return kIdValue;
        case kAccessCount: return access_count_;
        case kLastAccess: return last_access_;
        case kLastWriteValue: return last_write_value_;
        case kReadCounter: return ++read_counter_;
        default: return ~0ull;
    }
}

void TestMmioDevice::mmio_write(Vcpu&, u64 offset, u8 size, u64 value) {
    LockGuard<SpinLock> guard(lock_);
    if (offset + size > kScratchSize) return;
    memcpy(scratch_ + offset, &value, size);
    note_access(offset, size, true);
    last_write_value_ = value;
}
