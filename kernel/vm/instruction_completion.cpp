#include "kernel/vm/instruction_completion.hpp"

#include "kernel/vcpu/vcpu.hpp"

namespace {

constexpr u64 kRflagsTf = 1ull << 8;
constexpr u64 kDr6Bs = 1ull << 14;
constexpr u8 kVectorDb = 1;

}  // namespace

void instruction_completed(Vcpu& vcpu) {
    vcpu.backend->instruction_skipped(vcpu);
    if ((vcpu.regs.rflags & kRflagsTf) == 0) return;
    vcpu.backend->add_guest_dr6_bits(vcpu, kDr6Bs);
    vcpu.events.raise_exception(kVectorDb, false, 0);  // a trap: RIP is already past it
}
