// xm's commands that look at the host and its domains: info, list, vcpu-list, vcpu-pin,
// sched-credit, uptime, dmesg and top.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "dom0/xm/xl_config.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;

namespace {

bool host_info(ControlClient& control, HostInfo& info, std::string& error) {
    const int64_t result = control.call_with_buffer(kHostInfo, 0, &info, sizeof(info));
    if (result == 0) return true;
    error = "cannot get the host's information: " + error_text(result);
    return false;
}

}  // namespace

int cmd_info(ControlClient& control, const Args& args) {
    if (!args.empty()) return fail("info takes no arguments");
    HostInfo info;
    std::string error;
    if (!host_info(control, info, error)) return fail(error);
    utsname names{};
    uname(&names);
    fputs(info_text(info, names.nodename, names.release).c_str(), stdout);
    return 0;
}

int cmd_list(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "list", {{"--json", "json"}, {"-l", "json"}, {"--long", "json"}}, options, error))
        return fail(error);
    std::vector<DomainStatus> shown;
    if (!select_domains(control, options.rest, shown, error)) return fail(error);
    if (options.has("json")) {
        printf("%s\n", list_json(shown).c_str());
        return 0;
    }
    printf("%s\n", list_header().c_str());
    for (const DomainStatus& d : shown) printf("%s\n", list_row(d).c_str());
    return 0;
}

// vcpu-list [--exits] [DOMAIN ...]: --exits adds each vCPU's count of exits to the
// hypervisor (what tools/bench-pvio divides by the requests a domain made).
int cmd_vcpu_list(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "vcpu-list", {{"--exits", "exits"}}, options, error)) return fail(error);
    const bool exits = options.has("exits");
    std::vector<DomainStatus> shown;
    HostInfo host;
    if (!select_domains(control, options.rest, shown, error) || !host_info(control, host, error)) return fail(error);
    printf("%s\n", vcpu_list_header(exits).c_str());
    for (const DomainStatus& d : shown) {
        for (uint32_t v = 0; v < d.vcpus; ++v) {
            VcpuInfo info{};
            const int64_t result = control.call_with_buffer(kVcpuGetInfo, 2, &info, sizeof(info), d.id, v);
            if (result < 0) continue;  // gone meanwhile
            printf("%s\n", vcpu_list_row(d, v, info, host.cpus, exits).c_str());
        }
    }
    return 0;
}

namespace {

// One of vcpu-pin's CPU lists: "-" leaves that affinity as it is (xl vcpu-pin).
int pin(ControlClient& control, const DomainStatus& d, uint32_t first, uint32_t last, const std::string& cpus,
        AffinityKind kind) {
    if (cpus == "-") return 0;
    uint64_t mask = 0;
    std::string error;
    if (!parse_cpu_list(cpus, mask, error)) return fail("vcpu-pin: " + error);
    for (uint32_t v = first; v <= last; ++v) {
        const int64_t result = control.call(kVcpuSetAffinity, d.id, v, mask, kind);
        if (result == kErrorInvalid) return fail("vcpu-pin: '" + cpus + "' names no CPU of this host");
        if (result < 0) return fail("vcpu-pin " + domain_name(d) + ": " + error_text(result));
    }
    return 0;
}

}  // namespace

// vcpu-pin DOMAIN VCPU|all HARD|all|- [SOFT|all|-]: the vCPUs' hard affinity (the CPUs
// they may run on) and soft affinity (the ones they prefer), as xl vcpu-pin sets them.
int cmd_vcpu_pin(ControlClient& control, const Args& args) {
    if (args.size() != 3 && args.size() != 4) return fail("vcpu-pin takes DOMAIN VCPU|all HARD|all|- [SOFT|all|-]");
    DomainStatus d;
    std::string error;
    if (!find_domain(control, args[0], d, error)) return fail(error);
    uint32_t first = 0, last = d.vcpus - 1;
    if (args[1] != "all") {
        char* end = nullptr;
        const unsigned long v = strtoul(args[1].c_str(), &end, 10);
        if (args[1].empty() || *end || v >= d.vcpus)
            return fail("vcpu-pin: '" + args[1] + "' is not a vCPU of " + domain_name(d) + " (it has " +
                        std::to_string(d.vcpus) + ")");
        first = last = uint32_t(v);
    }
    if (const int failed = pin(control, d, first, last, args[2], kAffinityHard)) return failed;
    return args.size() == 4 ? pin(control, d, first, last, args[3], kAffinitySoft) : 0;
}

