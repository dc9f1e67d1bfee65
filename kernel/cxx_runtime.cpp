// The minimal C++ runtime the hypervisor needs: global constructors, operator new and
// delete on the hypervisor heap, and the two compiler hooks that must panic.
#include <stddef.h>

#include "kernel/alloc.hpp"
#include "kernel/panic.hpp"
#include "mm/kernel_heap.hpp"

extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

void run_global_constructors() {
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
}

// Allocation failure in the hypervisor is a bug or a resource plan error, never
// something to limp on from: without exceptions, plain `new` panics.
void* operator new(size_t size) {
    void* p = kernel_heap_alloc(size, 16);
    if (!p) panic("out of hypervisor heap memory allocating %zu bytes", size);
    return p;
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, NoThrowTag) noexcept { return kernel_heap_alloc(size, 16); }
void* operator new[](size_t size, NoThrowTag) noexcept { return kernel_heap_alloc(size, 16); }
void operator delete(void* p) noexcept { kernel_heap_free(p); }
void operator delete[](void* p) noexcept { kernel_heap_free(p); }
void operator delete(void* p, size_t) noexcept { kernel_heap_free(p); }
void operator delete[](void* p, size_t) noexcept { kernel_heap_free(p); }

extern "C" {
// Seeded from the TSC in boot/entry32.S before the first protected frame.
unsigned long __stack_chk_guard = 0x595e9fbd94fda766ul;

[[noreturn]] void __stack_chk_fail() { panic("stack smashing detected (stack protector canary overwritten)"); }
[[noreturn]] void __cxa_pure_virtual() { panic("pure virtual function called"); }
void* __dso_handle = nullptr;
}
