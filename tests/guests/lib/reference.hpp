// Guest tests that also run on a plain emulator, without Vireo (the "reference leg":
// tests/guests/CMakeLists.txt, reference_qemu_*): what Vireo decides by policy (the MSRs
// it offers, the CPUID features it hides) is checked only under Vireo; what the
// architecture decides is checked everywhere, with expectations taken from CPUID.
#pragma once

#include "tests/guests/lib/guest.hpp"

// CPUID leaf 0x40000000 says "VireoVireoHV" (docs/hypercalls.md).
inline bool under_vireo() {
    if (!(cpuid(1).ecx & (1u << 31))) return false;  // no hypervisor at all
    const Cpuid r = cpuid(0x40000000);
    return r.ebx == 0x65726956 && r.ecx == 0x7269566f && r.edx == 0x56486f65;
}
