#include "dom0/xm/domain_builder.hpp"

#include <stdio.h>
#include <string.h>

#include "dom0/xm/xm_format.hpp"
#include "kernel/vcpu/boot_state.hpp"
#include "kernel/vcpu/vcpu_state_codec.hpp"
#include "kernel/vm/firmware/linux_domain_builder.hpp"
#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

using namespace hypercall;

namespace {

// The domain's guest-physical memory as the firmware code sees it, reached through
// domain_memory_read/write (64 KiB per call at most).
class HypercallGuestMemory final : public GuestPhysicalMemory {
public:
    HypercallGuestMemory(ControlClient& control, uint32_t id) : control_(control), id_(id) {}

    bool read(u64 gpa, void* dst, usize len) override { return copy(kDomainMemoryRead, gpa, dst, len); }
    // Through a copy: /dev/vireo copies the buffer back after the call, and `src` may be
    // read-only (the firmware's table templates).
    bool write(u64 gpa, const void* src, usize len) override {
        scratch_.assign(static_cast<const uint8_t*>(src), static_cast<const uint8_t*>(src) + len);
        return copy(kDomainMemoryWrite, gpa, scratch_.data(), len);
    }
    // The builder never needs it (only the guest page walker does).
    bool compare_exchange(u64, u64, u64, usize, bool&) override { return false; }

    int64_t last_error() const { return last_error_; }
    // Where the failed copy was, for the message.
    std::string failure() const {
        char where[64];
        snprintf(where, sizeof(where), " (%zu bytes at guest-physical %#llx)", failed_length_,
                 (unsigned long long)failed_at_);
        return error_text(last_error_) + where + (control_.error().empty() ? "" : ": " + control_.error());
    }

private:
    bool copy(uint64_t call, u64 gpa, void* buffer, usize len) {
        auto* bytes = static_cast<uint8_t*>(buffer);
        while (len > 0) {
            const usize chunk = len < kMemoryCopyMax ? len : usize(kMemoryCopyMax);
            const int64_t result = control_.call_with_buffer(call, 2, bytes, uint32_t(chunk), id_, gpa, 0, chunk);
            if (result < 0) {
                last_error_ = result;
                failed_at_ = gpa;
                failed_length_ = chunk;
                return false;
            }
            gpa += chunk;
            bytes += chunk;
            len -= chunk;
        }
        return true;
    }

    ControlClient& control_;
    uint32_t id_;
    std::vector<uint8_t> scratch_;
    int64_t last_error_ = 0;
    u64 failed_at_ = 0;
    usize failed_length_ = 0;
};

}  // namespace

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
    args.flags = kCreatePcPlatform;
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

    HypercallGuestMemory memory(control, out.id);
    const LinuxDomainImage image{kernel.data(), kernel.size(),          initrd.empty() ? nullptr : initrd.data(),
                                 initrd.size(), config.cmdline.c_str(), config.memory_mib << 20,
                                 config.vcpus};
    GuestEntryState entry{};
    LinuxEntryState placed{};
    const char* why = nullptr;
    if (!build_linux_domain(memory, image, entry, placed, &why)) {
        if (memory.last_error() != 0) return undo("copying to or from its memory failed: " + memory.failure());
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
    // cpus=: every vCPU's hard affinity (xl.cfg(5)).
    for (uint32_t v = 0; config.cpu_mask && v < config.vcpus; ++v) {
        const int64_t pinned = control.call(kVcpuSetAffinity, out.id, v, config.cpu_mask);
        if (pinned == kErrorInvalid)
            return undo("cpus='" + config.cpus + "' names no CPU of this host (it has " + std::to_string(host.cpus) +
                        ")");
        if (pinned < 0) return undo("pinning its vCPUs failed: " + error_text(pinned));
    }
    if (config.start_paused) return true;
    const int64_t run = control.call(kDomainUnpause, out.id);
    if (run < 0) return undo("it could not be started: " + error_text(run));
    return true;
}

}  // namespace xm
