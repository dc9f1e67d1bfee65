// A domain's guest-physical RAM: host frames in 2 MiB chunks (zeroed when allocated,
// all returned when the domain dies) and its p2m (mm/p2m.hpp), the nested page tables
// that map guest-physical address 0..size onto them as typed entries. The nested tables use the same page-table builder
// as the hypervisor's own, with an entry-format policy: AMD NPT takes the ordinary x86-64 format, with the U bit set on
// every entry because nested walks count as user accesses (APM vol. 2, 15.25.5); Intel EPT has its own
// (mm/ept_format.hpp).
#pragma once

#include "kernel/spinlock.hpp"
#include "kernel/types.hpp"
#include "mm/guest_page_walk.hpp"

struct P2mEntry;

// Which nested paging the tables are for: AMD NPT or Intel EPT (mm/ept_format.hpp).
enum class NestedPagingFormat : u8 { AmdNpt, IntelEpt };

class GuestMemory final : public GuestPhysicalMemory {
public:
    static constexpr u64 kChunkSize = 2 * MiB;

    GuestMemory() = default;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    ~GuestMemory() { destroy(); }

    // Allocates `bytes` (rounded up to 2 MiB) and builds the nested tables. On failure
    // everything allocated so far is returned and `error` says why.
    bool create(u64 bytes, NestedPagingFormat format, const char** error);
    void destroy();

    u64 size() const { return chunk_count_ * kChunkSize; }
    PhysAddr nested_root() const { return nested_root_; }
    bool contains(u64 gpa, u64 len) const { return gpa < size() && len <= size() - gpa; }
    // What the p2m maps at `gpa` (mm/p2m.hpp); false where nothing is mapped.
    bool lookup(u64 gpa, P2mEntry& out) const;

    // The dirty log over the whole RAM (P2m's, under this memory's lock). The bitmap has
    // a bit per 4 KiB page and stays the caller's while the log runs. After enable and
    // take, which take write access away, every CPU's cached translations must be
    // flushed (domain_tlb_shootdown) before the pages are read.
    bool dirty_log_enable(u64* bitmap);
    bool dirty_log_write_fault(u64 gpa);
    u64 dirty_log_take(u64* out);
    bool dirty_log_disable();
    bool dirty_log_active() const { return dirty_log_; }
    u64 pages() const { return size() / kPageSize; }

    // Guest-physical accesses from the hypervisor; false outside guest RAM.
    bool read(u64 gpa, void* dst, usize len) override;
    bool write(u64 gpa, const void* src, usize len) override;
    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override;

private:
    void* host_pointer(u64 gpa) const;

    PhysAddr* chunks_ = nullptr;
    u64 chunk_count_ = 0;
    PhysAddr nested_root_ = 0;
    void* nested_tables_ = nullptr;  // the builder, opaque here (guest_memory.cpp)
    NestedPagingFormat format_ = NestedPagingFormat::AmdNpt;
    // The p2m changes from several CPUs at once (write faults of a dirty log, the control
    // domain's take); the hypervisor's own writes mark pages under it too.
    SpinLock p2m_lock_;
    bool dirty_log_ = false;
    void mark_dirty(u64 gpa, u64 len);
};
