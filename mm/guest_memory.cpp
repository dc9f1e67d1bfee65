#include "mm/guest_memory.hpp"

#include <string.h>

#include "kernel/memory_layout.hpp"
#include "mm/ept_format.hpp"
#include "mm/kernel_address_space.hpp"
#include "mm/p2m.hpp"
#include "mm/page_table.hpp"

namespace {

struct NestedTableMemory {
    PhysAddr alloc_table() {
        const PhysAddr pa = frame_alloc(1);
        return pa == kNoPhysFrame ? ~0ull : pa;
    }
    u64* table(PhysAddr pa) { return phys_to_virt<u64>(pa); }
    void free_table(PhysAddr pa) { frame_free(pa); }
};

// One p2m per format (mm/p2m.hpp); only the one the domain uses is created. 2 MiB leaves,
// no 1 GiB ones (not every CPU has them, and EPT would need EPT_VPID_CAP bit 17).
template <typename Format>
struct NestedTables {
    NestedTableMemory memory;
    P2m<Format, NestedTableMemory> table{memory, /*huge_pages=*/false};
};
using NptTables = NestedTables<X86PagingFormat>;
using EptTables = NestedTables<EptFormat>;

template <typename Tables>
bool build_tables(Tables* tables, const PhysAddr* chunks, u64 count, u64 chunk_size, const char** error) {
    if (!tables->table.create()) {
        *error = "out of memory for nested page tables";
        return false;
    }
    for (u64 i = 0; i < count; ++i) {
        // Guest RAM is readable, writable and executable by the guest; the guest's own
        // page tables decide what its software may do.
        if (!tables->table.map(i * chunk_size, chunks[i], chunk_size, P2mType::Ram, true, true)) {
            *error = "out of memory for nested page tables";
            return false;
        }
    }
    return true;
}

template <typename Tables>
void release_tables(void* opaque) {
    auto* tables = static_cast<Tables*>(opaque);
    if (tables->table.root()) tables->table.release();
    delete tables;
}

}  // namespace

bool GuestMemory::create(u64 bytes, NestedPagingFormat format, const char** error) {
    destroy();
    const u64 count = align_up(bytes, kChunkSize) / kChunkSize;
    if (count == 0) {
        *error = "a domain needs some memory";
        return false;
    }
    format_ = format;
    chunks_ = new PhysAddr[count];
    for (u64 i = 0; i < count; ++i) {
        const PhysAddr chunk = frame_alloc(kChunkSize / kPageSize, kChunkSize / kPageSize);  // zeroed
        if (chunk == kNoPhysFrame) {
            *error = "out of host memory for guest RAM";
            destroy();
            return false;
        }
        chunks_[chunk_count_++] = chunk;
    }
    bool built;
    if (format == NestedPagingFormat::IntelEpt) {
        auto* tables = new EptTables;
        nested_tables_ = tables;
        built = build_tables(tables, chunks_, chunk_count_, kChunkSize, error);
        nested_root_ = tables->table.root();
    } else {
        auto* tables = new NptTables;
        nested_tables_ = tables;
        built = build_tables(tables, chunks_, chunk_count_, kChunkSize, error);
        nested_root_ = tables->table.root();
    }
    if (!built) {
        destroy();
        return false;
    }
    return true;
}

void GuestMemory::destroy() {
    dirty_log_ = false;
    if (nested_tables_) {
        if (format_ == NestedPagingFormat::IntelEpt)
            release_tables<EptTables>(nested_tables_);
        else
            release_tables<NptTables>(nested_tables_);
        nested_tables_ = nullptr;
    }
    for (u64 i = 0; i < chunk_count_; ++i) frame_free(chunks_[i], kChunkSize / kPageSize);
    delete[] chunks_;
    chunks_ = nullptr;
    chunk_count_ = 0;
    nested_root_ = 0;
}

// Runs `f` on the domain's p2m, whichever format it has.
template <typename F>
auto with_p2m(void* tables, NestedPagingFormat format, F f) {
    if (format == NestedPagingFormat::IntelEpt) return f(static_cast<EptTables*>(tables)->table);
    return f(static_cast<NptTables*>(tables)->table);
}

bool GuestMemory::dirty_log_enable(u64* bitmap) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!nested_tables_ || dirty_log_) return false;
    dirty_log_ = with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_enable(bitmap, pages()); });
    return dirty_log_;
}

bool GuestMemory::dirty_log_write_fault(u64 gpa) {
    if (!dirty_log_) return false;
    LockGuard<SpinLock> guard(p2m_lock_);
    return with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_write_fault(gpa); });
}

u64 GuestMemory::dirty_log_take(u64* out) {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!dirty_log_) return 0;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_take(out); });
}

bool GuestMemory::dirty_log_disable() {
    LockGuard<SpinLock> guard(p2m_lock_);
    if (!dirty_log_) return false;
    dirty_log_ = false;
    return with_p2m(nested_tables_, format_, [&](auto& p2m) { return p2m.dirty_log_disable(); });
}

void GuestMemory::mark_dirty(u64 gpa, u64 len) {
    if (!dirty_log_) return;
    LockGuard<SpinLock> guard(p2m_lock_);
    with_p2m(nested_tables_, format_, [&](auto& p2m) {
        p2m.dirty_log_mark(gpa, len);
        return true;
    });
}

bool GuestMemory::lookup(u64 gpa, P2mEntry& out) const {
    if (!nested_tables_) return false;
    if (format_ == NestedPagingFormat::IntelEpt)
        return static_cast<const EptTables*>(nested_tables_)->table.lookup(gpa, out);
    return static_cast<const NptTables*>(nested_tables_)->table.lookup(gpa, out);
}

void* GuestMemory::host_pointer(u64 gpa) const { return phys_to_virt(chunks_[gpa / kChunkSize] + gpa % kChunkSize); }

bool GuestMemory::read(u64 gpa, void* dst, usize len) {
    if (!contains(gpa, len)) return false;
    auto* out = static_cast<u8*>(dst);
    while (len) {
        const usize piece = usize(kChunkSize - gpa % kChunkSize) < len ? usize(kChunkSize - gpa % kChunkSize) : len;
        memcpy(out, host_pointer(gpa), piece);
        out += piece;
        gpa += piece;
        len -= piece;
    }
    return true;
}

bool GuestMemory::write(u64 gpa, const void* src, usize len) {
    if (!contains(gpa, len)) return false;
    mark_dirty(gpa, len);
    const auto* in = static_cast<const u8*>(src);
    while (len) {
        const usize piece = usize(kChunkSize - gpa % kChunkSize) < len ? usize(kChunkSize - gpa % kChunkSize) : len;
        memcpy(host_pointer(gpa), in, piece);
        in += piece;
        gpa += piece;
        len -= piece;
    }
    return true;
}

bool GuestMemory::compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) {
    // Naturally aligned 4- or 8-byte entries never straddle a chunk.
    if ((size != 4 && size != 8) || gpa % size || !contains(gpa, size)) return false;
    mark_dirty(gpa, size);
    if (size == 8) {
        exchanged = __atomic_compare_exchange_n(static_cast<u64*>(host_pointer(gpa)), &expected, desired, false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    } else {
        u32 expected32 = u32(expected);
        exchanged = __atomic_compare_exchange_n(static_cast<u32*>(host_pointer(gpa)), &expected32, u32(desired), false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    return true;
}
