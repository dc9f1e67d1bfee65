// What an IOMMU driver reaches of the machine: the unit's MMIO registers and host memory
// the unit itself reads and writes (its tables and logs). Narrow, so that the drivers run
// in the hypervisor and against fakes in the host unit tests.
#pragma once

#include "kernel/types.hpp"

class IommuRegisters {
public:
    virtual u32 read32(u32 offset) = 0;
    virtual void write32(u32 offset, u32 value) = 0;
    virtual u64 read64(u32 offset) = 0;
    virtual void write64(u32 offset, u64 value) = 0;

protected:
    ~IommuRegisters() = default;
};

// Physically contiguous, zeroed, page-aligned memory the IOMMU reaches by its physical
// address, and where the hypervisor sees it.
class IommuMemory {
public:
    static constexpr PhysAddr kNone = ~0ull;
    virtual PhysAddr alloc(u64 pages) = 0;
    virtual void free(PhysAddr start, u64 pages) = 0;
    virtual void* pointer(PhysAddr address) = 0;

protected:
    ~IommuMemory() = default;
};
