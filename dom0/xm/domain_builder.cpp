#include "dom0/xm/domain_builder.hpp"

#include <stdio.h>
#include <string.h>

#include "dom0/xm/foreign_memory.hpp"
#include "dom0/xm/xm_format.hpp"
#include "kernel/vcpu/boot_state.hpp"
#include "kernel/vcpu/vcpu_state_codec.hpp"
#include "kernel/vm/firmware/linux_domain_builder.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

using namespace hypercall;

bool apply_domain_settings(ControlClient& control, const XlConfig& config, uint32_t id, uint32_t host_cpus,
                           std::string& error) {
    auto refuse = [&](const std::string& why) {
        error = why;
        return false;
    };
    // cpus=: every vCPU's hard affinity (xl.cfg(5)).
    for (uint32_t v = 0; config.cpu_mask && v < config.vcpus; ++v) {
        const int64_t pinned = control.call(kVcpuSetAffinity, id, v, config.cpu_mask);
        if (pinned == kErrorInvalid)
            return refuse("cpus='" + config.cpus + "' names no CPU of this host (it has " + std::to_string(host_cpus) +
                          ")");
        if (pinned < 0) return refuse("pinning its vCPUs failed: " + error_text(pinned));
    }
    // cpus_soft=: the CPUs they prefer.
    for (uint32_t v = 0; config.soft_cpu_mask && v < config.vcpus; ++v) {
        const int64_t preferred = control.call(kVcpuSetAffinity, id, v, config.soft_cpu_mask, kAffinitySoft);
        if (preferred == kErrorInvalid)
            return refuse("cpus_soft='" + config.cpus_soft + "' names no CPU of this host (it has " +
                          std::to_string(host_cpus) + ")");
        if (preferred < 0) return refuse("setting its vCPUs' soft affinity failed: " + error_text(preferred));
    }
    // cpu_weight= and cap=: its share under the credit scheduler.
    if (config.cpu_weight || config.cap_percent) {
        SchedCredit share{config.cpu_weight ? config.cpu_weight : kSchedDefaultWeight, config.cap_percent};
        const int64_t set_share =
            control.call_with_buffer(kDomainSchedCredit, 2, &share, sizeof(share), id, kSchedCreditSet);
        if (set_share < 0) return refuse("setting its weight and cap failed: " + error_text(set_share));
    }
    return true;
}

uint32_t config_create_flags(const XlConfig& config) {
    return config.cpuid == CpuidMode::Migratable ? uint32_t(kCreateMigratableCpuid) : 0;
}

bool read_domain_cpuid(ControlClient& control, uint32_t id, CpuidSnapshot& out, std::string& error) {
    const struct {
        uint32_t leaf;
        CpuidRegisters* registers;
    } leaves[] = {{1, &out.leaf1}, {7, &out.leaf7}, {0x80000001, &out.ext1}};
    for (const auto& l : leaves) {
        uint32_t r[4] = {};
        const int64_t got = control.call_with_buffer(kDomainCpuid, 3, r, sizeof(r), id, l.leaf, 0, 0);
        if (got < 0) {
            char leaf[16];
            snprintf(leaf, sizeof(leaf), "%#x", l.leaf);
            error = std::string("reading its CPUID leaf ") + leaf + " failed: " + error_text(got);
            return false;
        }
        *l.registers = {r[0], r[1], r[2], r[3]};
    }
    return true;
}

bool create_linux_domain(ControlClient& control, const XlConfig& config, const std::vector<uint8_t>& kernel,
                         const std::vector<uint8_t>& initrd, BuiltDomain& out, std::string& error) {
    HostInfo host{};
    if (control.call_with_buffer(kHostInfo, 0, &host, sizeof(host)) == 0 &&
        (host.free_memory_bytes >> 20) < config.memory_mib) {
        error = "not enough free memory: " + std::to_string(config.memory_mib) + " MiB asked, " +
                std::to_string(host.free_memory_bytes >> 20) + " MiB free";
        return false;
    }
    DomainCreateArgs args{};
    strncpy(args.name, config.name.c_str(), sizeof(args.name) - 1);
    args.memory_bytes = config.memory_mib << 20;
    args.vcpus = config.vcpus;
    args.flags = kCreatePcPlatform | config_create_flags(config);
    const int64_t id = control.call_with_buffer(kDomainCreate, 0, &args, sizeof(args));
    if (id < 0) {
        error = id == kErrorExists ? "a domain named '" + config.name + "' exists already"
                : id == kErrorNoMemory
                    ? "the hypervisor has no memory for a domain of " + std::to_string(config.memory_mib) + " MiB"
                    : "cannot create the domain: " + error_text(id);
        return false;
    }
    out.id = uint32_t(id);
    auto undo = [&](const std::string& why) {
        error = "domain '" + config.name + "': " + why;
        control.call(kDomainDestroy, out.id);
        return false;
    };

    // Written straight into its RAM through foreign mappings (dom0/xm/foreign_memory.hpp).
    ForeignGuestMemory memory(control.device_fd(), out.id, config.memory_mib << 20);
    const LinuxDomainImage image{kernel.data(), kernel.size(),          initrd.empty() ? nullptr : initrd.data(),
                                 initrd.size(), config.cmdline.c_str(), config.memory_mib << 20,
                                 config.vcpus};
    GuestEntryState entry{};
    LinuxEntryState placed{};
    const char* why = nullptr;
    const bool built = build_linux_domain(memory, image, entry, placed, &why);
    memory.unmap();  // its memory is written: no window stays open on it
    if (!built) {
        if (!memory.failure().empty()) return undo(memory.failure());
        return undo(why ? why : "its kernel could not be laid out");
    }
    out.kernel_gpa = placed.kernel_gpa;
    out.initrd_gpa = placed.initrd_gpa;
    out.initrd_size = placed.initrd_size;
    out.protocol_version = placed.protocol_version;

    // vCPU 0 at the kernel's 64-bit (or an i386 kernel's 32-bit) entry; the others wait
    // for Linux's start-up IPIs.
    std::vector<uint8_t> state(vcpu_state_encoded_size());
    const usize length = vcpu_state_encode(boot_arch_state(entry), state.data(), state.size(), kBootStateParts);
    if (length == 0) return undo("its vCPU state could not be encoded");
    const int64_t set =
        control.call_with_buffer(kVcpuSetState, 2, state.data(), uint32_t(length), out.id, 0, 0, length);
    if (set < 0) return undo("setting vCPU 0's state failed: " + error_text(set));
    std::string why_not;
    if (!apply_domain_settings(control, config, out.id, host.cpus, why_not)) return undo(why_not);
    if (config.start_paused) return true;
    const int64_t run = control.call(kDomainUnpause, out.id);
    if (run < 0) return undo("it could not be started: " + error_text(run));
    return true;
}

}  // namespace xm
