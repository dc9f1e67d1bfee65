#include "kernel/panic.hpp"

#include <stdarg.h>
#include <stdio.h>

#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/percpu.hpp"
#include "kernel/power.hpp"
#include "kernel/symbols.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

extern "C" const u8 __data_start[], __data_end[];

namespace {

constexpr u32 kNoCpu = ~0u;
u32 g_panicking_cpu = kNoCpu;  // the one CPU that reports
void (*g_stop_others)() = nullptr;

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void print(const char* fmt, ...) {
    char line[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof(line), fmt, args);
    va_end(args);
    console_write_panic(line);
}

void print_location(u32 depth, u64 address) {
    const SymbolMatch match = kernel_symbol(address);
    if (match.name)
        print("  #%-2u 0x%016llx %s+0x%llx\n", depth, (unsigned long long)address, match.name,
              (unsigned long long)match.offset);
    else
        print("  #%-2u 0x%016llx ?\n", depth, (unsigned long long)address);
}

// Only frame pointers into memory that holds stacks are followed (the image's data,
// where the boot stack is, and mapped RAM in the direct map), so a corrupt chain ends
// the backtrace instead of faulting inside the panic.
bool plausible_frame(u64 rbp) {
    if (rbp & 7) return false;
    const u64 data_start = reinterpret_cast<u64>(__data_start), data_end = reinterpret_cast<u64>(__data_end);
    if (rbp >= data_start && rbp + 16 <= data_end) return true;
    return rbp >= kDirectMapBase && rbp + 16 <= kDirectMapBase + direct_map_ram_end();
}

void print_backtrace(u64 rbp) {
    print("backtrace:\n");
    for (u32 depth = 0; depth < 32 && plausible_frame(rbp); ++depth) {
        const u64* frame = reinterpret_cast<const u64*>(rbp);
        const u64 return_address = frame[1];
        if (return_address == 0) break;
        // The return address points after the call; -1 names the calling line.
        print_location(depth, return_address - 1);
        if (frame[0] <= rbp) break;  // stacks grow down: callers are at higher addresses
        rbp = frame[0];
    }
}

void print_control_registers() {
    print("  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n", (unsigned long long)x86::read_cr0(),
          (unsigned long long)x86::read_cr2(), (unsigned long long)x86::read_cr3(),
          (unsigned long long)x86::read_cr4());
}

[[noreturn]] void begin_and_finish(const TrapFrame* frame, const char* fmt, va_list args) {
    x86::cli();
    const u32 cpu = this_cpu_index();
    u32 expected = kNoCpu;
    if (!__atomic_compare_exchange_n(&g_panicking_cpu, &expected, cpu, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (expected == cpu) {
            // A fault inside the panic path itself: end it as the panic would have.
            console_write_panic("\n*** VIREO PANIC: another fault while reporting a panic; halting\n");
            halt_machine(HaltReason::Panic);
        }
        halt_this_cpu();  // another CPU reports
    }
    if (g_stop_others) g_stop_others();

    char message[256];
    vsnprintf(message, sizeof(message), fmt, args);
    print("\n*** VIREO PANIC on cpu%u: %s\n", cpu, message);
    if (frame) {
        print_location(0, frame->rip);
        print("  rip=%016llx cs=%04llx rflags=%016llx error=%llx\n", (unsigned long long)frame->rip,
              (unsigned long long)frame->cs, (unsigned long long)frame->rflags, (unsigned long long)frame->error_code);
        print("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n", (unsigned long long)frame->rax,
              (unsigned long long)frame->rbx, (unsigned long long)frame->rcx, (unsigned long long)frame->rdx);
        print("  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n", (unsigned long long)frame->rsi,
              (unsigned long long)frame->rdi, (unsigned long long)frame->rbp, (unsigned long long)frame->rsp);
        print("  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n", (unsigned long long)frame->r8,
              (unsigned long long)frame->r9, (unsigned long long)frame->r10, (unsigned long long)frame->r11);
        print("  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n", (unsigned long long)frame->r12,
              (unsigned long long)frame->r13, (unsigned long long)frame->r14, (unsigned long long)frame->r15);
        print_control_registers();
        print_backtrace(frame->rbp);
    } else {
        u64 rsp, rbp;
        asm volatile("movq %%rsp, %0; movq %%rbp, %1" : "=r"(rsp), "=r"(rbp));
        print("  rsp=%016llx rbp=%016llx rflags=%016llx\n", (unsigned long long)rsp, (unsigned long long)rbp,
              (unsigned long long)x86::read_rflags());
        print_control_registers();
        print_backtrace(rbp);
    }
    print("vireo: hypervisor halted after a panic on cpu%u; all CPUs stopped\n", cpu);
    halt_machine(HaltReason::Panic);
}

}  // namespace

bool panic_in_progress() { return __atomic_load_n(&g_panicking_cpu, __ATOMIC_ACQUIRE) != kNoCpu; }

bool panic_in_progress_elsewhere() {
    const u32 cpu = __atomic_load_n(&g_panicking_cpu, __ATOMIC_ACQUIRE);
    return cpu != kNoCpu && cpu != this_cpu_index();
}

void panic_set_stop_others(void (*stop_others)()) { g_stop_others = stop_others; }

void panic(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    begin_and_finish(nullptr, fmt, args);
}

void panic_with_frame(const TrapFrame& frame, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    begin_and_finish(&frame, fmt, args);
}
