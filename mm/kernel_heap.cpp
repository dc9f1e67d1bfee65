#include "mm/kernel_heap.hpp"

#include "kernel/memory_layout.hpp"
#include "kernel/spinlock.hpp"
#include "mm/heap.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

class FramePageSource final : public HeapPageSource {
public:
    void* alloc_pages(u64 count) override {
        const PhysAddr pa = frame_alloc(count);
        return pa == kNoPhysFrame ? nullptr : phys_to_virt(pa);
    }
    void free_pages(void* p, u64 count) override { frame_free(direct_map_to_phys(p), count); }
};

FramePageSource g_page_source;
Heap g_heap;
SpinLock g_heap_lock;
bool g_ready = false;

}  // namespace

void kernel_heap_init() {
    g_heap.init(g_page_source);
    g_ready = true;
}

void* kernel_heap_alloc(usize size, usize alignment) {
    if (!g_ready) return nullptr;
    IrqLockGuard guard(g_heap_lock);
    return g_heap.alloc(size, alignment);
}

void kernel_heap_free(void* p) {
    if (!p) return;
    IrqLockGuard guard(g_heap_lock);
    g_heap.free(p);
}

usize kernel_heap_bytes_in_use() {
    IrqLockGuard guard(g_heap_lock);
    return g_heap.bytes_in_use();
}

usize kernel_heap_bytes_reserved() {
    IrqLockGuard guard(g_heap_lock);
    return g_heap.bytes_reserved();
}
