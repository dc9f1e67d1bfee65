// Fixed-width integer names used throughout Vireo, and the few address aliases that
// document which address space a value lives in.
#pragma once

#include <stddef.h>
#include <stdint.h>

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using usize = size_t;

// A host-physical address (what the CPU puts on the bus).
using PhysAddr = u64;
// A hypervisor-virtual address (what the hypervisor's own page tables translate).
using VirtAddr = u64;

inline constexpr u64 kPageSize = 4096;
inline constexpr u64 kLargePageSize = 2 * 1024 * 1024;
inline constexpr u64 kHugePageSize = 1024ull * 1024 * 1024;

constexpr u64 align_down(u64 value, u64 alignment) { return value & ~(alignment - 1); }
constexpr u64 align_up(u64 value, u64 alignment) { return (value + alignment - 1) & ~(alignment - 1); }
constexpr bool is_aligned(u64 value, u64 alignment) { return (value & (alignment - 1)) == 0; }

inline constexpr u64 KiB = 1024;
inline constexpr u64 MiB = 1024 * KiB;
inline constexpr u64 GiB = 1024 * MiB;