namespace {

// A whole number from `low` to `high`, or false.
bool parse_bounded(const std::string& text, uint32_t low, uint32_t high, uint32_t& out) {
    char* end = nullptr;
    const unsigned long long v = strtoull(text.c_str(), &end, 10);
    if (text.empty() || text[0] == '-' || *end || v < low || v > high) return false;
    out = uint32_t(v);
    return true;
}

bool get_share(ControlClient& control, const DomainStatus& d, SchedCredit& share, std::string& error) {
    const int64_t result =
        control.call_with_buffer(kDomainSchedCredit, 2, &share, sizeof(share), d.id, kSchedCreditGet);
    if (result == 0) return true;
    error = "sched-credit " + domain_name(d) + ": " + error_text(result);
    return false;
}

}  // namespace

// sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]]: the domains' weights and caps under the
// credit scheduler (xl sched-credit); with -w or -c, sets them for DOMAIN.
int cmd_sched_credit(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "sched-credit", {},
                       {{"-d", "domain"},
                        {"--domain", "domain"},
                        {"-w", "weight"},
                        {"--weight", "weight"},
                        {"-c", "cap"},
                        {"--cap", "cap"}},
                       options, error))
        return fail(error);
    if (!options.rest.empty()) return fail("sched-credit takes [-d DOMAIN [-w WEIGHT] [-c CAP]]");
    const bool setting = options.has_value("weight") || options.has_value("cap");
    if (!options.has_value("domain")) {
        if (setting) return fail("sched-credit: -w and -c need -d DOMAIN");
        std::vector<DomainStatus> shown;
        if (!select_domains(control, {}, shown, error)) return fail(error);
        printf("%s\n", sched_credit_header().c_str());
        for (const DomainStatus& d : shown) {
            SchedCredit share{};
            if (!get_share(control, d, share, error)) continue;  // gone meanwhile
            printf("%s\n", sched_credit_row(d, share).c_str());
        }
        return 0;
    }
    DomainStatus d;
    SchedCredit share{};
    if (!find_domain(control, options.values["domain"], d, error) || !get_share(control, d, share, error))
        return fail(error);
    if (!setting) {
        printf("%s\n%s\n", sched_credit_header().c_str(), sched_credit_row(d, share).c_str());
        return 0;
    }
    if (options.has_value("weight") &&
        !parse_bounded(options.values["weight"], kSchedMinWeight, kSchedMaxWeight, share.weight))
        return fail("sched-credit: the weight must be a number from " + std::to_string(kSchedMinWeight) + " to " +
                    std::to_string(kSchedMaxWeight) + ", not '" + options.values["weight"] + "'");
    if (options.has_value("cap") && !parse_bounded(options.values["cap"], 0, 100 * d.vcpus, share.cap_percent))
        return fail("sched-credit: the cap of " + domain_name(d) + " must be a number from 0 to " +
                    std::to_string(100 * d.vcpus) + " (percent of one CPU; it has " + std::to_string(d.vcpus) +
                    " vCPU" + (d.vcpus == 1 ? "" : "s") + "), not '" + options.values["cap"] + "'");
    const int64_t result =
        control.call_with_buffer(kDomainSchedCredit, 2, &share, sizeof(share), d.id, kSchedCreditSet);
    if (result < 0) return fail("sched-credit " + domain_name(d) + ": " + error_text(result));
    return 0;
}

