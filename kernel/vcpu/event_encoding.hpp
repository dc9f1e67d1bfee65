// The interruption-information word both vendors use for events to inject and events
// whose delivery an exit interrupted: vector in bits 7:0, type in 10:8, "error code
// valid" in bit 11, valid in bit 31 (AMD APM vol. 2 15.20 EVENTINJ and 15.7.2
// EXITINTINFO; Intel SDM vol. 3C 25.8.3 and 25.9.3). SVM puts the error code in bits
// 63:32 of the same field, VMX in a field of its own. Types: 0 external interrupt, 2 NMI,
// 3 hardware exception, 4 software interrupt (INTn), 5 privileged software exception
// (INT1, VMX only), 6 software exception (INT3/INTO, VMX only; SVM calls them type 4).
// Decoding then encoding for the same vendor gives the word back.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"

namespace event_encoding {

inline constexpr u32 kValid = 1u << 31;
inline constexpr u32 kErrorCodeValid = 1u << 11;

inline vcpu_state::Event decode(u32 info, u32 error_code, u8 instruction_length) {
    using vcpu_state::EventKind;
    vcpu_state::Event e{};
    if (!(info & kValid)) return e;
    switch ((info >> 8) & 7) {
        case 0: e.kind = EventKind::ExternalInterrupt; break;
        case 2: e.kind = EventKind::Nmi; break;
        case 3: e.kind = EventKind::HardwareException; break;
        case 4: e.kind = EventKind::SoftwareInterrupt; break;
        case 5: e.kind = EventKind::PrivilegedSoftwareException; break;
        case 6: e.kind = EventKind::SoftwareException; break;
        default: return e;  // reserved types: nothing to carry
    }
    e.vector = u8(info);
    e.has_error_code = (info & kErrorCodeValid) != 0;
    e.error_code = e.has_error_code ? error_code : 0;
    e.instruction_length = e.kind == EventKind::SoftwareInterrupt || e.kind == EventKind::SoftwareException ||
                                   e.kind == EventKind::PrivilegedSoftwareException
                               ? instruction_length
                               : 0;
    return e;
}

// `vmx` picks the VMX type for a software exception (6); SVM has only type 4 for both.
inline u32 encode(const vcpu_state::Event& e, bool vmx) {
    using vcpu_state::EventKind;
    u32 type;
    switch (e.kind) {
        case EventKind::ExternalInterrupt: type = 0; break;
        case EventKind::Nmi: type = 2; break;
        case EventKind::HardwareException: type = 3; break;
        case EventKind::SoftwareInterrupt: type = 4; break;
        case EventKind::SoftwareException: type = vmx ? 6 : 4; break;
        // SVM has no type of its own for INT1: it is the #DB exception there.
        case EventKind::PrivilegedSoftwareException: type = vmx ? 5 : 3; break;
        default: return 0;
    }
    return kValid | (type << 8) | e.vector | (e.has_error_code ? kErrorCodeValid : 0);
}

}  // namespace event_encoding
