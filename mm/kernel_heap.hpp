// The hypervisor heap (mm/heap.cpp) behind a lock, fed with frames from the frame
// allocator through the direct map. Used by operator new/delete.
#pragma once

#include "kernel/types.hpp"

void kernel_heap_init();
void* kernel_heap_alloc(usize size, usize alignment);
void kernel_heap_free(void* p);
usize kernel_heap_bytes_in_use();
// Pages the heap holds from the frame allocator (in use, or kept as a free slab).
usize kernel_heap_bytes_reserved();
