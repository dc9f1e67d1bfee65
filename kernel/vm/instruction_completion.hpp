// What the hypervisor owes a guest when it completes an instruction for it (moves RIP
// past an instruction it emulated or whose exit it handled: CPUID, RDMSR, IN, INS, a
// hypercall, an MMIO access, ...), so that the guest sees what the CPU would have done
// after that instruction:
//   - blocking by STI or MOV SS, which covered only that instruction, ends;
//   - with RFLAGS.TF set, the single-step trap comes now, right after it, with DR6.BS
//     set (SDM vol. 3B 18.3.1.4; AMD APM vol. 2 13.1.1.3), not after the guest's next
//     instruction, which is when the CPU would raise it once it runs again.
#pragma once

#include "kernel/vcpu/vcpu.hpp"

// Inline: the exit fast path completes an instruction at every exit (issue 17).
inline void instruction_completed(Vcpu& vcpu) {
    constexpr u64 kRflagsTf = 1ull << 8;
    constexpr u64 kDr6Bs = 1ull << 14;
    constexpr u8 kVectorDb = 1;
    vcpu.backend->instruction_skipped(vcpu);
    if ((vcpu.regs.rflags & kRflagsTf) == 0) return;
    vcpu.backend->add_guest_dr6_bits(vcpu, kDr6Bs);
    vcpu.events.raise_exception(kVectorDb, false, 0);  // a trap: RIP is already past it
}
