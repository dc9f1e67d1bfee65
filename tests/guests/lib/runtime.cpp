#include <stdarg.h>

#include "tests/guests/lib/guest.hpp"

int g_failures = 0;
bool (*g_exception_hook)(uint32_t vector, uint32_t& eip, uint32_t& eflags) = nullptr;
volatile uint32_t g_exception_error_code = 0;
bool g_intel = false;
volatile uint32_t interrupt_count[2];

namespace {

constexpr uint16_t kCom1 = 0x3f8;

struct TrapFrame {  // pushal order, then the stub's pushes, then the CPU's
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error_code;
    uint32_t eip, cs, eflags;
};

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint32_t base;
};

uint64_t g_gdt[3] = {0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull};
uint64_t g_idt[256];
volatile bool g_fault_expected = false;
volatile int g_fault_vector = -1;
volatile uint32_t g_fault_skip = 2;  // bytes of the instruction expected to fault

extern "C" char trap_stub_0[], trap_stub_1[], trap_stub_2[], trap_stub_3[], trap_stub_4[], trap_stub_5[], trap_stub_6[],
    trap_stub_7[], trap_stub_8[], trap_stub_9[], trap_stub_10[], trap_stub_11[], trap_stub_12[], trap_stub_13[],
    trap_stub_14[], trap_stub_15[], trap_stub_16[], trap_stub_17[], trap_stub_18[], trap_stub_19[], trap_stub_20[],
    trap_stub_21[], trap_stub_22[], trap_stub_23[], trap_stub_24[], trap_stub_25[], trap_stub_26[], trap_stub_27[],
    trap_stub_28[], trap_stub_29[], trap_stub_30[], trap_stub_31[], trap_stub_64[], trap_stub_65[];
char* const kStubs[32] = {
    trap_stub_0,  trap_stub_1,  trap_stub_2,  trap_stub_3,  trap_stub_4,  trap_stub_5,  trap_stub_6,  trap_stub_7,
    trap_stub_8,  trap_stub_9,  trap_stub_10, trap_stub_11, trap_stub_12, trap_stub_13, trap_stub_14, trap_stub_15,
    trap_stub_16, trap_stub_17, trap_stub_18, trap_stub_19, trap_stub_20, trap_stub_21, trap_stub_22, trap_stub_23,
    trap_stub_24, trap_stub_25, trap_stub_26, trap_stub_27, trap_stub_28, trap_stub_29, trap_stub_30, trap_stub_31};

uint64_t gate(const char* handler) {  // 32-bit interrupt gate, selector 0x08, DPL 0
    const uint32_t h = uint32_t(reinterpret_cast<uintptr_t>(handler));
    return (uint64_t(h & 0xffff0000u) << 32) | (uint64_t(0x8e00) << 32) | (0x08u << 16) | (h & 0xffff);
}

void put_char(char c) {
    for (int i = 0; i < 100000 && !(inb(kCom1 + 5) & 0x20); ++i) {
    }
    outb(kCom1, uint8_t(c));
}

void put_string(const char* s) {
    while (*s) put_char(*s++);
}

void put_unsigned(uint64_t v, unsigned base, int width, char pad) {
    char digits[24];
    int n = 0;
    do {
        const unsigned d = divide_in_place(v, base);
        digits[n++] = char(d < 10 ? '0' + d : 'a' + d - 10);
    } while (v);
    while (n < width--) put_char(pad);
    while (n) put_char(digits[--n]);
}

}  // namespace

// v / base and v % base with 32-bit arithmetic only (a 32-bit freestanding guest has no
// libgcc for 64-bit division): long division over four 16-bit parts.
unsigned divide_in_place(uint64_t& v, unsigned base) {
    uint32_t remainder = 0;
    uint64_t quotient = 0;
    for (int shift = 48; shift >= 0; shift -= 16) {
        const uint32_t current = (remainder << 16) | uint32_t((v >> shift) & 0xffff);
        quotient |= uint64_t(current / base) << shift;
        remainder = current % base;
    }
    v = quotient;
    return remainder;
}

extern "C" void runtime_init() {
    const Cpuid vendor = cpuid(0);
    g_intel = vendor.ebx == 0x756e6547 && vendor.edx == 0x49656e69 && vendor.ecx == 0x6c65746e;  // GenuineIntel
    const DescriptorPointer gdt{sizeof(g_gdt) - 1, uint32_t(reinterpret_cast<uintptr_t>(g_gdt))};
    asm volatile(
        "lgdt %0\n"
        "ljmp $0x08, $1f\n"
        "1: movw $0x10, %%ax\n"
        "movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n movw %%ax, %%fs\n movw %%ax, %%gs\n" ::"m"(gdt)
        : "eax", "memory");
    for (int v = 0; v < 32; ++v) g_idt[v] = gate(kStubs[v]);
    g_idt[64] = gate(trap_stub_64);
    g_idt[65] = gate(trap_stub_65);
    const DescriptorPointer idt{sizeof(g_idt) - 1, uint32_t(reinterpret_cast<uintptr_t>(g_idt))};
    asm volatile("lidt %0" ::"m"(idt));
}

