// The test MMIO device: one 4 KiB page of emulated MMIO that guest test kernels drive
// with every instruction class the emulator executes (tests/guests/mmio.cpp), checking
// both the data and the exact bus accesses (offset, size, direction) that reached it.
//
// Layout (offsets into the page):
//   0x000-0x7ff  scratch: reads return the bytes last written, at any size
//   0x800        ID (read-only): 0x4f494d56 "VMIO"
//   0x808        read-only counter: how many accesses the scratch area has seen
//   0x810        the last scratch access: offset | size << 16 | write << 24
//   0x818        the value of the last scratch write (8 bytes)
//   0x820        a register that counts its own reads (each read returns 1, 2, 3 ...)
// Reads of other offsets return all ones; writes to them are ignored.
#pragma once

#include "kernel/spinlock.hpp"
#include "kernel/types.hpp"
#include "kernel/vm/mmio_bus.hpp"

class TestMmioDevice final : public MmioDevice {
public:
    static constexpr u64 kBase = 0xfe000000;  // in the PC's MMIO hole, clear of the APICs
    static constexpr u64 kSize = 0x1000;
    static constexpr u64 kScratchSize = 0x800;
    static constexpr u64 kId = 0x800;
    static constexpr u64 kAccessCount = 0x808;
    static constexpr u64 kLastAccess = 0x810;
    static constexpr u64 kLastWriteValue = 0x818;
    static constexpr u64 kReadCounter = 0x820;
    static constexpr u32 kIdValue = 0x4f494d56;

    u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) override;
    void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) override;

private:
    void note_access(u64 offset, u8 size, bool write);

    SpinLock lock_;
    u8 scratch_[kScratchSize] = {};
    u64 access_count_ = 0;
    u64 last_access_ = 0;
    u64 last_write_value_ = 0;
    u64 read_counter_ = 0;
};
