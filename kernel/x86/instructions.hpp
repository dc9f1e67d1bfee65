// Thin inline wrappers over the privileged x86 instructions the hypervisor executes.
// Kernel-only: generic code reaches these through the interfaces in cpu_access.hpp and
// drivers/port_io.hpp so that it can be unit-tested on the host.
#pragma once

#include "kernel/types.hpp"
#include "kernel/x86/cpu_access.hpp"
#include "kernel/x86/msr.hpp"

namespace x86 {

inline CpuidResult cpuid(u32 leaf, u32 subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline u64 rdmsr(Msr msr) {
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr_index(msr)));
    return (u64(hi) << 32) | lo;
}

inline void wrmsr(Msr msr, u64 value) {
    asm volatile("wrmsr" ::"c"(msr_index(msr)), "a"(u32(value)), "d"(u32(value >> 32)) : "memory");
}

inline u64 rdtsc() {
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64(hi) << 32) | lo;
}

inline u8 inb(u16 port) {
    u8 v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline u16 inw(u16 port) {
    u16 v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline u32 inl(u16 port) {
    u32 v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outw(u16 port, u16 v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }

#define VIREO_CR_ACCESSORS(n)                         \
    inline u64 read_cr##n() {                         \
        u64 v;                                        \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v)); \
        return v;                                     \
    }                                                 \
    inline void write_cr##n(u64 v) { asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
VIREO_CR_ACCESSORS(0)
VIREO_CR_ACCESSORS(2)
VIREO_CR_ACCESSORS(3)
VIREO_CR_ACCESSORS(4)
#undef VIREO_CR_ACCESSORS

// The debug registers a guest's state needs switched (kernel/vm/debug_registers.hpp).
#define VIREO_DR_ACCESSORS(n)                         \
    inline u64 read_dr##n() {                         \
        u64 v;                                        \
        asm volatile("mov %%dr" #n ", %0" : "=r"(v)); \
        return v;                                     \
    }                                                 \
    inline void write_dr##n(u64 v) { asm volatile("mov %0, %%dr" #n ::"r"(v) : "memory"); }
VIREO_DR_ACCESSORS(0)
VIREO_DR_ACCESSORS(1)
VIREO_DR_ACCESSORS(2)
VIREO_DR_ACCESSORS(3)
VIREO_DR_ACCESSORS(6)
#undef VIREO_DR_ACCESSORS

inline u64 read_rflags() {
    u64 v;
    asm volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

inline void invlpg(VirtAddr va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void hlt() { asm volatile("hlt" ::: "memory"); }
// Writes back and invalidates every cache line (SDM vol. 2B, WBINVD); CPL 0 only.
inline void wbinvd() { asm volatile("wbinvd" ::: "memory"); }
inline void pause() { asm volatile("pause" ::: "memory"); }
inline void sti_hlt() { asm volatile("sti; hlt" ::: "memory"); }

inline constexpr u64 kRflagsIf = 1ull << 9;
inline constexpr u64 kCr0Pe = 1ull << 0;
inline constexpr u64 kCr0Wp = 1ull << 16;
inline constexpr u64 kCr0Pg = 1ull << 31;
inline constexpr u64 kCr4Pse = 1ull << 4;
inline constexpr u64 kCr4Pae = 1ull << 5;
inline constexpr u64 kCr4Pge = 1ull << 7;
inline constexpr u64 kCr4Vmxe = 1ull << 13;
inline constexpr u64 kCr4Smep = 1ull << 20;
inline constexpr u64 kCr4Smap = 1ull << 21;

}  // namespace x86
