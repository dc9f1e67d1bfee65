// Allocation that may fail. Plain `new` panics when the heap is exhausted (a bug in the
// hypervisor's own plan); on request paths, where a guest or the control domain asks for
// something (a domain, its devices, a state buffer), running out is an answer to give:
// `new (kNoThrow) T` returns null instead, and the request fails with an error.
#pragma once

#include <stddef.h>

struct NoThrowTag {};
inline constexpr NoThrowTag kNoThrow{};

void* operator new(size_t size, NoThrowTag) noexcept;
void* operator new[](size_t size, NoThrowTag) noexcept;
