// IOMMU memory (drivers/iommu/iommu_access.hpp) for host tests of the IOMMU drivers: host
// buffers whose "physical" address is their host address, so a fake unit can follow the
// pointers the driver programs; allocations are tracked (a leak or a wrong size fails)
// and can be made to fail.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "drivers/iommu/iommu_access.hpp"

class FakeIommuMemory : public IommuMemory {
public:
    ~FakeIommuMemory() {
        for (auto& [pa, pages] : live_) std::free(reinterpret_cast<void*>(pa));
    }
    PhysAddr alloc(u64 pages) override {
        if (fail) return kNone;
        void* p = std::aligned_alloc(kPageSize, pages * kPageSize);
        std::memset(p, 0, pages * kPageSize);
        live_[reinterpret_cast<PhysAddr>(p)] = pages;
        return reinterpret_cast<PhysAddr>(p);
    }
    void free(PhysAddr start, u64 pages) override {
        auto it = live_.find(start);
        ASSERT_NE(it, live_.end());
        EXPECT_EQ(it->second, pages);
        std::free(reinterpret_cast<void*>(start));
        live_.erase(it);
    }
    void* pointer(PhysAddr address) override { return reinterpret_cast<void*>(address); }
    usize live() const { return live_.size(); }
    bool fail = false;

private:
    std::map<PhysAddr, u64> live_;
};
