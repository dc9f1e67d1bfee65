// PAE page tables for the attack suite (SDM vol. 3A 4.4): the first 4 GiB of linear
// space in four page directories, the domain's RAM identity-mapped with 2 MiB pages.
#pragma once

#include "tests/guests/attack.hpp"

// The attack domains that page have 8 MiB of RAM (tests/guests/grub.cfg).
constexpr uint32_t kRamPages = 8u * 1024 * 1024 / 4096;

struct PaeTables {
    uint64_t pdpt[4] __attribute__((aligned(32)));
    uint64_t pd[4][512] __attribute__((aligned(4096)));
};

PaeTables& pae_tables();
// Identity-maps the first 8 MiB with 2 MiB pages.
void pae_identity_map(PaeTables& t);
// CR4.PAE, CR3, CR0.PG.
void pae_enable(PaeTables& t);
