// The virtual machine control block (AMD APM vol. 2, appendix B, tables B-1 and B-2),
// as typed fields at their architectural offsets. Every field the hypervisor touches
// has a name; the offsets are checked at compile time.
#pragma once

#include <stddef.h>

#include "kernel/types.hpp"

namespace svm {

// Segment register in the state save area: attributes in the "compressed" layout of
// APM vol. 2, 15.5.1: descriptor bits 40-47 in attrib[7:0], bits 52-55 in attrib[11:8].
struct __attribute__((packed)) VmcbSegment {
    u16 selector;
    u16 attrib;
    u32 limit;
    u64 base;
};
static_assert(sizeof(VmcbSegment) == 16);

// Intercept vector bits (APM vol. 2, table B-1, offsets 0x0c and 0x10).
namespace intercept1 {
inline constexpr u32 kIntr = 1u << 0;
inline constexpr u32 kNmi = 1u << 1;
inline constexpr u32 kSmi = 1u << 2;
inline constexpr u32 kInit = 1u << 3;
inline constexpr u32 kVintr = 1u << 4;
inline constexpr u32 kRdtsc = 1u << 14;
inline constexpr u32 kRdpmc = 1u << 15;
inline constexpr u32 kCpuid = 1u << 18;
inline constexpr u32 kIret = 1u << 20;
inline constexpr u32 kInvd = 1u << 22;
inline constexpr u32 kHlt = 1u << 24;
inline constexpr u32 kInvlpga = 1u << 26;
inline constexpr u32 kIoioProt = 1u << 27;
inline constexpr u32 kMsrProt = 1u << 28;
inline constexpr u32 kTaskSwitch = 1u << 29;
inline constexpr u32 kShutdown = 1u << 31;
}  // namespace intercept1
namespace intercept2 {
inline constexpr u32 kVmrun = 1u << 0;  // must be set, or VMRUN fails (APM 15.5.1)
inline constexpr u32 kVmmcall = 1u << 1;
inline constexpr u32 kVmload = 1u << 2;
inline constexpr u32 kVmsave = 1u << 3;
inline constexpr u32 kStgi = 1u << 4;
inline constexpr u32 kClgi = 1u << 5;
inline constexpr u32 kSkinit = 1u << 6;
inline constexpr u32 kRdtscp = 1u << 7;
inline constexpr u32 kWbinvd = 1u << 9;
inline constexpr u32 kMonitor = 1u << 10;
inline constexpr u32 kMwait = 1u << 11;  // unconditionally
inline constexpr u32 kMwaitArmed = 1u << 12;
inline constexpr u32 kXsetbv = 1u << 13;
}  // namespace intercept2

// Exit codes (APM vol. 2, appendix C).
enum class ExitCode : u64 {
    ReadCr8 = 0x08,
    WriteCr0 = 0x10,  // + n for CRn
    WriteCr8 = 0x18,
    WriteCr4 = 0x14,
    ExceptionBase = 0x40,  // + vector
    Intr = 0x60,
    Nmi = 0x61,
    Smi = 0x62,
    Init = 0x63,
    Vintr = 0x64,
    Rdtsc = 0x6e,
    Rdpmc = 0x6f,
    Cpuid = 0x72,
    Iret = 0x74,
    Invd = 0x76,
    Hlt = 0x78,
    Invlpga = 0x7a,
    Ioio = 0x7b,
    Msr = 0x7c,
    TaskSwitch = 0x7d,
    Shutdown = 0x7f,
    Vmrun = 0x80,
    Vmmcall = 0x81,
    Vmload = 0x82,
    Vmsave = 0x83,
    Stgi = 0x84,
    Clgi = 0x85,
    Skinit = 0x86,
    Rdtscp = 0x87,
    Wbinvd = 0x89,
    Monitor = 0x8a,
    Mwait = 0x8b,
    MwaitArmed = 0x8c,
    Xsetbv = 0x8d,
    NestedPageFault = 0x400,
    // QEMU writes VMEXIT_INVALID as the 32-bit value 0xffffffff, not as 64-bit -1
    // (shared/research/svm-under-qemu-tcg.md, pitfall 4): compare the low 32 bits.
    Invalid = 0xffffffff,
};

// EVENTINJ / EXITINTINFO layout (APM vol. 2, 15.20).
namespace event {
inline constexpr u64 kValid = 1ull << 31;
inline constexpr u64 kErrorCodeValid = 1ull << 11;
inline constexpr u64 kTypeExternalInterrupt = 0ull << 8;
inline constexpr u64 kTypeNmi = 2ull << 8;
inline constexpr u64 kTypeException = 3ull << 8;
inline constexpr u64 kTypeSoftwareInterrupt = 4ull << 8;
}  // namespace event

inline constexpr u64 kIntCtlVIrq = 1ull << 8;
inline constexpr u64 kIntCtlVIntrMasking = 1ull << 24;
inline constexpr u64 kIntCtlVIgnTpr = 1ull << 20;
inline constexpr u64 kNpEnable = 1ull << 0;
inline constexpr u8 kTlbControlFlushAll = 1;

struct __attribute__((packed)) VmcbControlArea {
    u16 intercept_cr_read;     // 0x000
    u16 intercept_cr_write;    // 0x002
    u16 intercept_dr_read;     // 0x004
    u16 intercept_dr_write;    // 0x006
    u32 intercept_exceptions;  // 0x008
    u32 intercept_misc1;       // 0x00c
    u32 intercept_misc2;       // 0x010
    u32 intercept_misc3;       // 0x014
    u8 reserved0[0x03c - 0x018];
    u16 pause_filter_threshold;  // 0x03c
    u16 pause_filter_count;      // 0x03e
    u64 iopm_base_pa;            // 0x040
    u64 msrpm_base_pa;           // 0x048
    u64 tsc_offset;              // 0x050
    u32 guest_asid;              // 0x058
    u8 tlb_control;              // 0x05c
    u8 reserved1[3];
    u64 int_ctl;             // 0x060
    u64 interrupt_shadow;    // 0x068
    u64 exit_code;           // 0x070
    u64 exit_info1;          // 0x078
    u64 exit_info2;          // 0x080
    u64 exit_int_info;       // 0x088
    u64 np_control;          // 0x090
    u64 avic_apic_bar;       // 0x098
    u64 ghcb_pa;             // 0x0a0
    u64 event_inject;        // 0x0a8
    u64 nested_cr3;          // 0x0b0
    u64 virtualization_ext;  // 0x0b8
    u32 clean_bits;          // 0x0c0
    u32 reserved2;
    u64 next_rip;      // 0x0c8 (never written under QEMU TCG)
    u8 bytes_fetched;  // 0x0d0
    u8 guest_instruction_bytes[15];
    u8 reserved3[0x400 - 0x0e0];
};

struct __attribute__((packed)) VmcbStateSaveArea {
    VmcbSegment es, cs, ss, ds, fs, gs;  // 0x400..0x45f
    VmcbSegment gdtr, ldtr, idtr, tr;    // 0x460..0x49f
    u8 reserved0[0x4cb - 0x4a0];
    u8 cpl;  // 0x4cb
    u32 reserved1;
    u64 efer;  // 0x4d0
    u8 reserved2[0x548 - 0x4d8];
    u64 cr4;     // 0x548
    u64 cr3;     // 0x550
    u64 cr0;     // 0x558
    u64 dr7;     // 0x560
    u64 dr6;     // 0x568
    u64 rflags;  // 0x570
    u64 rip;     // 0x578
    u8 reserved3[0x5d8 - 0x580];
    u64 rsp;  // 0x5d8
    u8 reserved4[0x5f8 - 0x5e0];
    u64 rax;             // 0x5f8
    u64 star;            // 0x600
    u64 lstar;           // 0x608
    u64 cstar;           // 0x610
    u64 sfmask;          // 0x618
    u64 kernel_gs_base;  // 0x620
    u64 sysenter_cs;     // 0x628
    u64 sysenter_esp;    // 0x630
    u64 sysenter_eip;    // 0x638
    u64 cr2;             // 0x640
    u8 reserved5[0x668 - 0x648];
    u64 g_pat;   // 0x668
    u64 dbgctl;  // 0x670
    u8 reserved6[0x1000 - 0x678];
};

struct __attribute__((packed)) Vmcb {
    VmcbControlArea control;
    VmcbStateSaveArea save;
};

static_assert(sizeof(Vmcb) == 0x1000);  // exactly one 4 KiB page
static_assert(offsetof(VmcbControlArea, iopm_base_pa) == 0x040);
static_assert(offsetof(VmcbControlArea, guest_asid) == 0x058);
static_assert(offsetof(VmcbControlArea, exit_code) == 0x070);
static_assert(offsetof(VmcbControlArea, event_inject) == 0x0a8);
static_assert(offsetof(VmcbControlArea, nested_cr3) == 0x0b0);
static_assert(offsetof(VmcbControlArea, next_rip) == 0x0c8);
static_assert(offsetof(Vmcb, save) == 0x400);
static_assert(offsetof(Vmcb, save.cpl) == 0x4cb);
static_assert(offsetof(Vmcb, save.efer) == 0x4d0);
static_assert(offsetof(Vmcb, save.cr4) == 0x548);
static_assert(offsetof(Vmcb, save.rflags) == 0x570);
static_assert(offsetof(Vmcb, save.rip) == 0x578);
static_assert(offsetof(Vmcb, save.rsp) == 0x5d8);
static_assert(offsetof(Vmcb, save.rax) == 0x5f8);
static_assert(offsetof(Vmcb, save.cr2) == 0x640);
static_assert(offsetof(Vmcb, save.g_pat) == 0x668);

}  // namespace svm
