// What `xm info` shows about the machine (the host_info call, hypercall_abi.hpp's
// HostInfo): the facts boot learns (the command line, which extensions Vireo drives), and
// the state now (memory, uptime).
#pragma once

#include "kernel/virtualization_support.hpp"
#include "kernel/vm/hypercall_abi.hpp"

// At boot, once: `command_line` stays valid for the hypervisor's life.
void host_info_record_boot(const char* command_line, VirtualizationVendor vendor);
void host_info_fill(hypercall::HostInfo& info);
