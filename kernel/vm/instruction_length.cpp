#include "kernel/vm/instruction_length.hpp"

namespace {

bool is_legacy_prefix(u8 b) {
    switch (b) {
        case 0x26:
        case 0x2e:
        case 0x36:
        case 0x3e:
        case 0x64:
        case 0x65:  // segment overrides
        case 0x66:
        case 0x67:
        case 0xf0:
        case 0xf2:
        case 0xf3: return true;
        default: return false;
    }
}

}  // namespace

u8 intercepted_instruction_length(const u8* bytes, usize available, GuestCpuMode mode, InterceptedInstruction which) {
    usize i = 0;
    // Intel SDM vol. 2, 2.1: up to 15 bytes in all; legacy prefixes, then REX (64-bit
    // mode only, and only immediately before the opcode).
    while (i < available && i < 14 && is_legacy_prefix(bytes[i])) ++i;
    if (mode == GuestCpuMode::Long64 && i < available && (bytes[i] & 0xf0) == 0x40) ++i;
    auto match = [&](const u8* opcode, usize n) -> u8 {
        if (i + n > available || i + n > 15) return 0;
        for (usize k = 0; k < n; ++k)
            if (bytes[i + k] != opcode[k]) return 0;
        return u8(i + n);
    };
    static const u8 kCpuid[] = {0x0f, 0xa2}, kRdmsr[] = {0x0f, 0x32}, kWrmsr[] = {0x0f, 0x30}, kHlt[] = {0xf4},
                    kVmmcall[] = {0x0f, 0x01, 0xd9}, kVmcall[] = {0x0f, 0x01, 0xc1}, kXsetbv[] = {0x0f, 0x01, 0xd1};
    switch (which) {
        case InterceptedInstruction::Cpuid: return match(kCpuid, 2);
        case InterceptedInstruction::Rdmsr: return match(kRdmsr, 2);
        case InterceptedInstruction::Wrmsr: return match(kWrmsr, 2);
        case InterceptedInstruction::Hlt: return match(kHlt, 1);
        case InterceptedInstruction::Vmmcall: return match(kVmmcall, 3);
        case InterceptedInstruction::Vmcall: return match(kVmcall, 3);
        case InterceptedInstruction::Xsetbv: return match(kXsetbv, 3);
        case InterceptedInstruction::SvmOrVmx: {
            // 0F 01 D8..DF (VMRUN..INVLPGA) and 0F 01 C1..C4 (VMCALL..VMXOFF); VMX's
            // 0F C7 /6 and 0F 78/79 forms take ModRM and are not intercepted here.
            if (i + 3 > available || i + 3 > 15) return 0;
            if (bytes[i] == 0x0f && bytes[i + 1] == 0x01 &&
                ((bytes[i + 2] >= 0xd8 && bytes[i + 2] <= 0xdf) || (bytes[i + 2] >= 0xc1 && bytes[i + 2] <= 0xc4)))
                return u8(i + 3);
            return 0;
        }
    }
    return 0;
}
