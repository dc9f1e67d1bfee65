#include "kernel/control/host_info.hpp"

#include <string.h>

#include "kernel/percpu.hpp"
#include "kernel/time.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

const char* g_command_line = "";
VirtualizationVendor g_vendor = VirtualizationVendor::None;

// The processor brand string, CPUID 8000_0002h-8000_0004h (AMD APM vol. 3, E.4.3; SDM
// vol. 2A, CPUID): 48 bytes, NUL-padded, often with leading spaces (dropped here).
void brand_string(char (&out)[48]) {
    memset(out, 0, sizeof(out));
    if (x86::cpuid(0x80000000).eax < 0x80000004) return;
    char raw[49] = {};
    for (usize i = 0; i < 3; ++i) {
        const CpuidResult r = x86::cpuid(u32(0x80000002 + i));
        const u32 words[] = {r.eax, r.ebx, r.ecx, r.edx};
        memcpy(raw + 16 * i, words, sizeof(words));
    }
    const char* start = raw;
    while (*start == ' ') ++start;
    strncpy(out, start, sizeof(out) - 1);
}

}  // namespace

void host_info_record_boot(const char* command_line, VirtualizationVendor vendor) {
    g_command_line = command_line ? command_line : "";
    g_vendor = vendor;
}

void host_info_fill(hypercall::HostInfo& info) {
    info = {};
    info.cpus = percpu_online_count();
    info.virtualization =
        g_vendor == VirtualizationVendor::IntelVmx ? hypercall::kHostIntelVmx : hypercall::kHostAmdSvm;
    const MemoryStats memory = memory_stats();
    info.total_memory_bytes = memory.usable_bytes;
    info.free_memory_bytes = memory.free_bytes;
    info.uptime_us = uptime_us();
    info.tsc_hz = tsc_hz();
    info.version = hypercall::kVersionValue;
    const usize length = strlen(g_command_line);
    info.command_line_length = u32(length);
    memcpy(info.command_line, g_command_line,
           length < sizeof(info.command_line) - 1 ? length : sizeof(info.command_line) - 1);
    brand_string(info.cpu_model);
}
