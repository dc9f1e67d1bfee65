// The vendor-neutral exit event. svm/ and vmx/ translate their exits (a #VMEXIT code
// with EXITINFO, or a VMX exit reason with its qualification) into one of these; the
// handlers in kernel/vm/ are written once against it.
#pragma once

#include "kernel/types.hpp"

enum class ExitKind : u8 {
    Cpuid,
    MsrRead,
    MsrWrite,
    Io,
    Hlt,
    Hypercall,
    NestedPageFault,
    TripleFault,
    InvalidGuestState,
    PhysicalInterrupt,  // a host interrupt arrived while the guest ran; already serviced
    InterruptWindow,
    Exception,                  // an intercepted guest exception
    VirtualizationInstruction,  // VMRUN, VMXON, ...: the extensions are hidden from guests
    Xsetbv,                     // XSAVE is hidden from guests
    Cr8Access,                  // MOV to or from CR8 (VMX; SVM keeps CR8 in V_TPR)
    CacheFlush,                 // INVD or WBINVD: handled alike (INVD runs as WBINVD)
    MonitorMwait,               // MONITOR or MWAIT: hidden from guests (CPUID.1:ECX.MONITOR = 0)
    ControlRegisterWrite,       // MOV to CR0 or CR4, CLTS, LMSW (kernel/vm/control_register_writes.cpp)
    Rdpmc,                      // guests have no performance counters (CPUID leaf 0xA absent)
    Rdtsc,                      // intercepted only to scale the guest's TSC in software (SVM)
    Rdtscp,                     // hidden from guests (CPUID 8000_0001h EDX bit 27 = 0)
    TaskSwitch,                 // a hardware task switch (protected mode only): not emulated
    Unhandled,                  // an exit the backend knows but no generic handler takes
    Count,
};

const char* exit_kind_name(ExitKind kind);

struct IoExit {
    u16 port;
    u8 size;  // 1, 2 or 4
    bool in;
    bool string;  // INS/OUTS
    bool rep;
    u64 next_rip;  // SVM gives it (EXITINFO2); VMX: rip + instruction length
};

struct NestedPageFaultExit {
    u64 gpa;
    bool read, write, fetch;
    bool present;      // the nested entry was present: a permission fault
    bool during_walk;  // while walking the guest's own page tables
};

struct Cr8Exit {
    bool write;    // MOV CR8, reg
    bool decoded;  // the hardware told the register (VMX); otherwise the handler decodes (SVM)
    u8 gpr;        // the general register (x86 encoding number)
};

enum class CrAccessForm : u8 { MovToCr, MovFromCr, Clts, Lmsw };

struct CrWriteExit {
    u8 cr;  // 0 or 4
    // Whether the hardware told the form and its operand (VMX's exit qualification,
    // SDM vol. 3C table 28-3); otherwise the handler decodes the instruction (SVM
    // without decode assists, as under QEMU's TCG).
    bool decoded;
    CrAccessForm form;
    u8 gpr;           // MovToCr: the source register (x86 encoding number)
    u16 lmsw_source;  // Lmsw: the 16-bit operand
};

// What started a hardware task switch (SDM vol. 3A 8.3): VT-x always exits on one (SDM
// vol. 3C 26.4.2), AMD-V on its intercept (APM vol. 2 15.14.3).
enum class TaskSwitchSource : u8 { Call, Iret, Jmp, Gate };

struct TaskSwitchExit {
    u16 selector;  // the new task's TSS
    TaskSwitchSource source;
};

// VMMCALL/VMCALL: what the hypercall ABI depends on (docs/hypercalls.md), read by the
// backend with the exit.
struct HypercallExit {
    u8 cpl;
    bool long_mode;  // 64-bit mode: 64-bit arguments and result
};

struct VmExit {
    ExitKind kind = ExitKind::Unhandled;
    u64 raw_reason = 0;  // the backend's own code, for logs
    // The intercepted instruction's length when the hardware tells it (VMX for every
    // instruction exit, SDM vol. 3C 28.2.5; SVM with NRIP save, APM vol. 2 15.7.1); 0
    // when it does not, and the handlers decode the instruction from guest memory.
    u8 instruction_length = 0;
    union {
        IoExit io;
        NestedPageFaultExit npf;
        Cr8Exit cr8;
        CrWriteExit cr_write;
        TaskSwitchExit task_switch;
        HypercallExit hypercall;
        u8 exception_vector;
    };
    VmExit() : io{} {}
};
