// Page-table memory for host tests of the page-table builder and the p2m (the Memory
// policy of mm/page_table.hpp). Tables live in 4 KiB aligned host buffers; their
// "physical" addresses are fake, derived from an index, so a bug that uses a physical
// address as a pointer crashes. Allocations and frees are counted, so a test sees exactly
// when a table goes back, and the memory can run out on demand.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "kernel/types.hpp"

class FakeMemory {
public:
    static constexpr PhysAddr kBase = 0x7700000000ull;

    explicit FakeMemory(usize limit = 1 << 20) : limit_(limit) {}
    ~FakeMemory() {
        for (auto& [pa, table] : tables_) std::free(table);
    }
    FakeMemory(const FakeMemory&) = delete;
    FakeMemory& operator=(const FakeMemory&) = delete;

    PhysAddr alloc_table() {
        if (tables_.size() >= limit_) return ~0ull;
        auto* t = static_cast<u64*>(std::aligned_alloc(kPageSize, kPageSize));
        std::memset(t, 0, kPageSize);
        const PhysAddr pa = kBase + allocations_ * kPageSize;
        tables_[pa] = t;
        ++allocations_;
        return pa;
    }
    u64* table(PhysAddr pa) {
        auto it = tables_.find(pa);
        EXPECT_NE(it, tables_.end()) << "not a table: " << std::hex << pa;
        return it == tables_.end() ? nullptr : it->second;
    }
    void free_table(PhysAddr pa) {
        auto it = tables_.find(pa);
        ASSERT_NE(it, tables_.end()) << "freeing a non-table " << std::hex << pa;
        std::free(it->second);
        tables_.erase(it);
        ++frees_;
    }

    usize live() const { return tables_.size(); }
    bool contains(PhysAddr pa) const { return tables_.count(pa) != 0; }
    usize allocations() const { return allocations_; }
    usize frees() const { return frees_; }
    void set_limit(usize limit) { limit_ = limit; }
    // Tables allocated from the `first`-th allocation on, in order.
    std::vector<PhysAddr> allocated_since(usize first) const {
        std::vector<PhysAddr> v;
        for (usize i = first; i < allocations_; ++i) v.push_back(kBase + i * kPageSize);
        return v;
    }

private:
    std::map<PhysAddr, u64*> tables_;
    usize limit_;
    usize allocations_ = 0, frees_ = 0;
};