int cmd_uptime(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "uptime", {{"-s", "short"}}, options, error)) return fail(error);
    const bool short_form = options.has("short");
    const Args& wanted = options.rest;
    std::vector<DomainStatus> shown;
    if (!select_domains(control, wanted, shown, error)) return fail(error);
    if (!short_form) printf("%s\n", uptime_header().c_str());
    for (const DomainStatus& d : shown) {
        if (short_form) {
            const time_t now = time(nullptr);
            char clock[16];
            strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
            printf("%s up %s, %s (%u)\n", clock, uptime_text(d.uptime_us / 1000000).c_str(), domain_name(d).c_str(),
                   d.id);
        } else {
            printf("%s\n", uptime_row(d).c_str());
        }
    }
    return 0;
}

// dmesg [-c]: Vireo's own log as the hypervisor still keeps it (its last 64 KiB); -c
// clears it afterwards.
int cmd_dmesg(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "dmesg", {{"-c", "clear"}, {"--clear", "clear"}}, options, error)) return fail(error);
    if (!options.rest.empty()) return fail("dmesg: unknown argument '" + options.rest[0] + "'");
    const bool clear = options.has("clear");
    std::vector<char> buffer(kRingReadMax);
    uint64_t position = 0;
    for (;;) {
        const int64_t n = control.call_with_buffer(kLogRead, 1, buffer.data(), uint32_t(buffer.size()), position, 0,
                                                   buffer.size(), 0);
        if (n < 0) return fail("cannot read Vireo's log: " + error_text(n));
        RingReadHeader header;
        memcpy(&header, buffer.data(), sizeof(header));
        fwrite(buffer.data() + sizeof(header), 1, size_t(n), stdout);
        position = header.first + uint64_t(n);
        if (n == 0 || position >= header.end) break;
    }
    if (clear) {
        // Only what was shown is cleared: a header-sized read with the clear flag.
        const int64_t n = control.call_with_buffer(kLogRead, 1, buffer.data(), sizeof(RingReadHeader), position, 0,
                                                   sizeof(RingReadHeader), kLogReadClear);
        if (n < 0) return fail("cannot clear Vireo's log: " + error_text(n));
    }
    return 0;
}

// top [-d SECONDS] [-i ITERATIONS]: xentop's batch mode, one frame per interval (CPU%
// over that interval); on a terminal without -i it runs until interrupted.
int cmd_top(ControlClient& control, const Args& args) {
    unsigned delay = 1, iterations = isatty(STDOUT_FILENO) ? 0 : 1;
    for (size_t i = 0; i < args.size(); ++i) {
        const bool has_value = i + 1 < args.size();
        if ((args[i] == "-d" || args[i] == "-i") && has_value) {
            char* end = nullptr;
            const unsigned long v = strtoul(args[i + 1].c_str(), &end, 10);
            if (args[i + 1].empty() || *end || v == 0 || v > 3600)
                return fail("top: " + args[i] + " takes a number from 1 to 3600");
            (args[i] == "-d" ? delay : iterations) = unsigned(v);
            ++i;
        } else {
            return fail("top: unknown argument '" + args[i] + "' (top [-d SECONDS] [-i ITERATIONS])");
        }
    }
    std::map<uint32_t, uint64_t> last_ns;
    std::vector<DomainStatus> shown;
    std::string error;
    HostInfo host;
    if (!select_domains(control, {}, shown, error) || !host_info(control, host, error)) return fail(error);
    for (const DomainStatus& d : shown) last_ns[d.id] = d.cpu_time_ns;
    for (unsigned frame = 0; iterations == 0 || frame < iterations; ++frame) {
        sleep(delay);
        if (!select_domains(control, {}, shown, error) || !host_info(control, host, error)) return fail(error);
        if (iterations == 0) printf("\033[H\033[2J");
        printf("%s\n", top_header().c_str());
        for (const DomainStatus& d : shown) {
            const auto before = last_ns.find(d.id);
            const uint64_t used = before == last_ns.end() ? 0 : d.cpu_time_ns - before->second;
            printf("%s\n", top_row(d, 100.0 * double(used) / (double(delay) * 1e9), host.total_memory_bytes).c_str());
            last_ns[d.id] = d.cpu_time_ns;
        }
        fflush(stdout);
    }
    return 0;
}

}  // namespace xm
