// What xm save and xm migrate write (docs/save-format.md): a domain, section by section,
// into a save image's byte sink (a file, or the TCP connection of a migration), and the
// checks both make before they touch a domain.
#pragma once

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xl_config.hpp"

namespace xm {

// A domain that can be saved or migrated, with the config xm recorded for it, as text.
struct SaveableDomain {
    hypercall::DomainStatus status{};
    XlConfig config;
    std::string config_text;
    bool has_device_model = false;  // disks or NICs: vireo-dm serves them
};

// Finds the domain `spec` names and checks that it can be saved: not Domain-0, not ended,
// xm's record of its config at hand, no memory in its balloon. 0 with `out` filled, or the
// exit status of the failure (said on stderr as "xm: COMMAND NAME: why").
int load_saveable_domain(ControlClient& control, const std::string& spec, const char* command, SaveableDomain& out);

// The domain's RAM as domain_memory_read copies it, 1 MiB a call: a running domain's
// pages, read without a mapping, which a dirty log would count as written.
class CopiedGuestRam {
public:
    CopiedGuestRam(ControlClient& control, uint32_t domain) : control_(control), domain_(domain) {}
    bool read(uint64_t gpa, void* dst, size_t length);
    const std::string& failure() const { return failure_; }

private:
    ControlClient& control_;
    uint32_t domain_;
    std::string failure_;
};

// Writes the sections of one domain; each call false with error() at the first failure.
class ImageWriter {
public:
    ImageWriter(ControlClient& control, const hypercall::DomainStatus& d, FdSink& out)
        : control_(control), d_(d), out_(out), ram_(control, d.id) {}

    bool header();
    bool config(const std::string& text);
    // With domain_create's flags as xm made the domain (domain_builder.cpp: always with a
    // virtual PC), for a restore to make it so again.
    bool domain(const XlConfig& config);
    // The CPU features the domain was given (cpuid_features.hpp), for a restore to check
    // its host against.
    bool cpuid();
    bool vcpus();
    // The virtual PC's devices' state, read now (the domain is paused).
    bool platform();
    bool devices(const std::vector<uint8_t>& blob);
    // All its RAM, in order, in chunks of 2 MiB (memory sections); progress on a terminal
    // every 64 MiB, under `what` ("save NAME").
    bool memory(const std::string& what);
    // The pages whose bits are set in `bitmap` (one bit per guest-physical page, as the
    // dirty log gives them), as memory-update sections of runs of pages; `sent` counts them.
    bool memory_pages(const std::vector<uint64_t>& bitmap, uint64_t& sent);
    // The end section (it counts the pages memory() wrote), then what is buffered.
    bool end();

    // Asked after each chunk of RAM: a reason to stop (a migration's receiver that said
    // no), or empty to go on.
    void set_stop_check(std::function<std::string()> check) { stop_check_ = std::move(check); }

    uint64_t bytes() const { return out_.bytes(); }
    const std::string& error() const { return error_; }

private:
    bool section(uint32_t type, const void* payload, uint64_t length);
    bool fail_with(const std::string& why);
    // Pages [gpa, gpa + count pages) as one section of `type`.
    bool chunk(uint32_t type, uint64_t gpa, uint32_t count);

    ControlClient& control_;
    const hypercall::DomainStatus& d_;
    FdSink& out_;
    CopiedGuestRam ram_;
    std::vector<uint8_t> buffer_;
    std::function<std::string()> stop_check_;
    uint64_t pages_ = 0;
    std::string error_;
};

}  // namespace xm
