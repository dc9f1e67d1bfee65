// xm create's domain builder, as libxc's is on Xen: it makes an empty domain through the
// control calls, lays the Linux kernel, its initrd, the ACPI tables and the boot
// structures into the domain's memory with the same firmware code the hypervisor's own
// loader uses (kernel/vm/firmware/linux_domain_builder.hpp), through domain_memory_write,
// sets vCPU 0's entry state, and lets the domain run.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"
#include "dom0/xm/cpuid_features.hpp"
#include "dom0/xm/xl_config.hpp"

namespace xm {

struct BuiltDomain {
    uint32_t id = 0;
    uint64_t kernel_gpa = 0, initrd_gpa = 0, initrd_size = 0;
    uint16_t protocol_version = 0;
};

// Creates, builds and (unless config.start_paused) unpauses the domain `config` describes
// from the kernel and initrd bytes given, its vCPUs pinned to config.cpu_mask's CPUs. On
// failure nothing is left behind (the half-made domain is destroyed) and `error` says why
// in a user's words.
bool create_linux_domain(ControlClient& control, const XlConfig& config, const std::vector<uint8_t>& kernel,
                         const std::vector<uint8_t>& initrd, BuiltDomain& out, std::string& error);

// The config's settings of a created domain's vCPUs: cpus= and cpus_soft= (affinity),
// cpu_weight= and cap= (its credit). False with `error`; the caller destroys the domain.
bool apply_domain_settings(ControlClient& control, const XlConfig& config, uint32_t id, uint32_t host_cpus,
                           std::string& error);

// The domain_create flags beyond the virtual PC that `config` asks for: a migratable
// CPUID (cpuid = 'migratable').
uint32_t config_create_flags(const XlConfig& config);

// The domain's CPUID feature leaves as its vCPU 0 sees them at reset (domain_cpuid);
// false with `error`.
bool read_domain_cpuid(ControlClient& control, uint32_t id, CpuidSnapshot& out, std::string& error);

}  // namespace xm
