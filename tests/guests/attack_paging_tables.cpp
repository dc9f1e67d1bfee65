#include "tests/guests/attack_paging.hpp"

namespace {
PaeTables g_tables __attribute__((aligned(4096)));
}

PaeTables& pae_tables() { return g_tables; }

void pae_identity_map(PaeTables& t) {
    for (uint32_t i = 0; i < 4; ++i) t.pdpt[i] = uint64_t(reinterpret_cast<uintptr_t>(t.pd[i])) | 1;
    for (uint32_t i = 0; i < 4; ++i) t.pd[0][i] = (uint64_t(i) << 21) | 0x83;  // present, writable, 2 MiB
}

void pae_enable(PaeTables& t) {
    write_cr4(read_cr4() | (1u << 5));
    asm volatile("mov %0, %%cr3" ::"r"(t.pdpt) : "memory");
    write_cr0(read_cr0() | 0x80000000u);
}
