// Dispatch of every interrupt and exception taken by the hypervisor itself (guest
// exits take another path). Any exception in hypervisor code is a hypervisor bug:
// it panics with the full register state.
#include "kernel/idt.hpp"
#include "kernel/panic.hpp"
#include "kernel/power.hpp"
#include "kernel/trap_frame.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

const char* const kExceptionNames[32] = {"#DE divide error",
                                         "#DB debug",
                                         "NMI",
                                         "#BP breakpoint",
                                         "#OF overflow",
                                         "#BR bound range",
                                         "#UD invalid opcode",
                                         "#NM device not available",
                                         "#DF double fault",
                                         "coprocessor segment overrun",
                                         "#TS invalid TSS",
                                         "#NP segment not present",
                                         "#SS stack fault",
                                         "#GP general protection",
                                         "#PF page fault",
                                         "reserved (15)",
                                         "#MF x87 floating point",
                                         "#AC alignment check",
                                         "#MC machine check",
                                         "#XM SIMD floating point",
                                         "#VE virtualization",
                                         "#CP control protection",
                                         "reserved (22)",
                                         "reserved (23)",
                                         "reserved (24)",
                                         "reserved (25)",
                                         "reserved (26)",
                                         "reserved (27)",
                                         "#HV hypervisor injection",
                                         "#VC VMM communication",
                                         "#SX security",
                                         "reserved (31)"};

constexpr u64 kPageFaultPresent = 1 << 0, kPageFaultWrite = 1 << 1, kPageFaultUser = 1 << 2,
              kPageFaultReserved = 1 << 3, kPageFaultFetch = 1 << 4;

[[noreturn]] void exception(const TrapFrame& frame) {
    const char* name = kExceptionNames[frame.vector];
    // A stack that ran into its guard page: #PF there, or #DF when pushing the #PF's own
    // frame hit it again (the #DF runs on its own stack). CR2 names the guard page.
    if (frame.vector == 14 || frame.vector == 8) {
        char stack[48];
        const u64 cr2 = x86::read_cr2();
        if (stack_guard_name(cr2, stack, sizeof(stack)))
            panic_with_frame(frame, "stack overflow: the %s ran into its guard page (%s at rip %#llx, address %#llx)",
                             stack, name, (unsigned long long)frame.rip, (unsigned long long)cr2);
    }
    if (frame.vector == 14) {
        // SDM vol. 3, 4.7: the error code says why; CR2 holds the address.
        const u64 e = frame.error_code;
        panic_with_frame(frame, "%s at rip %#llx: %s %s of address %#llx%s%s", name, (unsigned long long)frame.rip,
                         (e & kPageFaultPresent) ? "protection violation on" : "not-present page on",
                         (e & kPageFaultFetch)   ? "instruction fetch"
                         : (e & kPageFaultWrite) ? "write"
                                                 : "read",
                         (unsigned long long)x86::read_cr2(), (e & kPageFaultUser) ? " (user mode)" : "",
                         (e & kPageFaultReserved) ? " (reserved bit set in a page-table entry)" : "");
    }
    panic_with_frame(frame, "%s at rip %#llx (error code %#llx)", name, (unsigned long long)frame.rip,
                     (unsigned long long)frame.error_code);
}

}  // namespace

extern "C" void trap_dispatch(TrapFrame* frame) {
    if (frame->vector == 2 && panic_in_progress_elsewhere()) halt_this_cpu();  // stopped by the panicking CPU
    if (frame->vector < 32) exception(*frame);
    const InterruptHandler handler = interrupt_handler(u8(frame->vector));
    if (!handler) panic_with_frame(*frame, "unexpected interrupt on vector %#llx", (unsigned long long)frame->vector);
    handler(*frame);
}
