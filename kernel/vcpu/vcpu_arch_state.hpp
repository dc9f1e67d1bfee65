// A vCPU's whole architectural state in vendor-neutral form: what a guest can see or
// rely on, and nothing of SVM's VMCB or VMX's VMCS layout. Both backends move their
// hardware structure to and from this form (VcpuBackend::get_state / set_state) for the
// parts a mask names, so save, restore and migration (even from AMD to Intel) carry one
// format, and boot protocols produce it (a Multiboot or Linux entry is just a state).
//
// Field meanings follow the architecture, not a vendor: segment attributes are the
// descriptor's bits 40-47 and 52-55 (Intel SDM vol. 3A 3.4.5, AMD APM vol. 2 4.7) in
// the 12-bit "compressed" packing (type, S, DPL, P in bits 7:0; AVL, L, D/B, G in 11:8)
// plus an `unusable` flag for a null selector's hidden part (SDM vol. 3C 25.4.1).
#pragma once

#include "kernel/types.hpp"

namespace vcpu_state {

// Which parts of the state a get_state / set_state call moves. A backend may keep parts
// cached; it reads the hardware structure only for what is asked.
enum Part : u32 {
    kGprs = 1u << 0,      // the 16 general registers
    kRipFlags = 1u << 1,  // RIP and RFLAGS
    kSegments = 1u << 2,  // CS..GS, LDTR, TR with their hidden parts; GDTR, IDTR
    kControl = 1u << 3,   // CR0, CR2, CR3, CR4, CR8 (TPR), EFER
    kDebug = 1u << 4,     // DR0-DR3, DR6, DR7
    kMsrs = 1u << 5,      // the MSRs of Msrs below
    kFpu = 1u << 6,       // x87, SSE, AVX registers and XCR0
    kEvents = 1u << 7,    // pending and injected events, shadows, NMI blocking, activity
    kTsc = 1u << 8,       // the guest's time-stamp counter
    kAll = (1u << 9) - 1,
};

struct Segment {
    u16 selector;
    u16 attributes;  // compressed descriptor attributes (see above)
    u32 limit;       // byte granular (expanded from G)
    u64 base;
    bool unusable;  // a null selector's hidden part: loaded but not usable
};

struct DescriptorTable {
    u64 base;
    u16 limit;
};

enum class SegmentIndex : u8 { Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr, Count };

// MSRs a guest may read or write and that belong to its vCPU rather than to a device
// model: SYSCALL and SYSENTER, KERNEL_GS_BASE, PAT and TSC_AUX. (FS and GS bases are the
// segments' bases; EFER is in Control; the TSC is VcpuArchState::tsc, part kTsc.)
struct Msrs {
    u64 star, lstar, cstar, sfmask, kernel_gs_base;
    u64 sysenter_cs, sysenter_esp, sysenter_eip;
    u64 pat;
    u64 tsc_aux;
};

// One event the CPU must deliver at the next entry, as both vendors describe it: the
// vector, its kind and its error code (SDM vol. 3C 25.8.3, APM vol. 2 15.20).
// PrivilegedSoftwareException is INT1 (ICEBP), which VMX delivers as its own type (5).
enum class EventKind : u8 {
    None,
    ExternalInterrupt,
    Nmi,
    HardwareException,
    SoftwareInterrupt,
    SoftwareException,
    PrivilegedSoftwareException,
};

struct Event {
    EventKind kind;
    u8 vector;
    bool has_error_code;
    u32 error_code;
    u8 instruction_length;  // software interrupts and exceptions: the length to skip
};

enum class ActivityState : u8 { Active, Halted, WaitForSipi, Shutdown };

struct Events {
    Event injected;         // being delivered (or to be re-delivered) at the next entry
    bool interrupt_shadow;  // blocking by STI or MOV SS for one instruction
    bool nmi_blocked;       // an NMI handler runs (until IRET)
    bool nmi_pending;       // an NMI waits for delivery
    ActivityState activity;
};

// x87/SSE/AVX in the standard (non-compacted) XSAVE layout (SDM vol. 1, 13.4): the
// 512-byte legacy region (FXSAVE format), the 64-byte header and the 256 bytes of the
// upper YMM halves. Both vendors use this layout, so it crosses vendors as it is.
struct Fpu {
    static constexpr usize kLegacyBytes = 512;
    static constexpr usize kHeaderBytes = 64;
    static constexpr usize kYmmHighBytes = 256;
    u64 xcr0;
    u8 legacy[kLegacyBytes];
    u8 header[kHeaderBytes];
    u8 ymm_high[kYmmHighBytes];
};

struct Control {
    u64 cr0, cr2, cr3, cr4, cr8, efer;
};

struct Debug {
    u64 dr[4];
    u64 dr6, dr7;
};

}  // namespace vcpu_state

struct VcpuArchState {
    // Bumped whenever a field is added, removed or changes meaning; the serialised form
    // (vcpu_state_codec.hpp) carries it and refuses versions it does not know.
    static constexpr u32 kVersion = 2;

    u64 gpr[16];  // x86 encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15)
    u64 rip, rflags;
    vcpu_state::Segment segment[static_cast<u8>(vcpu_state::SegmentIndex::Count)];
    vcpu_state::DescriptorTable gdtr, idtr;
    vcpu_state::Control control;
    vcpu_state::Debug debug;
    vcpu_state::Msrs msrs;
    vcpu_state::Fpu fpu;
    vcpu_state::Events events;
    u64 tsc;  // the guest's TSC when the state was taken (part kTsc)

    vcpu_state::Segment& seg(vcpu_state::SegmentIndex i) { return segment[static_cast<u8>(i)]; }
    const vcpu_state::Segment& seg(vcpu_state::SegmentIndex i) const { return segment[static_cast<u8>(i)]; }
};