extern "C" void trap_handler(TrapFrame* f) {
    if (f->vector == 64 || f->vector == 65) {
        interrupt_count[f->vector - 64] = interrupt_count[f->vector - 64] + 1;
        return;
    }
    g_exception_error_code = f->error_code;
    if (g_exception_hook && g_exception_hook(f->vector, f->eip, f->eflags)) return;
    if (g_fault_expected) {
        // try_*: note the vector and step over the instruction (RDMSR/WRMSR 2 bytes,
        // XSETBV 3).
        g_fault_vector = int(f->vector);
        g_fault_expected = false;
        f->eip += g_fault_skip;
        return;
    }
    print("unexpected exception %u (error %#x) at eip %#x\n", f->vector, f->error_code, f->eip);
    print("RESULT: FAIL (exception)\n");
    guest_exit(99);
}

extern "C" void guest_exit(int code) {
    outl(0xf4, uint32_t(code));
    for (;;) asm volatile("cli; hlt");
}

void print(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            put_char(*p);
            continue;
        }
        ++p;
        bool alternate = false;
        char pad = ' ';
        int width = 0;
        if (*p == '#') alternate = true, ++p;
        if (*p == '0') pad = '0', ++p;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        bool wide = false;
        if (*p == 'l' && p[1] == 'l') wide = true, p += 2;
        switch (*p) {
            case 's': put_string(va_arg(args, const char*)); break;
            case 'c': put_char(char(va_arg(args, int))); break;
            case 'd': {
                const int64_t v = wide ? va_arg(args, int64_t) : va_arg(args, int);
                if (v < 0) put_char('-');
                put_unsigned(uint64_t(v < 0 ? -v : v), 10, width, pad);
                break;
            }
            case 'u': put_unsigned(wide ? va_arg(args, uint64_t) : va_arg(args, unsigned), 10, width, pad); break;
            case 'x':
                if (alternate) put_string("0x");
                put_unsigned(wide ? va_arg(args, uint64_t) : va_arg(args, unsigned), 16, width, pad);
                break;
            default: put_char(*p); break;
        }
    }
    va_end(args);
}

int try_xsetbv(uint32_t index, uint64_t value) {
    g_fault_vector = -1;
    g_fault_skip = 3;
    g_fault_expected = true;
    asm volatile("xsetbv" ::"c"(index), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
    g_fault_expected = false;
    g_fault_skip = 2;
    return g_fault_vector;
}

uint64_t xgetbv() {
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t(hi) << 32) | lo;
}

void enable_osxsave() {
    uint32_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1u << 18)));
}

int try_instruction(void (*run)(), uint32_t length) {
    g_fault_vector = -1;
    g_fault_skip = length;
    g_fault_expected = true;
    run();
    g_fault_expected = false;
    g_fault_skip = 2;
    return g_fault_vector;
}

int try_rdmsr(uint32_t msr, uint64_t& value) {
    uint32_t lo = 0, hi = 0;
    g_fault_vector = -1;
    g_fault_expected = true;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
    g_fault_expected = false;
    value = (uint64_t(hi) << 32) | lo;
    return g_fault_vector;
}

int try_wrmsr(uint32_t msr, uint64_t value) {
    g_fault_vector = -1;
    g_fault_expected = true;
    asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
    g_fault_expected = false;
    return g_fault_vector;
}

void enable_sse() {
    uint32_t cr0, cr4;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %0, %%cr0" ::"r"((cr0 | 0x22) & ~0x4u));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" ::"r"(cr4 | 0x600));
}

void enable_interrupts() { asm volatile("sti" ::: "memory"); }
void disable_interrupts() { asm volatile("cli" ::: "memory"); }

int finish(const char* test_name) {
    if (g_failures == 0)
        print("RESULT: PASS %s\n", test_name);
    else
        print("RESULT: FAIL %s (%d checks failed)\n", test_name, g_failures);
    return g_failures ? 1 : 0;
}

extern "C" void* memset(void* d, int c, size_t n) {
    auto* p = static_cast<uint8_t*>(d);
    while (n--) *p++ = uint8_t(c);
    return d;
}

extern "C" void* memcpy(void* d, const void* s, size_t n) {
    auto* p = static_cast<uint8_t*>(d);
    const auto* q = static_cast<const uint8_t*>(s);
    while (n--) *p++ = *q++;
    return d;
}
