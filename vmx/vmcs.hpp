// VMCS fields (Intel SDM vol. 3D, appendix B) as typed encodings: one scoped enum per
// field width, and read/write functions that take exactly that enum and a value of that
// width. A field code can never be passed where a value belongs, nor a 16-bit field be
// read as a 64-bit one (the trap Hedron fell into, shared/research/style-anchors.md).
#pragma once

#include "kernel/types.hpp"

namespace vmx {

enum class Field16 : u32 {
    Vpid = 0x0000,
    GuestEsSelector = 0x0800,
    GuestCsSelector = 0x0802,
    GuestSsSelector = 0x0804,
    GuestDsSelector = 0x0806,
    GuestFsSelector = 0x0808,
    GuestGsSelector = 0x080a,
    GuestLdtrSelector = 0x080c,
    GuestTrSelector = 0x080e,
    HostEsSelector = 0x0c00,
    HostCsSelector = 0x0c02,
    HostSsSelector = 0x0c04,
    HostDsSelector = 0x0c06,
    HostFsSelector = 0x0c08,
    HostGsSelector = 0x0c0a,
    HostTrSelector = 0x0c0c,
};

enum class Field64 : u32 {
    IoBitmapA = 0x2000,
    IoBitmapB = 0x2002,
    MsrBitmap = 0x2004,
    TscOffset = 0x2010,
    TscMultiplier = 0x2032,
    EptPointer = 0x201a,
    GuestPhysicalAddress = 0x2400,
    VmcsLinkPointer = 0x2800,
    GuestDebugctl = 0x2802,  // IA32_DEBUGCTL, loaded and saved with DR7 (the debug controls)
    GuestPat = 0x2804,
    GuestEfer = 0x2806,
    GuestPdpte0 = 0x280a,  // PAE's PDPTEs with EPT (SDM vol. 3C 25.4.2); 1-3 follow two apart
    HostPat = 0x2c00,
    HostEfer = 0x2c02,
};

enum class Field32 : u32 {
    PinBasedControls = 0x4000,
    ProcessorBasedControls = 0x4002,
    ExceptionBitmap = 0x4004,
    Cr3TargetCount = 0x400a,
    ExitControls = 0x400c,
    ExitMsrStoreCount = 0x400e,
    ExitMsrLoadCount = 0x4010,
    EntryControls = 0x4012,
    EntryMsrLoadCount = 0x4014,
    EntryInterruptionInfo = 0x4016,
    EntryExceptionErrorCode = 0x4018,
    EntryInstructionLength = 0x401a,
    SecondaryControls = 0x401e,
    InstructionError = 0x4400,
    ExitReason = 0x4402,
    ExitInterruptionInfo = 0x4404,
    ExitInterruptionErrorCode = 0x4406,
    IdtVectoringInfo = 0x4408,
    IdtVectoringErrorCode = 0x440a,
    ExitInstructionLength = 0x440c,
    GuestEsLimit = 0x4800,
    GuestCsLimit = 0x4802,
    GuestSsLimit = 0x4804,
    GuestDsLimit = 0x4806,
    GuestFsLimit = 0x4808,
    GuestGsLimit = 0x480a,
    GuestLdtrLimit = 0x480c,
    GuestTrLimit = 0x480e,
    GuestGdtrLimit = 0x4810,
    GuestIdtrLimit = 0x4812,
    GuestEsAccessRights = 0x4814,
    GuestCsAccessRights = 0x4816,
    GuestSsAccessRights = 0x4818,
    GuestDsAccessRights = 0x481a,
    GuestFsAccessRights = 0x481c,
    GuestGsAccessRights = 0x481e,
    GuestLdtrAccessRights = 0x4820,
    GuestTrAccessRights = 0x4822,
    GuestInterruptibility = 0x4824,
    GuestActivityState = 0x4826,
    GuestSysenterCs = 0x482a,
    PreemptionTimerValue = 0x482e,
    HostSysenterCs = 0x4c00,
};

enum class FieldNatural : u32 {
    Cr0GuestHostMask = 0x6000,
    Cr4GuestHostMask = 0x6002,
    Cr0ReadShadow = 0x6004,
    Cr4ReadShadow = 0x6006,
    ExitQualification = 0x6400,
    GuestLinearAddress = 0x640a,
    GuestCr0 = 0x6800,
    GuestCr3 = 0x6802,
    GuestCr4 = 0x6804,
    GuestEsBase = 0x6806,
    GuestCsBase = 0x6808,
    GuestSsBase = 0x680a,
    GuestDsBase = 0x680c,
    GuestFsBase = 0x680e,
    GuestGsBase = 0x6810,
    GuestLdtrBase = 0x6812,
    GuestTrBase = 0x6814,
    GuestGdtrBase = 0x6816,
    GuestIdtrBase = 0x6818,
    GuestDr7 = 0x681a,
    GuestRsp = 0x681c,
    GuestRip = 0x681e,
    GuestRflags = 0x6820,
    GuestPendingDebugExceptions = 0x6822,
    GuestSysenterEsp = 0x6824,
    GuestSysenterEip = 0x6826,
    HostCr0 = 0x6c00,
    HostCr3 = 0x6c02,
    HostCr4 = 0x6c04,
    HostFsBase = 0x6c06,
    HostGsBase = 0x6c08,
    HostTrBase = 0x6c0a,
    HostGdtrBase = 0x6c0c,
    HostIdtrBase = 0x6c0e,
    HostSysenterEsp = 0x6c10,
    HostSysenterEip = 0x6c12,
    HostRsp = 0x6c14,
    HostRip = 0x6c16,
};

namespace detail {
inline u64 vmread(u32 encoding) {
    u64 value;
    asm volatile("vmread %1, %0" : "=r"(value) : "r"(u64(encoding)) : "cc");
    return value;
}
inline void vmwrite(u32 encoding, u64 value) {
    asm volatile("vmwrite %1, %0" ::"r"(u64(encoding)), "r"(value) : "cc", "memory");
}
}  // namespace detail

inline u16 read(Field16 f) { return u16(detail::vmread(u32(f))); }
inline u32 read(Field32 f) { return u32(detail::vmread(u32(f))); }
inline u64 read(Field64 f) { return detail::vmread(u32(f)); }
inline u64 read(FieldNatural f) { return detail::vmread(u32(f)); }
inline void write(Field16 f, u16 v) { detail::vmwrite(u32(f), v); }
inline void write(Field32 f, u32 v) { detail::vmwrite(u32(f), v); }
inline void write(Field64 f, u64 v) { detail::vmwrite(u32(f), v); }
inline void write(FieldNatural f, u64 v) { detail::vmwrite(u32(f), v); }
// Deleted overloads: a value of the wrong width (or an enum) does not convert silently.
template <typename F, typename V>
void write(F, V) = delete;

// Control bits (SDM vol. 3C, 25.6 and 25.7-25.8).
namespace pin {
inline constexpr u32 kExternalInterruptExiting = 1u << 0;
inline constexpr u32 kNmiExiting = 1u << 3;
// The CPU tracks the guest's NMI blocking for injected NMIs (set by their delivery,
// cleared by IRET) in "blocking by NMI" (SDM vol. 3C 25.6.1, 26.6.1.2).
inline constexpr u32 kVirtualNmis = 1u << 5;
inline constexpr u32 kPreemptionTimer = 1u << 6;
}  // namespace pin
namespace proc {
inline constexpr u32 kInterruptWindowExiting = 1u << 2;
inline constexpr u32 kUseTscOffsetting = 1u << 3;
inline constexpr u32 kHltExiting = 1u << 7;
inline constexpr u32 kNmiWindowExiting = 1u << 22;  // needs virtual NMIs (SDM vol. 3C 25.6.2)
inline constexpr u32 kMwaitExiting = 1u << 10;
inline constexpr u32 kRdpmcExiting = 1u << 11;
inline constexpr u32 kMonitorExiting = 1u << 29;
// MOV to/from CR8 exit (SDM vol. 3C, table 25-6): without them a guest's CR8 would be the
// host's own task priority.
inline constexpr u32 kCr8LoadExiting = 1u << 19;
inline constexpr u32 kCr8StoreExiting = 1u << 20;
inline constexpr u32 kUseIoBitmaps = 1u << 25;
inline constexpr u32 kUseMsrBitmaps = 1u << 28;
inline constexpr u32 kActivateSecondary = 1u << 31;
}  // namespace proc
namespace proc2 {
inline constexpr u32 kEnableEpt = 1u << 1;
inline constexpr u32 kEnableVpid = 1u << 5;
inline constexpr u32 kWbinvdExiting = 1u << 6;
inline constexpr u32 kUnrestrictedGuest = 1u << 7;
// The guest's TSC is the host's times the TSC multiplier, plus TSC_OFFSET (SDM vol. 3C
// 25.6.5): a restored domain's TSC keeps the rate it had elsewhere (kernel/vm/tsc_rate.hpp).
inline constexpr u32 kUseTscScaling = 1u << 25;
}  // namespace proc2
namespace exit_ctl {
// DR7 and IA32_DEBUGCTL saved into the guest-state area (SDM vol. 3C 28.3.1).
inline constexpr u32 kSaveDebugControls = 1u << 2;
inline constexpr u32 kHostAddressSpaceSize = 1u << 9;
inline constexpr u32 kSavePat = 1u << 18;
inline constexpr u32 kLoadPat = 1u << 19;
inline constexpr u32 kSaveEfer = 1u << 20;
inline constexpr u32 kLoadEfer = 1u << 21;
}  // namespace exit_ctl
namespace entry_ctl {
// DR7 and IA32_DEBUGCTL loaded from the guest-state area (SDM vol. 3C 26.3.2.1).
inline constexpr u32 kLoadDebugControls = 1u << 2;
inline constexpr u32 kIa32eModeGuest = 1u << 9;
inline constexpr u32 kLoadPat = 1u << 14;
inline constexpr u32 kLoadEfer = 1u << 15;
}  // namespace entry_ctl

// Basic exit reasons (SDM vol. 3D, appendix C).
enum class ExitReason : u16 {
    ExceptionOrNmi = 0,
    ExternalInterrupt = 1,
    TripleFault = 2,
    Init = 3,
    Sipi = 4,
    InterruptWindow = 7,
    NmiWindow = 8,
    TaskSwitch = 9,
    Cpuid = 10,
    Hlt = 12,
    Invd = 13,
    Rdpmc = 15,
    Mwait = 36,
    Monitor = 39,
    Vmcall = 18,
    Vmclear = 19,
    Vmlaunch = 20,
    Vmptrld = 21,
    Vmptrst = 22,
    Vmread = 23,
    Vmresume = 24,
    Vmwrite = 25,
    Vmxoff = 26,
    Vmxon = 27,
    CrAccess = 28,
    IoInstruction = 30,
    Rdmsr = 31,
    Wrmsr = 32,
    InvalidGuestState = 33,
    MsrLoadFailure = 34,
    EptViolation = 48,
    EptMisconfiguration = 49,
    Invept = 50,
    PreemptionTimer = 52,
    Invvpid = 53,
    Wbinvd = 54,
    Xsetbv = 55,
};

const char* exit_reason_name(u32 basic_reason);
const char* instruction_error_name(u32 error);

}  // namespace vmx
