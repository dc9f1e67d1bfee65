// Domain configuration files in xl's syntax (xl.cfg(5)): one `key = value` per line
// (or separated by `;`), values "quoted" or 'quoted' strings, numbers, or [lists];
// `#` starts a comment. The keys xm create takes are below; any other key, a bad value
// or a missing required key is an error that names the line and says why. Pure;
// host-tested (tests/unit/xl_config_test.cpp).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace xm {

enum class EndAction { Destroy, Restart, Preserve };

// `cpuid`: what CPUID shows the domain. Host (the default): every feature of this CPU that
// Vireo offers guests. Migratable: only those AMD and Intel both define
// (docs/hypercalls.md, "CPUID"), so that a save restores on the other vendor's CPU.
enum class CpuidMode { Host, Migratable };

// One entry of `disk = [...]` (xl-disk-configuration(5)): comma-separated KEY=VALUE
// (target, format, vdev, access), or xm's older positional "[format:]target,vdev,access"
// ("file:/images/a.img,xvda,w"). The device model gives each disk to the domU as a virtio
// block device, in the order listed (vda, vdb, ...).
struct DiskSpec {
    std::string target;          // a file or a block device in Domain-0
    std::string format = "raw";  // raw or qcow2
    std::string vdev;            // the name xl would give it (xvda): kept for xm's output
    bool read_only = false;      // access=ro (r)
};
// Parses one disk entry; false with a sentence in `error`.
bool parse_disk_spec(const std::string& text, DiskSpec& out, std::string& error);

// One entry of `vif = [...]` (xl-network-configuration(5)): comma-separated KEY=VALUE,
// of which bridge and mac are used (type and model are accepted: every NIC is a virtio
// one). The device model gives each a tap device vif<domid>.<n> on the bridge.
struct VifSpec {
    std::string bridge = "xenbr0";
    uint8_t mac[6] = {};
    bool has_mac = false;  // else one is made from Xen's OUI 00:16:3e
};
bool parse_vif_spec(const std::string& text, VifSpec& out, std::string& error);

struct XlConfig {
    std::string name;
    uint64_t memory_mib = 0;  // required
    uint64_t maxmem_mib = 0;  // 0: the same as memory
    uint32_t vcpus = 1;
    std::string cpus;            // hard affinity, as written ("0-3,5"); empty: all
    uint64_t cpu_mask = 0;       // the same as a mask (bit n: CPU n); 0: all
    std::string cpus_soft;       // soft affinity (the CPUs its vCPUs prefer), as written
    uint64_t soft_cpu_mask = 0;  // as a mask; 0: all
    // The credit scheduler's share (xl.cfg(5) cpu_weight and cap; xm sched-credit): 0 for
    // a weight not given (256, the hypervisor's default); cap in percent of one CPU, 0: none.
    uint32_t cpu_weight = 0;
    uint32_t cap_percent = 0;
    std::string kernel;
    std::string ramdisk;
    std::string cmdline;  // `cmdline`, or `root` and `extra` put together as xl does
    EndAction on_poweroff = EndAction::Destroy;
    EndAction on_reboot = EndAction::Restart;
    EndAction on_crash = EndAction::Destroy;
    std::vector<DiskSpec> disks;
    std::vector<VifSpec> vifs;
    // Migratable by default: every domain xm makes may be saved and moved, to either
    // vendor's CPU; 'host' gives one vendor's own features too, for a domain that stays.
    CpuidMode cpuid = CpuidMode::Migratable;
    bool start_paused = false;  // xm create -p, not a config key
};

// Parses `text` (from `source`, named in errors as "source:line: ..."). False with a
// sentence in `error`; `out` is only meaningful on success.
bool parse_xl_config(const std::string& text, const std::string& source, XlConfig& out, std::string& error);

// The same for KEY=VALUE settings given after the file on xm create's command line
// (they override the file's).
bool parse_xl_config_with_overrides(const std::string& text, const std::string& source, int override_count,
                                    char* const* overrides, XlConfig& out, std::string& error);

const char* end_action_name(EndAction action);
const char* cpuid_mode_name(CpuidMode mode);

// `config` as a config file that parse_xl_config reads back into the same settings
// (xl_config_format.cpp): what xm records of each domain it builds, for xm save and the
// domain's restarts. False with `error` for a value the syntax cannot carry (a string
// with both kinds of quotes).
bool format_xl_config(const XlConfig& config, std::string& out, std::string& error);

// A CPU list as xl takes it (xl.cfg(5) "cpus", xl vcpu-pin): "all", or comma-separated
// CPUs and ranges ("0-3,5"), where "^N" (or "^N-M") takes CPUs out again. CPUs 0-63. The
// mask (bit n: CPU n) is all ones for "all"; false with a sentence in `error`.
bool parse_cpu_list(const std::string& text, uint64_t& mask, std::string& error);

}  // namespace xm
