// The attack suite's shared helpers (tests/guests/attack.hpp): the probe hook, interrupt
// gates for every vector, the command line and control registers.
#include "tests/guests/attack.hpp"

extern "C" volatile uint32_t g_probe_resume = 0;
extern "C" volatile uint32_t g_probe_active = 0;
volatile int g_probe_vector = -1;
volatile uint32_t g_probe_error = 0;
volatile uint32_t g_probe_fault_eip = 0;
volatile uint32_t g_other_interrupts = 0;

namespace {

constexpr uint32_t kEflagsTf = 1u << 8;

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint32_t base;
};

struct InterruptFrame;

// One handler for every vector without a runtime stub: an external interrupt (set_timer
// with a random vector) has no error code, so IRET is all it needs.
__attribute__((interrupt)) void count_interrupt(InterruptFrame*) { g_other_interrupts = g_other_interrupts + 1; }

}  // namespace

uint64_t* idt() {
    DescriptorPointer p;
    asm volatile("sidt %0" : "=m"(p));
    return reinterpret_cast<uint64_t*>(p.base);
}

bool probe_hook(uint32_t vector, uint32_t& eip, uint32_t& eflags) {
    if (!g_probe_active) return false;
    g_probe_vector = int(vector);
    g_probe_error = g_exception_error_code;
    g_probe_fault_eip = eip;
    g_probe_active = 0;
    eip = g_probe_resume;
    eflags &= ~kEflagsTf;
    return true;
}

void install_probe_hook() { g_exception_hook = probe_hook; }

void set_idt_gate(uint8_t vector, void (*handler)()) {
    const uint32_t h = uint32_t(reinterpret_cast<uintptr_t>(handler));
    idt()[vector] = (uint64_t(h & 0xffff0000u) << 32) | (uint64_t(0x8e00) << 32) | (0x08u << 16) | (h & 0xffff);
}

void install_interrupt_gates() {
    for (uint32_t v = 32; v < 256; ++v)
        if (v != 64 && v != 65) set_idt_gate(uint8_t(v), reinterpret_cast<void (*)()>(count_interrupt));
}

bool string_equal(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

void command_line_value(uint32_t info, const char* key, char* out, uint32_t size) {
    out[0] = 0;
    const uint32_t* mbi = reinterpret_cast<const uint32_t*>(info);
    if (!(mbi[0] & (1u << 2))) return;  // no command line
    const char* p = reinterpret_cast<const char*>(mbi[4]);
    while (*p) {
        while (*p == ' ') ++p;
        const char* k = key;
        const char* q = p;
        while (*k && *q == *k) ++k, ++q;
        if (!*k && *q == '=') {
            ++q;
            uint32_t n = 0;
            while (*q && *q != ' ' && n + 1 < size) out[n++] = *q++;
            out[n] = 0;
            return;
        }
        while (*p && *p != ' ') ++p;
    }
}

uint32_t read_cr0() {
    uint32_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
void write_cr0(uint32_t value) { asm volatile("mov %0, %%cr0" ::"r"(value) : "memory"); }
uint32_t read_cr4() {
    uint32_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
void write_cr4(uint32_t value) { asm volatile("mov %0, %%cr4" ::"r"(value) : "memory"); }
